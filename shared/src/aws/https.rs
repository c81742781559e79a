//! The HTTP client of every SDK client: hyper 1 over rustls on *ring*, HTTP/1.1, trusting
//! Mozilla's root certificates compiled into the binary (`webpki-roots`). The SDK's stock
//! client (rustls on aws-lc-rs) reads and parses the platform's ~440 certificates for every SDK
//! client a function builds, which was ~4.5 ms of each cold start, and aws-lc is ~1.7 MB of
//! each `bootstrap` (tools/bench/src/what-was-tried.md).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// Mozilla's roots, plus the certificates of the PEM file `extra` if given: its usable
/// certificates are added, and the second value says what was wrong with the file, if
/// anything (not readable, not PEM, no certificate in it, certificates skipped).
pub fn root_certificates(extra: Option<&Path>) -> (rustls::RootCertStore, Option<String>) {
    // The anchors are parsed already, at build time: a copy of a slice of borrowed slices.
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let Some(path) = extra else {
        return (roots, None);
    };
    let certificates = match std::fs::read(path) {
        Err(e) => return (roots, Some(format!("cannot read {}: {e}", path.display()))),
        Ok(bytes) => CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>(),
    };
    let warning = match certificates {
        Err(e) => Some(format!("{} is not valid PEM: {e}; ignored", path.display())),
        Ok(certificates) if certificates.is_empty() => Some(format!(
            "{} holds no PEM certificate; ignored",
            path.display()
        )),
        Ok(certificates) => match roots.add_parsable_certificates(certificates) {
            (_, 0) => None,
            (added, skipped) => Some(format!(
                "{} certificate(s) of {} are not usable as trust anchors and were skipped ({added} added)",
                skipped,
                path.display()
            )),
        },
    };
    (roots, warning)
}

/// The HTTP client of [`sdk_config`](super::sdk_config): hyper 1's pooled client over rustls on *ring*, trusting
/// `roots`, speaking HTTP/1.1 (AWS's JSON and query protocols need nothing else) to `https`
/// and plain `http` endpoints. It applies the SDK's connect timeout (TCP connect and TLS
/// handshake) and read timeout (until the response head), and keeps one connection pool per
/// pair of timeouts, shared by every SDK client made from the config.
pub fn https_client(roots: rustls::RootCertStore) -> Result<SharedHttpClient, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(SharedHttpClient::new(RingHttpClient {
        tls,
        pools: Mutex::default(),
    }))
}

/// `(connect, read)` timeouts of a connector.
type Timeouts = (Option<Duration>, Option<Duration>);

/// See [`https_client`].
#[derive(Debug)]
struct RingHttpClient {
    tls: rustls::ClientConfig,
    /// One connector (and so one connection pool) per `(connect, read)` timeout pair.
    pools: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl RingHttpClient {
    fn connector(&self, settings: &HttpConnectorSettings) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        // A panic while the lock was held cannot leave the map half-written: use it anyway.
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools
            .entry(key)
            .or_insert_with(|| SharedHttpConnector::new(self.new_connector(key.0, key.1)))
            .clone()
    }

    fn new_connector(
        &self,
        connect_timeout: Option<Duration>,
        read_timeout: Option<Duration>,
    ) -> PooledConnector {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(self.tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            // Lets idle pooled connections expire (hyper's default: after 90 s).
            .pool_timer(TokioTimer::new())
            .build(TimedConnect {
                inner: https,
                timeout: connect_timeout,
            });
        PooledConnector {
            client,
            read_timeout,
        }
    }
}

impl HttpClient for RingHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector(settings)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some("1.x".into())))
    }
}

type HttpsConnector = hyper_rustls::HttpsConnector<TcpConnector>;
type Connection = <HttpsConnector as tower_service::Service<http::Uri>>::Response;

/// The TLS connector with the SDK's connect timeout around TCP connect and TLS handshake.
#[derive(Debug, Clone)]
struct TimedConnect {
    inner: HttpsConnector,
    timeout: Option<Duration>,
}

/// A connection not established within the connect timeout.
#[derive(Debug, thiserror::Error)]
#[error("no connection within the connect timeout of {0:?}")]
struct ConnectTimedOut(Duration);

impl tower_service::Service<http::Uri> for TimedConnect {
    type Response = Connection;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Connection, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match timeout {
                None => connecting.await,
                Some(limit) => tokio::time::timeout(limit, connecting)
                    .await
                    .map_err(|_| BoxError::from(ConnectTimedOut(limit)))?,
            }
        })
    }
}

/// One pooled hyper client and the read timeout of its requests.
#[derive(Debug, Clone)]
struct PooledConnector {
    client: hyper_util::client::legacy::Client<TimedConnect, SdkBody>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for PooledConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let responding = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                None => responding.await,
                Some(limit) => tokio::time::timeout(limit, responding).await.map_err(|_| {
                    ConnectorError::timeout(
                        format!("no response within the read timeout of {limit:?}").into(),
                    )
                })?,
            }
            .map_err(connector_error)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// What the SDK's retry strategy needs to know about a failed request: a timeout, an I/O
/// failure (connect, reset, closed: retried as transient), a request the client refused, or
/// something else.
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let is_connect = error.is_connect();
    let error: BoxError = error.into();
    let root: &(dyn StdError + 'static) = error.as_ref();
    let chain = || std::iter::successors(Some(root), |&e| e.source());
    let hyper = || chain().filter_map(|e| e.downcast_ref::<hyper::Error>());
    if chain().any(|e| e.is::<ConnectTimedOut>()) || hyper().any(|h| h.is_timeout()) {
        ConnectorError::timeout(error)
    } else if is_connect
        || chain().any(|e| e.is::<std::io::Error>())
        || hyper().any(|h| h.is_closed() || h.is_canceled() || h.is_incomplete_message())
    {
        ConnectorError::io(error)
    } else if hyper().any(|h| h.is_user()) {
        ConnectorError::user(error)
    } else {
        ConnectorError::other(error, None)
    }
}

#[cfg(test)]
mod tests;
