//! process-payment: consumes the payment queue (InventoryReserved).

use aws_lambda_events::sqs::SqsEvent;
use chrono::Duration;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::adapters::eventbridge::EventBridgePublisher;
use orderflow_shared::adapters::simulated_gateway::SimulatedGateway;
use orderflow_shared::config::{required, ConfigError};
use orderflow_shared::faults::Faults;
use orderflow_shared::idempotency::Policy;
use orderflow_shared::{aws, telemetry};
use process_payment::handler::ProcessPayment;

struct Config {
    tables: TableNames,
    event_bus: String,
}

impl Config {
    fn from_env() -> Result<Self, ConfigError> {
        Ok(Config {
            tables: TableNames {
                orders: required("ORDERS_TABLE", "name of the Orders table")?,
                payments: required("PAYMENTS_TABLE", "name of the Payments ledger table")?,
                idempotency: required("IDEMPOTENCY_TABLE", "name of the Idempotency table")?,
                inventory: "(inventory table: not used by process-payment)".into(),
            },
            event_bus: required("EVENT_BUS_NAME", "name of the orderflow EventBridge bus")?,
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws::sdk_config().await;
    let function = ProcessPayment {
        faults: Faults::from_env()?,
        store: DynamoStore::new(aws::dynamodb_client(&sdk), config.tables),
        gateway: SimulatedGateway,
        events: EventBridgePublisher::new(aws::eventbridge_client(&sdk), config.event_bus),
        // The lock outlives the function timeout (20 s), so a live holder is never taken over.
        // A completed charge is remembered longer than SQS keeps any message (14 days), so no
        // redelivery can find its key forgotten and ask the provider again.
        idempotency: Policy::new(Duration::seconds(60), Duration::days(15)),
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(function.handle_batch(event.payload).await)
    }))
    .await
}
