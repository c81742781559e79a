//! validate-order: `POST /orders` behind API Gateway (HTTP API).

use lambda_http::{service_fn, Error, Request};
use orderflow_shared::adapters::dynamodb::{DynamoCatalog, DynamoOrders};
use orderflow_shared::adapters::eventbridge::EventBridgePublisher;
use orderflow_shared::{aws, telemetry};
use validate_order::config::Config;
use validate_order::handler::ValidateOrder;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    telemetry::metrics::init("validate-order");
    let config = Config::from_env()?;
    let sdk = aws::sdk_config().await;
    let clients = aws::Clients::new(&sdk);
    let dynamodb = clients.dynamodb();
    let function = ValidateOrder {
        orders: DynamoOrders::new(dynamodb.clone(), &config.orders_table),
        catalog: DynamoCatalog::new(dynamodb, &config.inventory_table),
        events: EventBridgePublisher::new(clients.eventbridge(), &config.event_bus),
        access: config.access,
    };
    let function = &function;
    lambda_http::run(service_fn(move |request: Request| async move {
        let response = function.handle(request).await;
        telemetry::metrics::flush();
        Ok::<_, Error>(response)
    }))
    .await
}
