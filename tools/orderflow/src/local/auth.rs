//! The local cloud's JWT authorizer (`orderflow local up --auth`): the check API Gateway's JWT
//! authorizer makes before a route's function runs — a bearer token, signed by the issuer's
//! key, for this issuer and audience, not expired — and the claims it hands the function in
//! `requestContext.authorizer.jwt.claims`.
//!
//! In AWS the issuer is your identity provider and the key is published in its JWKS (RS256).
//! Locally there is no identity provider, so the local cloud is its own issuer: it keeps a
//! random HS256 key in its state folder, and `orderflow local token CUSTOMER` signs tokens with
//! it. What the functions see is the same either way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

pub const AUTH_FILE: &str = "auth.json";

/// The issuer, audience and signing key of a local cloud started with `--auth`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LocalIssuer {
    pub issuer: String,
    pub audience: String,
    /// Hex of 32 random bytes.
    key: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("bad signature")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("wrong issuer")]
    Issuer,
    #[error("wrong audience")]
    Audience,
    #[error("no subject")]
    Subject,
}

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error(
        "{0}: no local issuer here; start the local cloud with `orderflow local up --auth` (same --state-dir) first"
    )]
    NotStarted(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

impl LocalIssuer {
    /// A fresh issuer with a random key (from the OS, through v4 UUIDs).
    pub fn generate(issuer: &str, audience: &str) -> LocalIssuer {
        let mut key = Vec::with_capacity(32);
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        LocalIssuer {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            key: hex(&key),
        }
    }

    fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(AUTH_FILE)
    }

    /// Writes the issuer where `orderflow local token` finds it (owner-only permissions).
    pub fn save(&self, state_dir: &Path) -> Result<(), IssuerError> {
        let path = LocalIssuer::path(state_dir);
        let io = |e: std::io::Error| IssuerError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| IssuerError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(io)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)
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

    fn mac(&self) -> Option<Hmac<Sha256>> {
        Hmac::<Sha256>::new_from_slice(&unhex(&self.key)?).ok()
    }

    /// A token for `subject`, valid from `now` for `ttl_seconds`.
    pub fn token(&self, subject: &str, now: i64, ttl_seconds: i64) -> String {
        let header = json!({"alg": "HS256", "typ": "JWT"});
        let claims = json!({
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now.saturating_add(ttl_seconds),
            "scope": "orders",
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .mac()
            .map(|mut mac| {
                mac.update(signing_input.as_bytes());
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            })
            .unwrap_or_default();
        format!("{signing_input}.{signature}")
    }

    /// Checks an `Authorization` header as API Gateway's JWT authorizer does; returns the
    /// claims, every value as a string (the form the function receives).
    pub fn verify(
        &self,
        authorization: Option<&str>,
        now: i64,
    ) -> Result<BTreeMap<String, String>, AuthError> {
        let header = authorization.ok_or(AuthError::Missing)?.trim();
        let token = match header.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            None if header.eq_ignore_ascii_case("bearer") => "",
            _ => header,
        };
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed("not three dot-separated parts"));
        };
        let decode = |part: &str, what: &'static str| -> Result<Value, AuthError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| AuthError::Malformed(what))?;
            serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed(what))
        };
        let head = decode(h, "header is not base64url JSON")?;
        if head.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err(AuthError::Malformed("alg is not HS256"));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| AuthError::Malformed("signature is not base64url"))?;
        let mut mac = self.mac().ok_or(AuthError::Signature)?;
        mac.update(format!("{h}.{c}").as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| AuthError::Signature)?;
        let claims = decode(c, "claims are not base64url JSON")?;
        let claims = claims
            .as_object()
            .ok_or(AuthError::Malformed("claims are not an object"))?;
        let number = |name: &str| claims.get(name).and_then(Value::as_i64);
        match number("exp") {
            Some(exp) if exp > now => {}
            _ => return Err(AuthError::Expired),
        }
        if number("nbf").is_some_and(|nbf| nbf > now) {
            return Err(AuthError::NotYetValid);
        }
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(AuthError::Issuer);
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        if !audience_ok {
            return Err(AuthError::Audience);
        }
        if claims
            .get("sub")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(AuthError::Subject);
        }
        Ok(claims
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn issuer() -> LocalIssuer {
        LocalIssuer::generate("orderflow-local", "orderflow-api")
    }

    #[test]
    fn a_token_it_signed_is_accepted_and_yields_the_subject_among_the_claims() {
        let i = issuer();
        let token = i.token("cust-42", NOW, 3600);
        let claims = i
            .verify(Some(&format!("Bearer {token}")), NOW + 10)
            .unwrap();
        assert_eq!(claims["sub"], "cust-42");
        assert_eq!(claims["iss"], "orderflow-local");
        assert_eq!(claims["exp"], (NOW + 3600).to_string());
    }

    #[test]
    fn missing_malformed_forged_and_expired_tokens_are_refused_each_for_its_reason() {
        let i = issuer();
        let good = i.token("cust-42", NOW, 60);
        assert_eq!(i.verify(None, NOW), Err(AuthError::Missing));
        assert_eq!(i.verify(Some("Bearer "), NOW), Err(AuthError::Missing));
        assert!(matches!(
            i.verify(Some("Bearer abc"), NOW),
            Err(AuthError::Malformed(_))
        ));
        let other = issuer().token("cust-42", NOW, 60);
        assert_eq!(
            i.verify(Some(&format!("Bearer {other}")), NOW),
            Err(AuthError::Signature),
            "signed with another key"
        );
        // The claims swapped for someone else's, the signature kept.
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(
            json!({"iss":"orderflow-local","aud":"orderflow-api","sub":"cust-7","exp":NOW+60})
                .to_string(),
        );
        parts[1] = &forged_claims;
        assert_eq!(
            i.verify(Some(&format!("Bearer {}", parts.join("."))), NOW),
            Err(AuthError::Signature)
        );
        assert_eq!(
            i.verify(Some(&format!("Bearer {good}")), NOW + 60),
            Err(AuthError::Expired)
        );
        assert_eq!(
            i.verify(Some(&format!("Bearer {good}")), NOW - 5),
            Err(AuthError::NotYetValid)
        );
    }

    #[test]
    fn a_token_for_another_issuer_or_audience_is_refused() {
        let i = issuer();
        let elsewhere = LocalIssuer {
            issuer: "https://elsewhere.example".into(),
            ..i.clone()
        };
        let token = elsewhere.token("cust-42", NOW, 60);
        assert_eq!(
            i.verify(Some(&format!("Bearer {token}")), NOW),
            Err(AuthError::Issuer)
        );
        let other_api = LocalIssuer {
            audience: "another-api".into(),
            ..i.clone()
        };
        let token = other_api.token("cust-42", NOW, 60);
        assert_eq!(
            i.verify(Some(&format!("Bearer {token}")), NOW),
            Err(AuthError::Audience)
        );
    }

    #[test]
    fn the_issuer_is_saved_owner_only_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("orderflow-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(
            LocalIssuer::load(&dir),
            Err(IssuerError::NotStarted(_))
        ));
        let i = issuer();
        i.save(&dir).unwrap();
        assert_eq!(LocalIssuer::load(&dir).unwrap(), i);
        let mode = std::fs::metadata(dir.join(AUTH_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
