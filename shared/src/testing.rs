//! The event fixtures in `events/` and the API contract, for the tests of every package.

use std::path::PathBuf;

use aws_lambda_events::sqs::SqsEvent;

/// The API contract (`infra/openapi.yaml`) as a test oracle for HTTP handlers.
#[cfg(feature = "testing")]
pub mod openapi;

/// `events/<name>` in this workspace.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name)
}

pub fn fixture_text(name: &str) -> Result<String, String> {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// An SQS batch fixture (`sqs-*.json`).
pub fn sqs_fixture(name: &str) -> Result<SqsEvent, String> {
    serde_json::from_str(&fixture_text(name)?).map_err(|e| format!("{name}: {e}"))
}

/// An API Gateway HTTP API request fixture (`apigw-*.json`).
#[cfg(feature = "http")]
pub fn http_fixture(name: &str) -> Result<lambda_http::Request, String> {
    lambda_http::request::from_str(&fixture_text(name)?).map_err(|e| format!("{name}: {e}"))
}
