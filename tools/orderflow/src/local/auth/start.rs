//! `local up --auth` (or any API served from the template): the local identity provider
//! started on 127.0.0.1, the template's `JwtIssuer` taken as its URL, and the API's authorizers
//! read from the template — so the authorizer trusts the local issuer the way a deployed one
//! trusts Cognito.

use std::path::Path;
use std::sync::Arc;

use orderflow_template::{Resolver, Template};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::issuer::{IssuerError, LocalIssuer};
use super::jwks::CachePolicy;
use super::routes::{ApiAuth, RoutesError, ISSUER_PARAMETER};
use super::server::{self, IssuerServer};
use crate::local::logs::LogSink;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Issuer(#[from] IssuerError),
    #[error("{0}")]
    Routes(#[from] RoutesError),
    #[error("the issuer's port on 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    #[error("--auth: no route of the template's API has a JWT authorizer")]
    NoAuthorizer,
    #[error(
        "--auth: the API's authorizer trusts {0}, not the local issuer {1}; its JwtConfiguration \
         issuer must be !Ref {ISSUER_PARAMETER}"
    )]
    OtherIssuer(String, String),
}

/// The local cloud's issuer and authorizers, running.
pub struct LocalAuth {
    pub issuer: LocalIssuer,
    pub api: Arc<ApiAuth>,
    pub server: IssuerServer,
    pub task: JoinHandle<()>,
}

/// `resolver`, but for `JwtIssuer`, which is the local issuer's URL.
struct WithIssuer<'a> {
    url: &'a str,
    inner: &'a dyn Resolver,
}

impl Resolver for WithIssuer<'_> {
    fn reference(&self, name: &str) -> Option<String> {
        match name {
            ISSUER_PARAMETER => Some(self.url.to_owned()),
            _ => self.inner.reference(name),
        }
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Option<String> {
        self.inner.attribute(resource, attribute)
    }

    fn condition(&self, name: &str) -> Option<bool> {
        self.inner.condition(name)
    }
}

/// Starts the issuer of `state_dir` (its keys kept, and its port when free, so tokens handed
/// out before a restart still pass) and reads the API's authorizers from `template`, resolved
/// with `resolver` but `JwtIssuer` = the issuer's URL.
pub async fn start(
    state_dir: &Path,
    template: &Template,
    resolver: &dyn Resolver,
    shutdown: watch::Receiver<bool>,
    logs: &LogSink,
) -> Result<LocalAuth, StartError> {
    let saved = LocalIssuer::load(state_dir).ok();
    let (listener, url) = match saved.as_ref().and_then(|s| local_port(&s.issuer)) {
        Some(port) => match server::bind(port).await {
            Ok(bound) => bound,
            Err(_) => server::bind(0).await?,
        },
        None => server::bind(0).await?,
    };
    let resolver = WithIssuer {
        url: &url,
        inner: resolver,
    };
    let api = ApiAuth::from_template(template, &resolver, CachePolicy::default())?;
    let trusted = api.trusted();
    let (issuer_url, audiences) = trusted.first().ok_or(StartError::NoAuthorizer)?;
    if let Some((other, _)) = trusted.iter().find(|(i, _)| *i != url) {
        return Err(StartError::OtherIssuer(other.clone(), url));
    }
    let audience = audiences.first().cloned().unwrap_or_default();
    let issuer = match saved {
        Some(mut s) if s.audience == audience => {
            if s.issuer != url {
                logs.line(
                    "auth",
                    &format!(
                        "issuer moved from {} to {url}: tokens of the old one are refused",
                        s.issuer
                    ),
                );
                s.issuer = url.clone();
            }
            s
        }
        _ => LocalIssuer::generate(issuer_url, &audience)?,
    };
    issuer.save(state_dir)?;
    let (server, task) = IssuerServer::start(listener, &issuer, shutdown)?;
    logs.line(
        "auth",
        &format!("issuer {url} (RS256, JWKS at {url}/.well-known/jwks.json), audience {audience}"),
    );
    Ok(LocalAuth {
        issuer,
        api: Arc::new(api),
        server,
        task,
    })
}

