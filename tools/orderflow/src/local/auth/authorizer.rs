//! One JWT authorizer (`JwtConfiguration: {issuer, audience}`), checking a request's token as
//! API Gateway's HTTP API JWT authorizer documents it:
//!
//! 1. the identity source holds the token, alone or after `Bearer `;
//! 2. the token decodes, its algorithm is an RSA one (`RS256`, `RS384`, `RS512`; HMAC and
//!    `none` are refused) and its signature verifies with the key its `kid` names in the
//!    issuer's JWKS (read through the discovery document);
//! 3. `iss` is the configured issuer, exactly; `aud` — or, only when there is no `aud`,
//!    `client_id` (Cognito's access tokens) — is one of the configured audiences; `exp` is after
//!    now; `nbf` and `iat`, when present, are not after now. AWS documents no clock leeway,
//!    so there is none;
//! 4. a route with `authorizationScopes` needs one of them in `scope` (or `scp`): else 403.
//!
//! The signature and the decoding are jsonwebtoken's; the claim rules are API Gateway's, so they
//! are written here rather than left to jsonwebtoken's defaults (60 s leeway, `aud` only).

use std::collections::BTreeMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::claims;
use super::jwks::{CachePolicy, KeySet, KeysError};

/// The algorithms API Gateway's JWT authorizer verifies ("only RSA-based algorithms").
const RSA_ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("signing method {0} is not accepted (RSA only)")]
    Algorithm(String),
    #[error("the token has no kid")]
    NoKeyId,
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token's issuer is not {0}")]
    Issuer(String),
    #[error("the token does not have a valid audience")]
    Audience,
    #[error("the token has no expiry")]
    NoExpiry,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token is issued in the future (iat)")]
    IssuedInFuture,
    #[error("the token has none of the route's scopes")]
    InsufficientScope,
}

impl AuthError {
    /// 403 for a good token short of the route's scopes, 401 for everything else.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, AuthError::InsufficientScope)
    }
}

/// What a request that passed carries on to the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// `requestContext.authorizer.jwt.claims`.
    pub claims: BTreeMap<String, String>,
    /// `requestContext.authorizer.jwt.scopes`: the token's scopes when the route asks for
    /// some, else null.
    pub scopes: Option<Vec<String>>,
}

pub struct JwtAuthorizer {
    pub issuer: String,
    pub audiences: Vec<String>,
    keys: KeySet,
}

impl JwtAuthorizer {
    pub fn new(issuer: &str, audiences: Vec<String>) -> JwtAuthorizer {
        JwtAuthorizer::with_policy(issuer, audiences, CachePolicy::default())
    }

    pub fn with_policy(issuer: &str, audiences: Vec<String>, policy: CachePolicy) -> JwtAuthorizer {
        JwtAuthorizer {
            issuer: issuer.to_owned(),
            audiences,
            keys: KeySet::new(issuer, policy),
        }
    }

    /// Checks the `Authorization` header for a route that asks for `route_scopes` (none: any
    /// valid token), at `now` (seconds since the epoch).
    pub async fn authorize(
        &self,
        authorization: Option<&str>,
        route_scopes: &[String],
        now: i64,
    ) -> Result<Authorized, AuthError> {
        let token = bearer(authorization)?;
        let claims = self.verified_claims(token).await?;
        self.check_claims(&claims, now)?;
        let scopes = if route_scopes.is_empty() {
            None
        } else {
            let granted = claims::scopes(&claims);
            if !granted.iter().any(|s| route_scopes.contains(s)) {
                return Err(AuthError::InsufficientScope);
            }
            Some(granted)
        };
        Ok(Authorized {
            claims: claims::render(&claims),
            scopes,
        })
    }

    /// The token's claims, once its algorithm, key and signature are good.
    async fn verified_claims(&self, token: &str) -> Result<Map<String, Value>, AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        if !RSA_ALGORITHMS.contains(&header.alg) {
            return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(AuthError::NoKeyId)?;
        let jwk = self.keys.key(&kid).await?;
        // A key published for one algorithm verifies that one only.
        if let Some(published) = jwk.common.key_algorithm {
            if published.to_string().parse::<Algorithm>().ok() != Some(header.alg) {
                return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
            }
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| AuthError::Signature)?;
        let mut validation = Validation::new(header.alg);
        // The claims are checked below, by API Gateway's rules.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::Signature,
                _ => AuthError::Malformed(e.to_string()),
            })
    }

    fn check_claims(&self, claims: &Map<String, Value>, now: i64) -> Result<(), AuthError> {
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(AuthError::Issuer(self.issuer.clone()));
        }
        let known = |v: &Value| {
            v.as_str()
                .is_some_and(|a| self.audiences.iter().any(|x| x == a))
        };
        let audience_ok = match (claims.get("aud"), claims.get("client_id")) {
            (Some(Value::Array(list)), _) => list.iter().any(known),
            (Some(aud), _) => known(aud),
            (None, Some(client_id)) => known(client_id),
            (None, None) => false,
        };
        if !audience_ok {
            return Err(AuthError::Audience);
        }
        let time = |name: &str| claims.get(name).and_then(Value::as_f64);
        let now_f = now as f64;
        match time("exp") {
            None => return Err(AuthError::NoExpiry),
            Some(exp) if exp <= now_f => return Err(AuthError::Expired),
            Some(_) => {}
        }
        if time("nbf").is_some_and(|nbf| nbf > now_f) {
            return Err(AuthError::NotYetValid);
        }
        if time("iat").is_some_and(|iat| iat > now_f) {
            return Err(AuthError::IssuedInFuture);
        }
        Ok(())
    }
}

/// The token of an `Authorization` header: alone, or after `Bearer `.
fn bearer(authorization: Option<&str>) -> Result<&str, AuthError> {
    let header = authorization.ok_or(AuthError::Missing)?.trim();
    let token = match header.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        None if header.eq_ignore_ascii_case("bearer") => "",
        _ => header,
    };
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

#[cfg(test)]
mod tests;
