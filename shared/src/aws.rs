//! The one `SdkConfig` a process builds, in `main`, before the runtime loop; every SDK client
//! is made from it (DESIGN §7), through the `*_client` helpers below so that each client gets
//! the call-counting interceptor when `ORDERFLOW_COUNT_AWS_CALLS=1`.
//!
//! The config carries this module's HTTP client ([`https_client`]): hyper 1 over rustls on
//! *ring*, HTTP/1.1, trusting Mozilla's root certificates compiled into the binary
//! (`webpki-roots`). The SDK's stock client (rustls on aws-lc-rs) reads and parses the
//! platform's ~440 certificates for every SDK client a function builds, which was ~4.5 ms of
//! each cold start, and aws-lc is ~1.7 MB of each `bootstrap`
//! (tools/bench/src/what-was-tried.md).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// Loads region, credentials and endpoint the standard way (environment, profile, Lambda's
/// variables), with [`https_client`] as the HTTP client of every SDK client made from it.
///
/// `AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_DYNAMODB`, `..._SQS`, ...) is
/// honoured by aws-config itself, so the local cloud or a LocalStack needs no special code
/// path here; `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` turns that off again. A plain `http://`
/// endpoint is called without TLS.
///
/// **Trusted certificates.** Mozilla's root certificates, compiled in (they include the Amazon
/// Trust Services roots every AWS endpoint chains to); nothing is read from disk. For an
/// `https` endpoint signed by another CA (a private CA, a TLS-intercepting proxy's),
/// `SSL_CERT_FILE` names a PEM file whose certificates are trusted as well. A file that
/// cannot be read or holds no usable certificate is ignored with a warning: AWS endpoints keep
/// working, and calls to the custom endpoint then fail with an unknown-issuer error.
/// `SSL_CERT_DIR` and the platform's certificate store are not used, nor are
/// `HTTPS_PROXY`/`HTTP_PROXY`.
pub async fn sdk_config() -> SdkConfig {
    with_http_client(aws_config::defaults(BehaviorVersion::latest()))
        .load()
        .await
}

/// `loader` with this module's HTTP client (trusting Mozilla's roots and `SSL_CERT_FILE`, see
/// [`sdk_config`]). The local cloud and the tests build their configs through this too, so no
/// crate of the workspace needs the SDK's stock client (and its aws-lc).
pub fn with_http_client(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    let extra = std::env::var_os(SSL_CERT_FILE);
    let (roots, warning) = root_certificates(extra.as_deref().map(Path::new));
    if let Some(warning) = warning {
        tracing::warn!(file = ?extra, "{SSL_CERT_FILE}: {warning}");
    }
    match https_client(roots) {
        Ok(client) => loader.http_client(client),
        Err(e) => {
            // Cannot happen with ring's default provider; every AWS call would then fail with
            // the SDK's "no HTTP client" error, after this line.
            tracing::error!(error = %e, "cannot build the HTTPS client");
            loader
        }
    }
}

/// The variable naming a PEM file of extra trusted certificates (see [`sdk_config`]).
pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";

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

/// The HTTP client of [`sdk_config`]: hyper 1's pooled client over rustls on *ring*, trusting
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

/// The variable that switches on one log line per AWS call (`orderflow load` counts them).
pub const COUNT_AWS_CALLS: &str = "ORDERFLOW_COUNT_AWS_CALLS";

/// The log message of a counted call.
pub const AWS_CALL_MESSAGE: &str = "aws call";

/// Whether this process counts its AWS calls (`ORDERFLOW_COUNT_AWS_CALLS=1`).
pub fn counting_calls() -> bool {
    std::env::var(COUNT_AWS_CALLS).is_ok_and(|v| v == "1")
}

/// Logs `aws call` with `aws_service` and `aws_operation` once per completed operation (after
/// its retries, whatever its outcome): the SDK's `read_after_execution` hook runs once per call
/// of `send()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountCalls;