/// The port of a saved `http://127.0.0.1:<port>` issuer.
fn local_port(issuer: &str) -> Option<u16> {
    let url = reqwest::Url::parse(issuer).ok()?;
    (url.host_str() == Some("127.0.0.1"))
        .then(|| url.port())
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::local::auth::AuthError;
    use crate::local::resources::Deployment;

    fn template() -> Template {
        Template::from_path(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/template.yaml"
        ))
        .unwrap()
    }

    fn deployment() -> Deployment {
        Deployment {
            stack: "orderflow-local".into(),
            region: "eu-west-1".into(),
            // What the template's defaults give; its JwtIssuer is not the local issuer.
            parameters: BTreeMap::from([
                ("JwtAudience".to_owned(), "orderflow-api".to_owned()),
                (
                    ISSUER_PARAMETER.to_owned(),
                    "https://auth.example.com/".to_owned(),
                ),
            ]),
            resources: BTreeMap::new(),
            inboxes: BTreeMap::new(),
        }
    }

    async fn start_in(state: &Path, shutdown: watch::Receiver<bool>) -> LocalAuth {
        start(
            state,
            &template(),
            &deployment(),
            shutdown,
            &LogSink::new(None),
        )
        .await
        .unwrap()
    }

    /// Starts the auth of `state`, then stops it; its issuer and a token it accepted.
    async fn start_and_stop(state: &Path) -> (LocalIssuer, String) {
        let (stop, stopped) = watch::channel(false);
        let auth = start_in(state, stopped).await;
        let now = chrono::Utc::now().timestamp();
        let token = auth.issuer.token("cust-42", now, 600).unwrap();
        let passed = auth
            .api
            .authorize("POST", "/orders", Some(&format!("Bearer {token}")), now)
            .await;
        assert_eq!(passed.unwrap().unwrap().claims["sub"], "cust-42");
        stop.send_replace(true);
        auth.task.await.unwrap();
        (auth.issuer, token)
    }

    #[tokio::test]
    async fn the_issuer_keeps_its_url_and_keys_across_a_restart_so_its_tokens_still_pass() {
        let state = std::env::temp_dir().join(format!("orderflow-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&state).unwrap();
        let (first, token) = start_and_stop(&state).await;
        assert!(first.issuer.starts_with("http://127.0.0.1:"));
        assert_eq!(
            first.audience, "orderflow-api",
            "the template's JwtAudience"
        );

        let (_stop, stopped) = watch::channel(false);
        let again = start_in(&state, stopped).await;
        assert_eq!(again.issuer, first);
        let now = chrono::Utc::now().timestamp();
        let header = format!("Bearer {token}");
        let old = again
            .api
            .authorize("POST", "/orders", Some(&header), now)
            .await;
        assert!(old.unwrap().is_some(), "a token from before the restart");
        std::fs::remove_dir_all(state).unwrap();
    }

    #[tokio::test]
    async fn when_its_port_is_taken_the_issuer_moves_and_tokens_naming_the_old_url_are_refused() {
        let state = std::env::temp_dir().join(format!("orderflow-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&state).unwrap();
        let (first, token) = start_and_stop(&state).await;
        let port = reqwest::Url::parse(&first.issuer).unwrap().port().unwrap();
        let _taken = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();

        let (_stop, stopped) = watch::channel(false);
        let moved = start_in(&state, stopped).await;
        assert_ne!(moved.issuer.issuer, first.issuer);
        assert_eq!(moved.issuer.kids(), first.kids(), "the keys stay");
        let now = chrono::Utc::now().timestamp();
        let header = format!("Bearer {token}");
        let old = moved
            .api
            .authorize("POST", "/orders", Some(&header), now)
            .await;
        assert_eq!(old, Err(AuthError::Issuer(moved.issuer.issuer.clone())));
        std::fs::remove_dir_all(state).unwrap();
    }
}
