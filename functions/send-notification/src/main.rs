//! send-notification: consumes the notification queue (terminal outcomes) and publishes to SNS.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_shared::adapters::dynamodb::DynamoIdempotency;
use orderflow_shared::adapters::sns::SnsNotifier;
use orderflow_shared::{aws, telemetry};
use send_notification::config::Config;
use send_notification::handler::SendNotification;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    telemetry::metrics::init("send-notification");
    let config = Config::from_env()?;
    let sdk = aws::sdk_config().await;
    let clients = aws::Clients::new(&sdk);
    let function = SendNotification {
        keys: DynamoIdempotency::new(clients.dynamodb(), &config.idempotency_table),
        notifier: SnsNotifier::new(clients.sns(), &config.topic_arn),
        policy: config.policy,
        runner: config.runner(),
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(function.handle_batch(event.payload).await)
    }))
    .await
}
