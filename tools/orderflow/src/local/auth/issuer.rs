//! The local identity provider: RSA keys kept in the state folder (so tokens it signed survive a
//! restart), the JWKS and OpenID discovery document it publishes, and RS256 tokens shaped like
//! Cognito's. Several keys can live side by side, told apart by `kid`; the newest signs.

use std::path::{Path, PathBuf};

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

use super::tokens::{self, TokenKind};

pub const AUTH_FILE: &str = "auth.json";

/// Where an OpenID provider publishes its discovery document, below its issuer URL.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Where this one publishes its keys (Cognito's path).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The size Cognito's signing keys have.
const KEY_BITS: usize = 2048;

/// The issuer URL, the client id its tokens are for, and its signing keys.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LocalIssuer {
    /// `http://127.0.0.1:<port>`: the `iss` of its tokens and where its discovery document is.
    pub issuer: String,
    /// The app client id: `aud` of its ID tokens, `client_id` of its access tokens.
    pub audience: String,
    /// Oldest first; the last one signs.
    keys: Vec<SigningKey>,
}

#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct SigningKey {
    kid: String,
    /// The private key, PKCS#8 PEM.
    pem: String,
}

impl std::fmt::Debug for LocalIssuer {
    // Never the private keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kids", &self.kids())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error(
        "{0}: no local issuer here; start the local cloud with `orderflow local up --auth` (same --state-dir) first"
    )]
    NotStarted(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("RSA key: {0}")]
    Key(String),
    #[error("no signing key with kid {0}")]
    NoKey(String),
    #[error("signing: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
}

impl SigningKey {
    fn generate() -> Result<SigningKey, IssuerError> {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, KEY_BITS)
            .map_err(|e| IssuerError::Key(e.to_string()))?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| IssuerError::Key(e.to_string()))?;
        Ok(SigningKey {
            kid: uuid::Uuid::new_v4().to_string(),
            pem: pem.to_string(),
        })
    }

    /// The key as jsonwebtoken takes it (PKCS#1 DER).
    fn encoding_key(&self) -> Result<EncodingKey, IssuerError> {
        let key = RsaPrivateKey::from_pkcs8_pem(&self.pem)
            .map_err(|e| IssuerError::Key(format!("kid {}: {e}", self.kid)))?;
        let der = key
            .to_pkcs1_der()
            .map_err(|e| IssuerError::Key(format!("kid {}: {e}", self.kid)))?;
        Ok(EncodingKey::from_rsa_der(der.as_bytes()))
    }

    /// The public half, as a JWKS lists it.
    fn jwk(&self) -> Result<Jwk, IssuerError> {
        let mut jwk = Jwk::from_encoding_key(&self.encoding_key()?, Algorithm::RS256)?;
        jwk.common.key_id = Some(self.kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(jwk)
    }
}

impl LocalIssuer {
    /// A new issuer at `issuer` for the app client `audience`, with one fresh key.
    pub fn generate(issuer: &str, audience: &str) -> Result<LocalIssuer, IssuerError> {
        Ok(LocalIssuer {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            keys: vec![SigningKey::generate()?],
        })
    }

    /// Adds a fresh key, which signs from now on (the older ones stay published); its kid.
    pub fn add_key(&mut self) -> Result<String, IssuerError> {
        let key = SigningKey::generate()?;
        let kid = key.kid.clone();
        self.keys.push(key);
        Ok(kid)
    }

    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    fn signing_key(&self) -> Result<&SigningKey, IssuerError> {
        self.keys
            .last()
            .ok_or_else(|| IssuerError::NoKey("(none)".into()))
    }

    fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(AUTH_FILE)
    }

    /// Writes the issuer where `orderflow local token` finds it (owner-only: it holds the keys).
    pub fn save(&self, state_dir: &Path) -> Result<(), IssuerError> {
        let path = LocalIssuer::path(state_dir);
        let io = |e: &dyn std::fmt::Display| IssuerError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| io(&e))?;
        std::fs::write(&path, text).map_err(|e| io(&e))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|e| io(&e))
    }

    pub fn load(state_dir: &Path) -> Result<LocalIssuer, IssuerError> {
        let path = LocalIssuer::path(state_dir);
        let text = std::fs::read_to_string(&path)
            .map_err(|_| IssuerError::NotStarted(path.display().to_string()))?;
        serde_json::from_str(&text).map_err(|e| IssuerError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The public keys, as published at [`JWKS_PATH`].
    pub fn jwks(&self) -> Result<JwkSet, IssuerError> {
        Ok(JwkSet {
            keys: self
                .keys
                .iter()
                .map(SigningKey::jwk)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The OpenID discovery document, as published at [`DISCOVERY_PATH`]: what a JWT
    /// authorizer reads (`issuer`, `jwks_uri`). It has no endpoints to sign in at: its tokens
    /// come from `orderflow local token`.
    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "jwks_uri": format!("{}{JWKS_PATH}", self.issuer.trim_end_matches('/')),
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
        })
    }

    /// `claims` signed RS256 with the newest key.
    pub fn sign(&self, claims: &Value) -> Result<String, IssuerError> {
        let key = self.signing_key()?;
        self.sign_with(&key.kid, claims)
    }

    /// `claims` signed RS256 with the key `kid`.
    pub fn sign_with(&self, kid: &str, claims: &Value) -> Result<String, IssuerError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| IssuerError::NoKey(kid.to_owned()))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding_key()?)?)
    }

    /// A token of `kind` for `subject`, valid from `now` for `ttl_seconds`.
    pub fn token_of(
        &self,
        kind: TokenKind,
        subject: &str,
        now: i64,
        ttl_seconds: i64,
    ) -> Result<String, IssuerError> {
        let claims = tokens::claims(
            kind,
            &tokens::Client {
                issuer: &self.issuer,
                client_id: &self.audience,
            },
            subject,
            now,
            ttl_seconds,
        );
        self.sign(&claims)
    }

    /// The newest key under another kid (to forge tokens that claim a trusted kid).
    #[cfg(test)]
    pub(crate) fn rename_key_for_tests(&mut self, kid: &str) -> &Self {
        if let Some(k) = self.keys.last_mut() {
            k.kid = kid.to_owned();
        }
        self
    }

    /// An access token for `subject` (what a client sends an API), valid from `now` for
    /// `ttl_seconds`.
    pub fn token(&self, subject: &str, now: i64, ttl_seconds: i64) -> Result<String, IssuerError> {
        self.token_of(TokenKind::Access, subject, now, ttl_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    const NOW: i64 = 1_800_000_000;

    fn verified(token: &str, jwks: &JwkSet) -> Value {
        let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        let key = DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .unwrap()
            .claims
    }

    #[test]
    fn its_tokens_are_rs256_with_a_kid_its_jwks_verifies() {
        let issuer = LocalIssuer::generate("http://127.0.0.1:1", "orderflow-api").unwrap();
        let token = issuer.token("cust-42", NOW, 60).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(issuer.kids()[0]));
        let claims = verified(&token, &issuer.jwks().unwrap());
        assert_eq!(claims["sub"], "cust-42");
        assert_eq!(claims["iss"], "http://127.0.0.1:1");
        assert_eq!(claims["client_id"], "orderflow-api");
        assert_eq!(claims["exp"], NOW + 60);
    }

    #[test]
    fn the_jwks_has_public_keys_only_and_an_added_key_signs_while_the_old_one_stays_published() {
        let mut issuer = LocalIssuer::generate("http://127.0.0.1:1", "orderflow-api").unwrap();
        let first = issuer.kids()[0].to_owned();
        let second = issuer.add_key().unwrap();
        let jwks = issuer.jwks().unwrap();
        let published = serde_json::to_value(&jwks).unwrap();
        let kids: Vec<&str> = published["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                assert_eq!(k["kty"], "RSA");
                assert_eq!(k["alg"], "RS256");
                assert_eq!(k["use"], "sig");
                assert!(k.get("d").is_none() && k.get("p").is_none(), "{k}");
                k["kid"].as_str().unwrap()
            })
            .collect();
        assert_eq!(kids, [first.as_str(), second.as_str()]);
        let newest = issuer.token("cust-42", NOW, 60).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&newest).unwrap().kid,
            Some(second)
        );
        let old = issuer.sign_with(&first, &json!({"sub": "cust-1"})).unwrap();
        assert_eq!(verified(&old, &jwks)["sub"], "cust-1");
    }

    #[test]
    fn the_discovery_document_names_the_issuer_and_where_its_keys_are() {
        let issuer = LocalIssuer::generate("http://127.0.0.1:9/", "a").unwrap();
        let doc = issuer.discovery();
        assert_eq!(doc["issuer"], "http://127.0.0.1:9/");
        assert_eq!(doc["jwks_uri"], "http://127.0.0.1:9/.well-known/jwks.json");
    }

    #[test]
    fn the_issuer_is_saved_owner_only_and_read_back_and_never_printed_with_its_keys() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("orderflow-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(
            LocalIssuer::load(&dir),
            Err(IssuerError::NotStarted(_))
        ));
        let issuer = LocalIssuer::generate("http://127.0.0.1:1", "orderflow-api").unwrap();
        issuer.save(&dir).unwrap();
        assert_eq!(LocalIssuer::load(&dir).unwrap(), issuer);
        let mode = std::fs::metadata(dir.join(AUTH_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{issuer:?}").contains("PRIVATE KEY"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
