//! The HTTPS client against local servers: plain HTTP, TLS with a test CA, timeouts, errors.
#![allow(clippy::unwrap_used)] // a failure is a failed test

use super::*;
use aws_config::BehaviorVersion;
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
fn connector(roots: rustls::RootCertStore, read_timeout: Option<Duration>) -> SharedHttpConnector {
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
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_slice(TEST_SERVER_KEY.as_bytes()).unwrap();
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
