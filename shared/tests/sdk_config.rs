//! `sdk_config()` honours `AWS_ENDPOINT_URL`: the local cloud and LocalStack rely on it.
//! Its own test binary, because it sets process environment variables.
#![cfg(feature = "sqs")]
// Test code: a failed unwrap or panic is a failed assertion, helpers and harness included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

#[tokio::test]
async fn the_shared_sdk_config_follows_aws_endpoint_url() {
    let moto = support::moto();
    // The only test in this process, so nothing else reads the environment meanwhile.
    std::env::set_var("AWS_ENDPOINT_URL", &moto.endpoint);
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::remove_var("AWS_PROFILE");

    let config = orderflow_shared::aws::sdk_config().await;
    assert_eq!(config.endpoint_url(), Some(moto.endpoint.as_str()));
    assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-1"));

    // A client built from it reaches moto, not AWS.
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = support::unique("endpoint-check");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert!(url.contains(&name), "{url}");
}
