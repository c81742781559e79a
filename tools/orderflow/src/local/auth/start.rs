//! `local up --auth`: the local cloud's own identity provider started on 127.0.0.1, the
//! template's `JwtIssuer` set to its URL, and the API's authorizers read from the template —
//! so the authorizer trusts the local issuer the way a deployed one trusts Cognito.

use std::path::Path;
use std::sync::Arc;

use orderflow_template::Template;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::issuer::{IssuerError, LocalIssuer};
use super::jwks::CachePolicy;
use super::routes::{ApiAuth, RoutesError, ISSUER_PARAMETER};
use super::server::{self, IssuerServer};
use crate::local::logs::LogSink;
use crate::local::resources::Deployment;

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

/// Starts the issuer of `state_dir` (its keys kept, and its port when free, so tokens handed
/// out before a restart still pass) and reads the API's authorizers with `JwtIssuer` = its URL.
pub async fn start(
    state_dir: &Path,
    template: &Template,
    deployment: &mut Deployment,
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
    deployment
        .parameters
        .insert(ISSUER_PARAMETER.to_owned(), url.clone());
    let api = ApiAuth::from_template(template, deployment, CachePolicy::default())?;
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
