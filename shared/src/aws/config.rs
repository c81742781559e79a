//! The one `SdkConfig` a process builds, in `main`, before the runtime loop (DESIGN §7): the
//! standard way of finding region, credentials and endpoint, with [`super::https`]'s client.

use std::path::Path;

use aws_config::{BehaviorVersion, SdkConfig};

use super::https::{https_client, root_certificates};

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
