//! update-inventory: consumes the inventory queue (OrderPlaced, PaymentFailed).

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::adapters::eventbridge::EventBridgePublisher;
use orderflow_shared::config::{required, ConfigError};
use orderflow_shared::faults::Faults;
use orderflow_shared::{aws, telemetry};
use update_inventory::handler::UpdateInventory;

struct Config {
    tables: TableNames,
    event_bus: String,
}

impl Config {
    fn from_env() -> Result<Self, ConfigError> {
        Ok(Config {
            tables: TableNames {
                orders: required("ORDERS_TABLE", "name of the Orders table")?,
                inventory: required("INVENTORY_TABLE", "name of the Inventory table")?,
                payments: "(payments table: not used by update-inventory)".into(),
                idempotency: "(idempotency table: not used by update-inventory)".into(),
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
    let function = UpdateInventory {
        faults: Faults::from_env()?,
        store: DynamoStore::new(aws::dynamodb_client(&sdk), config.tables),
        events: EventBridgePublisher::new(aws::eventbridge_client(&sdk), config.event_bus),
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(function.handle_batch(event.payload).await)
    }))
    .await
}
