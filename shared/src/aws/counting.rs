//! Counting AWS calls (`orderflow load`) and timing them (`orderflow trace`): an interceptor on
//! each SDK client that logs one [`AWS_CALL`] line per completed call, with its duration, its
//! attempts and its error. Compiled in only with the `local-cloud` feature, which deployment
//! builds never enable.

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::config::{switch, Lookup};
use crate::telemetry::messages::AWS_CALL;

/// The variable that switches on one log line per AWS call (`orderflow load` counts them).
pub const COUNT_AWS_CALLS: &str = "ORDERFLOW_COUNT_AWS_CALLS";

/// Whether the process counts its AWS calls (`ORDERFLOW_COUNT_AWS_CALLS=1`).
pub fn enabled(lookup: Lookup<'_>) -> bool {
    switch(lookup, COUNT_AWS_CALLS)
}

/// Logs `aws call` with `aws_service`, `aws_operation`, `duration_ms` (from before the request
/// was serialised to the end of its last attempt), `attempts` and, when it failed, `error` once
/// per completed operation (after its retries, whatever its outcome): the SDK's
/// `read_before_execution` and `read_after_execution` hooks run once per call of `send()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountCalls;

impl CountCalls {
    /// `(service, operation)` of the call whose config bag this is, e.g. `("DynamoDB", "PutItem")`.
    pub fn call_of(cfg: &ConfigBag) -> Option<(String, String)> {
        cfg.load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
    }
}

/// When the call started (kept in the call's config bag between the two hooks).
#[derive(Debug, Clone, Copy)]
struct CallStarted(Instant);

impl Storable for CallStarted {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(CallStarted(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some((service, operation)) = CountCalls::call_of(cfg) else {
            return Ok(());
        };
        let duration_ms = cfg.load::<CallStarted>().map_or(0, |s| {
            u64::try_from(s.0.elapsed().as_millis()).unwrap_or(u64::MAX)
        });
        let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        match context.output_or_error() {
            Some(Err(e)) => tracing::info!(
                aws_service = %service, aws_operation = %operation, duration_ms, attempts,
                error = %e, "{AWS_CALL}"
            ),
            _ => tracing::info!(
                aws_service = %service, aws_operation = %operation, duration_ms, attempts,
                "{AWS_CALL}"
            ),
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "dynamodb"))]
#[allow(clippy::unwrap_used)] // test helpers: a failure is a failed test
mod tests {
    use super::*;
    use aws_config::BehaviorVersion;
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
            .filter(|v| v["fields"]["message"] == AWS_CALL)
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
        let timed = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == AWS_CALL)
            .filter(|v| v["fields"]["duration_ms"].is_u64() && v["fields"]["attempts"] == 1)
            .count();
        assert_eq!(timed, 2, "each line has its duration and attempts: {text}");
    }
}
