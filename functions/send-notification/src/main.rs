//! send-notification: consumes the notification queue (terminal outcomes) and publishes to SNS.

use aws_lambda_events::sqs::SqsEvent;
use chrono::Duration;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::adapters::sns::SnsNotifier;
use orderflow_shared::config::{required, ConfigError};
use orderflow_shared::faults::Faults;
use orderflow_shared::idempotency::Policy;
use orderflow_shared::{aws, telemetry};
use send_notification::handler::SendNotification;

struct Config {
    tables: TableNames,
    topic_arn: String,
}

impl Config {
    fn from_env() -> Result<Self, ConfigError> {
        Ok(Config {
            tables: TableNames {
                idempotency: required("IDEMPOTENCY_TABLE", "name of the Idempotency table")?,
                orders: "(orders table: not used by send-notification)".into(),
                inventory: "(inventory table: not used by send-notification)".into(),
                payments: "(payments table: not used by send-notification)".into(),
            },
            topic_arn: required(
                "NOTIFICATION_TOPIC_ARN",
                "ARN of the customer-notifications SNS topic",
            )?,
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws::sdk_config().await;
    let function = SendNotification {
        faults: Faults::from_env()?,
        store: DynamoStore::new(aws::dynamodb_client(&sdk), config.tables),
        notifier: SnsNotifier::new(aws::sns_client(&sdk), config.topic_arn),
        idempotency: Policy::new(Duration::seconds(60), Duration::days(7)),
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(function.handle_batch(event.payload).await)
    }))
    .await
}
