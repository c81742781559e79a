//! The AWS endpoint of the local cloud: the one `AWS_ENDPOINT_URL` names, or a moto server of
//! its own; and the SDK configuration every local client and function uses with it.

use std::path::Path;

use super::logs::LogSink;
use super::moto::{self, HarshSpec, Moto, MotoError};

pub const REGION: &str = "us-east-1";

/// The endpoint, and the moto server when the local cloud started one.
pub struct Endpoint {
    pub url: String,
    pub moto: Option<Moto>,
}

/// `AWS_ENDPOINT_URL` when set, else a moto server on `aws_port` (log in the state folder),
/// harsh when `harsh` says how. The harsh cloud is a patch of the moto this starts: another
/// endpoint cannot be made harsh, so asking for both is refused.
pub async fn start(
    aws_port: u16,
    state_dir: &Path,
    harsh: Option<&HarshSpec>,
    logs: &LogSink,
) -> Result<Endpoint, MotoError> {
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        if harsh.is_some() {
            return Err(MotoError::HarshElsewhere(url));
        }
        logs.line(
            "orderflow",
            &format!("using the AWS endpoint {url} (AWS_ENDPOINT_URL)"),
        );
        return Ok(Endpoint { url, moto: None });
    }
    let m = moto::start(aws_port, state_dir, harsh).await?;
    logs.line(
        "orderflow",
        &format!(
            "moto server on {} (log: {})",
            m.endpoint,
            state_dir.join("moto.log").display()
        ),
    );
    if let Some(spec) = harsh {
        logs.line(
            "orderflow",
            &format!("harsh cloud on: {spec} (its injected events: orderflow-harsh: lines in the moto log)"),
        );
    }
    Ok(Endpoint {
        url: m.endpoint.clone(),
        moto: Some(m),
    })
}

/// The AWS configuration every local client and function uses: the endpoint, a fixed region
/// and dummy credentials (moto accepts any).
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    orderflow_shared::aws::with_http_client(aws_config::defaults(
        aws_config::BehaviorVersion::latest(),
    ))
    .region(aws_config::Region::new(REGION))
    .endpoint_url(endpoint)
    .credentials_provider(aws_sdk_sqs::config::Credentials::new(
        "test",
        "test",
        None,
        None,
        "orderflow-local",
    ))
    .load()
    .await
}
