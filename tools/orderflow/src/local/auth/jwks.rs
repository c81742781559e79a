//! The authorizer's copy of an issuer's public keys, found as API Gateway finds them: the
//! OpenID discovery document at `<issuer>/.well-known/openid-configuration` names the
//! `jwks_uri`, which lists the keys. Kept for a while (API Gateway may keep them two hours),
//! fetched again when a token names a `kid` the copy does not have (a key the issuer added).

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::Deserialize;

use super::issuer::DISCOVERY_PATH;

/// How long keys are kept, and how soon an unknown `kid` may fetch them again.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    pub max_age: Duration,
    /// Bounds the fetches a stream of made-up `kid`s causes.
    pub refetch_after: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            max_age: Duration::from_secs(2 * 3600),
            refetch_after: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeysError {
    #[error("the issuer's keys could not be fetched: {0}")]
    Unreachable(String),
    #[error("the issuer's discovery document names the issuer {found}, not {expected}")]
    IssuerMismatch { expected: String, found: String },
    #[error("no key {0} in the issuer's JWKS")]
    UnknownKid(String),
}

struct Fetched {
    keys: JwkSet,
    at: Instant,
}

pub struct KeySet {
    issuer: String,
    http: reqwest::Client,
    policy: CachePolicy,
    // Held across a fetch, so concurrent requests with a new kid fetch once.
    cached: tokio::sync::Mutex<Option<Fetched>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl KeySet {
    pub fn new(issuer: &str, policy: CachePolicy) -> KeySet {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        KeySet {
            issuer: issuer.to_owned(),
            http,
            policy,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The public key `kid`, from the copy or, when the copy lacks it or is old, a new fetch.
    pub async fn key(&self, kid: &str) -> Result<Jwk, KeysError> {
        let mut cached = self.cached.lock().await;
        if let Some(f) = cached.as_ref() {
            let age = f.at.elapsed();
            if age < self.policy.max_age {
                if let Some(key) = f.keys.find(kid) {
                    return Ok(key.clone());
                }
                if age < self.policy.refetch_after {
                    return Err(KeysError::UnknownKid(kid.to_owned()));
                }
            }
        }
        let keys = self.fetch().await?;
        let found = keys.find(kid).cloned();
        *cached = Some(Fetched {
            keys,
            at: Instant::now(),
        });
        found.ok_or_else(|| KeysError::UnknownKid(kid.to_owned()))
    }

    async fn fetch(&self) -> Result<JwkSet, KeysError> {
        let url = format!("{}{DISCOVERY_PATH}", self.issuer.trim_end_matches('/'));
        let discovery: Discovery = self.get_json(&url).await?;
        // OpenID discovery: the document's issuer is the one it was fetched for, exactly.
        if discovery.issuer != self.issuer {
            return Err(KeysError::IssuerMismatch {
                expected: self.issuer.clone(),
                found: discovery.issuer,
            });
        }
        self.get_json(&discovery.jwks_uri).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, KeysError> {
        let unreachable = |e: reqwest::Error| KeysError::Unreachable(format!("{url}: {e}"));
        self.http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unreachable)?
            .json()
            .await
            .map_err(unreachable)
    }
}