impl CountCalls {
    /// `(service, operation)` of the call whose config bag this is, e.g. `("DynamoDB", "PutItem")`.
    pub fn call_of(cfg: &ConfigBag) -> Option<(String, String)> {
        cfg.load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
    }
}

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some((service, operation)) = CountCalls::call_of(cfg) {
            tracing::info!(aws_service = %service, aws_operation = %operation, "aws call");
        }
        Ok(())
    }
}

macro_rules! client_helper {
    ($feature:literal, $name:ident, $sdk:ident) => {
        /// A client from `sdk`, with the call-counting interceptor when counting is on.
        #[cfg(feature = $feature)]
        pub fn $name(sdk: &SdkConfig) -> $sdk::Client {
            let mut config = $sdk::config::Builder::from(sdk);
            if counting_calls() {
                config = config.interceptor(CountCalls);
            }
            $sdk::Client::from_conf(config.build())
        }
    };
}

client_helper!("dynamodb", dynamodb_client, aws_sdk_dynamodb);
client_helper!("eventbridge", eventbridge_client, aws_sdk_eventbridge);
client_helper!("sns", sns_client, aws_sdk_sns);
client_helper!("sqs", sqs_client, aws_sdk_sqs);

#[cfg(all(test, feature = "dynamodb"))]
#[allow(clippy::unwrap_used)] // test helpers: a failure is a failed test
mod tests {
    use super::*;
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::config_bag::Layer;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_call_is_named_by_the_operation_metadata() {
        let mut layer = Layer::new("test");
        layer.store_put(Metadata::new("TransactWriteItems", "DynamoDB"));
        let cfg = ConfigBag::of_layers(vec![layer]);
        assert_eq!(
            CountCalls::call_of(&cfg),
            Some(("DynamoDB".to_owned(), "TransactWriteItems".to_owned()))
        );
        assert_eq!(CountCalls::call_of(&ConfigBag::base()), None);
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_client_with_the_interceptor_logs_one_line_per_completed_call() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let ok = || {
            ReplayEvent::new(
                http::Request::builder().body(SdkBody::empty()).unwrap(),
                http::Response::builder()
                    .status(200)
                    .body(SdkBody::from("{}"))
                    .unwrap(),
            )
        };
        let http_client = StaticReplayClient::new(vec![ok(), ok()]);
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "akid", "secret", None, None, "test",
            ))
            .http_client(http_client)
            .interceptor(CountCalls)
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let put = client
            .put_item()
            .table_name("t")
            .item("id", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
            .send()
            .await;
        assert!(put.is_ok(), "{put:?}");
        let get = client
            .get_item()
            .table_name("t")
            .key("id", aws_sdk_dynamodb::types::AttributeValue::S("a".into()))
            .send()
            .await;
        assert!(get.is_ok(), "{get:?}");
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let calls: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == AWS_CALL_MESSAGE)
            .map(|v| {
                (
                    v["fields"]["aws_service"].as_str().unwrap_or("").to_owned(),
                    v["fields"]["aws_operation"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                )
            })
            .collect();
        assert_eq!(
            calls,
            vec![
                ("DynamoDB".to_owned(), "PutItem".to_owned()),
                ("DynamoDB".to_owned(), "GetItem".to_owned()),
            ]
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failure is a failed test
mod https_tests {
    use super::*;
    use std::path::PathBuf;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A self-signed CA made for these tests (`openssl req -x509 -newkey ec ...`).
    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBjjCCATWgAwIBAgIUPZraTvZfPl+MpET27Re6/6vPpZEwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRb3JkZXJmbG93IHRlc3QgQ0EwIBcNMjYxMTI0MDczNTE1WhgP
MjEyNjEwMzEwNzM1MTVaMBwxGjAYBgNVBAMMEW9yZGVyZmxvdyB0ZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMpBlIH+ep1yT0OO3RSbDC1nlqn3df3Oj
1fURxZZyKOWs4QRd7JU/HnWglWJdZ3hG5XvjNbXyPJeZ4Eyj82vEiKNTMFEwHQYD
VR0OBBYEFItAMNTrMrZjkRNhtSai5hrhr4fpMB8GA1UdIwQYMBaAFItAMNTrMrZj
kRNhtSai5hrhr4fpMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIg
V9kNOZABP2WAUXVFZ1RbWhZfPYExSYklfK4gBjka3WYCIEK3GnKD8aNzeIO06C8x
Wn60LHpbAGvbJqemU2KUUvne
-----END CERTIFICATE-----
";

    /// `contents` in a file of its own under the temp directory.
    fn file(name: &str, contents: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("orderflow-aws-{}-{name}.pem", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn mozilla() -> usize {
        webpki_roots::TLS_SERVER_ROOTS.len()
    }

    #[test]
    fn the_compiled_in_roots_are_trusted_without_reading_anything() {
        let (roots, warning) = root_certificates(None);
        assert!(mozilla() > 100, "{}", mozilla());
        assert_eq!(roots.len(), mozilla());
        assert_eq!(warning, None);
    }

    #[test]
    fn the_certificates_of_ssl_cert_file_are_trusted_as_well() {
        let path = file("ca", TEST_CA);
        let (roots, warning) = root_certificates(Some(&path));
        assert_eq!(warning, None);
        assert_eq!(roots.len(), mozilla() + 1);
    }

    #[test]
    fn an_unusable_ssl_cert_file_is_ignored_with_a_reason() {
        let missing = std::env::temp_dir().join("orderflow-aws-no-such-file.pem");
        let not_pem = file("not-pem", "this is not a certificate\n");
        let broken = file(
            "broken",
            "-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n",
        );
        let not_a_certificate = file(
            "not-a-certificate",
            "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
        );
        for (path, reason) in [
            (&missing, "cannot read"),
            (&not_pem, "holds no PEM certificate"),
            (&broken, "is not valid PEM"),
            (&not_a_certificate, "not usable as trust anchors"),
        ] {
            let (roots, warning) = root_certificates(Some(path));
            assert_eq!(roots.len(), mozilla(), "{reason}");
            let warning = warning.unwrap_or_default();
            assert!(warning.contains(reason), "{warning}");
            assert!(warning.contains(&path.display().to_string()), "{warning}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_config_carries_the_https_client() {
        let client = https_client(root_certificates(None).0).unwrap();
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .http_client(client)
            .load()
            .await;
        assert!(config.http_client().is_some());
    }

    /// A certificate for `127.0.0.1` signed by [`TEST_CA`], and its private key: test data.
    const TEST_SERVER: &str = "-----BEGIN CERTIFICATE-----
MIIBpzCCAU2gAwIBAgIUN8QhpZy4gWHP3JsY/UjpqIHkB5kwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRb3JkZXJmbG93IHRlc3QgQ0EwIBcNMjYxMTI0MDc0MzE4WhgP
MjEyNjEwMzEwNzQzMThaMBQxEjAQBgNVBAMMCTEyNy4wLjAuMTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABJcbx3JqneNJnNVEIkHdccEGqVqaVvrfLY7VH9hM9Fpm
t1xBwjuL/AFud1nbKHchRBWX3rCpwc9DBoqiLK/VzIOjczBxMA8GA1UdEQQIMAaH
BH8AAAEwCQYDVR0TBAIwADATBgNVHSUEDDAKBggrBgEFBQcDATAdBgNVHQ4EFgQU
ALpUKsCW+YBmhhRZld7ANO0wp9AwHwYDVR0jBBgwFoAUi0Aw1OsytmORE2G1JqLm
GuGvh+kwCgYIKoZIzj0EAwIDSAAwRQIhAPI3ODE8OZ2JiqyLpgWSKqcx6khfKtjn
O6myOJEwC/VzAiAk+uPKOwRynFPbv1shP6pIN1KcXqymtF+mkbJshINKlg==
-----END CERTIFICATE-----
";
    const TEST_SERVER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg8mzzFJHBbZBeclOF
fGoyAWPwPYo+D8WJtYw6RolP5dmhRANCAASXG8dyap3jSZzVRCJB3XHBBqlamlb6
3y2O1R/YTPRaZrdcQcI7i/wBbndZ2yh3IUQVl96wqcHPQwaKoiyv1cyD
-----END PRIVATE KEY-----
";

    /// A connector of the client trusting `roots`, with these timeouts.
    fn connector(
        roots: rustls::RootCertStore,
        read_timeout: Option<Duration>,
    ) -> SharedHttpConnector {
        let client = RingHttpClient {
            tls: rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
            pools: Mutex::default(),
        };
        let mut settings = HttpConnectorSettings::builder().connect_timeout(Duration::from_secs(2));
        if let Some(limit) = read_timeout {
            settings = settings.read_timeout(limit);
        }
        client.connector(&settings.build())
    }

    fn mozilla_roots() -> rustls::RootCertStore {
        root_certificates(None).0
    }

    fn get(url: &str) -> HttpRequest {
        HttpRequest::try_from(
            http::Request::builder()
                .uri(url)
                .body(SdkBody::empty())
                .unwrap(),
        )
        .unwrap()
    }

    /// A one-connection server on 127.0.0.1 that reads a request head and answers `reply`
    /// (nothing when `None`, holding the connection open); over TLS with [`TEST_SERVER`]'s
    /// certificate when `tls`. Returns its URL.
    async fn server(reply: Option<&'static str>, tls: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let acceptor = tls.then(|| {
            let certificate = CertificateDer::from_pem_slice(TEST_SERVER.as_bytes()).unwrap();
            let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(TEST_SERVER_KEY.as_bytes())
                .unwrap();
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .unwrap();
            tokio_rustls::TlsAcceptor::from(Arc::new(config))
        });
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            match acceptor {
                // A refused handshake ends the connection: nothing to answer.
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(socket).await {
                        answer(stream, reply).await;
                    }
                }
                None => answer(socket, reply).await,
            }
        });
        let scheme = if tls { "https" } else { "http" };
        format!("{scheme}://{address}/")
    }

    async fn answer(
        mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
        reply: Option<&str>,
    ) {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            head.extend_from_slice(&buf[..n]);
        }
        match reply {
            Some(reply) => stream.write_all(reply.as_bytes()).await.unwrap(),
            None => tokio::time::sleep(Duration::from_secs(10)).await,
        }
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

    async fn body_of(response: HttpResponse) -> Vec<u8> {
        aws_smithy_types::byte_stream::ByteStream::new(response.into_body())
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .to_vec()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_plain_http_endpoint_is_called_without_tls() {
        let url = server(Some(OK), false).await;
        let response = connector(mozilla_roots(), None)
            .call(get(&url))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(body_of(response).await, b"ok");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_https_endpoint_signed_by_the_ca_of_ssl_cert_file_is_trusted() {
        let url = server(Some(OK), true).await;
        let (roots, warning) = root_certificates(Some(&file("https-ca", TEST_CA)));
        assert_eq!(warning, None);
        let response = connector(roots, None).call(get(&url)).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(body_of(response).await, b"ok");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_https_endpoint_signed_by_an_unknown_ca_is_refused() {
        let url = server(Some(OK), true).await;
        let error = connector(mozilla_roots(), None)
            .call(get(&url))
            .await
            .unwrap_err();
        assert!(format!("{error:?}").contains("UnknownIssuer"), "{error:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_response_later_than_the_read_timeout_is_a_timeout_error() {
        let url = server(None, false).await;
        let error = connector(mozilla_roots(), Some(Duration::from_millis(100)))
            .call(get(&url))
            .await
            .unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_refused_connection_is_an_io_error_the_sdk_retries() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let error = connector(mozilla_roots(), None)
            .call(get(&url))
            .await
            .unwrap_err();
        assert!(error.is_io(), "{error:?}");
    }
}
