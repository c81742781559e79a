//! validate-order: `POST /orders` behind API Gateway (HTTP API).

use lambda_http::{service_fn, Error, Request};
use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::adapters::eventbridge::EventBridgePublisher;
use orderflow_shared::config::{required, ConfigError};
use orderflow_shared::{aws, telemetry};
use validate_order::handler::ValidateOrder;

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
                // The order is the Idempotency-Key's record (its id is derived from the key).
                idempotency: "(idempotency table: not used by validate-order)".into(),
                payments: "(payments table: not used by validate-order)".into(),
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
    let function = ValidateOrder {
        store: DynamoStore::new(aws::dynamodb_client(&sdk), config.tables),
        events: EventBridgePublisher::new(aws::eventbridge_client(&sdk), config.event_bus),
        access: orderflow_shared::http::Access::from_env(),
    };
    let function = &function;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(function.handle(request).await)
    }))
    .await
}
