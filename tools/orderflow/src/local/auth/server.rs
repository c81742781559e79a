//! The local issuer on 127.0.0.1: its OpenID discovery document and its JWKS, over HTTP, as an
//! identity provider publishes them for API Gateway to read.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use tokio::sync::watch;

use super::issuer::{IssuerError, LocalIssuer, DISCOVERY_PATH, JWKS_PATH};

/// What the server answers with; replaced whole when the issuer changes (a key added).
#[derive(Clone)]
struct Published {
    discovery: Value,
    jwks: Value,
}

impl Published {
    fn of(issuer: &LocalIssuer) -> Result<Published, IssuerError> {
        let jwks = serde_json::to_value(issuer.jwks()?).map_err(|e| IssuerError::Io {
            path: JWKS_PATH.into(),
            message: e.to_string(),
        })?;
        Ok(Published {
            discovery: issuer.discovery(),
            jwks,
        })
    }
}

/// The running issuer endpoints; [`publish`](Self::publish) changes what they serve.
pub struct IssuerServer {
    pub url: String,
    published: watch::Sender<Published>,
}

/// `127.0.0.1:port` (0: any free port), and the issuer URL that makes.
pub async fn bind(port: u16) -> std::io::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    Ok((listener, url))
}

impl IssuerServer {
    /// Serves `issuer`'s documents on `listener` until `shutdown` turns true.
    pub fn start(
        listener: tokio::net::TcpListener,
        issuer: &LocalIssuer,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(IssuerServer, tokio::task::JoinHandle<()>), IssuerError> {
        let (published, watched) = watch::channel(Published::of(issuer)?);
        let app = Router::new()
            .route(DISCOVERY_PATH, get(discovery))
            .route(JWKS_PATH, get(jwks))
            .with_state(Arc::new(watched));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = shutdown.wait_for(|s| *s).await;
                })
                .await;
        });
        let server = IssuerServer {
            url: issuer.issuer.clone(),
            published,
        };
        Ok((server, task))
    }

    /// Serves `issuer`'s current keys from now on.
    pub fn publish(&self, issuer: &LocalIssuer) -> Result<(), IssuerError> {
        self.published.send_replace(Published::of(issuer)?);
        Ok(())
    }
}

type Watched = Arc<watch::Receiver<Published>>;

async fn discovery(State(p): State<Watched>) -> Response {
    json(p.borrow().discovery.clone())
}

async fn jwks(State(p): State<Watched>) -> Response {
    json(p.borrow().jwks.clone())
}

fn json(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

/// An identity provider on a free port for tests: the issuer (client id `client_id`) and its
/// server, which stops when the returned sender is dropped.
#[cfg(test)]
pub(crate) async fn for_tests(client_id: &str) -> (LocalIssuer, IssuerServer, watch::Sender<bool>) {
    let (listener, url) = bind(0).await.unwrap();
    let issuer = LocalIssuer::generate(&url, client_id).unwrap();
    let (stop, stopped) = watch::channel(false);
    let (server, _task) = IssuerServer::start(listener, &issuer, stopped).unwrap();
    (issuer, server, stop)
}
