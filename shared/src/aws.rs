//! The one `SdkConfig` a process builds, in `main`, before the runtime loop; every SDK client
//! is made from it (DESIGN §7).

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads region, credentials and endpoint the standard way (environment, profile, Lambda's
/// variables).
///
/// `AWS_ENDPOINT_URL` (and the per-service `AWS_ENDPOINT_URL_DYNAMODB`, `..._SQS`, ...) is
/// honoured by aws-config itself, so the local cloud or a LocalStack needs no special code
/// path here; `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` turns that off again.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}
