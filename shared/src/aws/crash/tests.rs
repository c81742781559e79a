use super::*;
use crate::config::lookup_from;

fn faults(spec: &str, seed: &str) -> Faults {
    Faults::parse(spec, seed).unwrap()
}

#[test]
fn no_crash_between_steps_asked_for_means_no_interceptor() {
    assert!(CrashBetweenSteps::new(faults("crash=10,error_before=5", "1"), "p").is_none());
    assert!(CrashBetweenSteps::new(faults("crash_between_steps=1", "1"), "p").is_some());
    assert!(CrashBetweenSteps::from_lookup(&|_| None).is_none());
    let bad = [("ORDERFLOW_FAULTS", "crash_between_steps=x")];
    assert!(CrashBetweenSteps::from_lookup(&lookup_from(&bad)).is_none());
}

#[test]
fn only_write_calls_end_the_process_and_only_they_are_counted() {
    let always = CrashBetweenSteps::new(faults("crash_between_steps=1000", "7"), "p").unwrap();
    for read in [
        "GetItem",
        "Query",
        "Scan",
        "TransactGetItems",
        "ReceiveMessage",
    ] {
        assert!(!always.ends_after(read), "{read}");
    }
    for write in [
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactWriteItems",
        "PutEvents",
        "PublishBatch",
    ] {
        assert!(always.ends_after(write), "{write}");
    }
    assert_eq!(always.writes.load(Ordering::SeqCst), 6);
}

/// The decisions of `calls` write calls of one process.
fn decisions(spec: &str, seed: &str, process: &str, calls: usize) -> Vec<bool> {
    let crash = CrashBetweenSteps::new(faults(spec, seed), process).unwrap();
    (0..calls).map(|_| crash.ends_after("PutItem")).collect()
}

#[test]
fn the_choice_is_seeded_by_the_process_and_the_call_number_and_close_to_the_rate() {
    let spec = "crash_between_steps=50";
    let first = decisions(spec, "7", "2025/01/01/[$LATEST]aa", 4000);
    assert_eq!(first, decisions(spec, "7", "2025/01/01/[$LATEST]aa", 4000));
    assert_ne!(
        first,
        decisions(spec, "7", "2025/01/01/[$LATEST]bb", 4000),
        "a restarted process (another stream) rolls anew"
    );
    assert_ne!(first, decisions(spec, "8", "2025/01/01/[$LATEST]aa", 4000));
    let hits = first.iter().filter(|h| **h).count();
    assert!((140..260).contains(&hits), "{hits} of 4000 at 5 %");
}

#[test]
fn the_process_is_its_function_and_log_stream_so_each_process_start_rolls_anew() {
    let process = |stream: &'static str| {
        let pairs = [
            ("ORDERFLOW_FAULTS", "crash_between_steps=100"),
            ("ORDERFLOW_FAULT_SEED", "7"),
            ("AWS_LAMBDA_FUNCTION_NAME", "update-inventory"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
        ];
        let crash = CrashBetweenSteps::from_lookup(&lookup_from(&pairs)).unwrap();
        (0..500)
            .map(|_| crash.ends_after("TransactWriteItems"))
            .collect::<Vec<_>>()
    };
    assert_eq!(process("local/0/0"), process("local/0/0"));
    assert_ne!(process("local/0/0"), process("local/0/1"));
}

#[test]
fn clones_share_one_count_per_process() {
    let crash = CrashBetweenSteps::new(faults("crash_between_steps=1", "1"), "p").unwrap();
    let other_client = crash.clone();
    crash.ends_after("PutItem");
    other_client.ends_after("PutEvents");
    assert_eq!(crash.writes.load(Ordering::SeqCst), 2);
}

#[cfg(feature = "dynamodb")]
mod on_a_client {
    use std::sync::Mutex;

    use aws_config::BehaviorVersion;
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn answer(status: u16, body: &'static str) -> ReplayEvent {
        ReplayEvent::new(
            http::Request::builder().body(SdkBody::empty()).unwrap(),
            http::Response::builder()
                .status(status)
                .body(SdkBody::from(body))
                .unwrap(),
        )
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_client_ends_the_process_after_a_write_that_succeeded_and_never_after_a_failure() {
        let ended = Arc::new(Mutex::new(Vec::<String>::new()));
        let record = ended.clone();
        let crash = CrashBetweenSteps::new(faults("crash_between_steps=1000", "7"), "p")
            .unwrap()
            .ending_with(move |service, operation| {
                record
                    .lock()
                    .unwrap()
                    .push(format!("{service}.{operation}"));
            });
        let refused = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"no"}"#;
        let http_client = StaticReplayClient::new(vec![
            answer(200, "{}"),
            answer(200, "{}"),
            answer(400, refused),
        ]);
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "akid", "secret", None, None, "test",
            ))
            .http_client(http_client)
            .interceptor(crash)
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let key = || AttributeValue::S("a".into());
        let put = client.put_item().table_name("t").item("id", key()).send();
        assert!(put.await.is_ok());
        let get = client.get_item().table_name("t").key("id", key()).send();
        assert!(get.await.is_ok());
        let refused = client.put_item().table_name("t").item("id", key()).send();
        assert!(refused.await.is_err());

        assert_eq!(*ended.lock().unwrap(), vec!["DynamoDB.PutItem".to_owned()]);
    }
}
