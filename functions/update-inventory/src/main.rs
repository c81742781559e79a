//! update-inventory: consumes the inventory queue (OrderPlaced, PaymentFailed).

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_shared::adapters::dynamodb::{DynamoOrders, DynamoStock, StockTables};
use orderflow_shared::adapters::eventbridge::EventBridgePublisher;
use orderflow_shared::{aws, telemetry};
use update_inventory::config::Config;
use update_inventory::handler::UpdateInventory;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    telemetry::metrics::init("update-inventory");
    let config = Config::from_env()?;
    let sdk = aws::sdk_config().await;
    let clients = aws::Clients::new(&sdk);
    let dynamodb = clients.dynamodb();
    let stock = StockTables {
        inventory: config.inventory_table.clone(),
        orders: config.orders_table.clone(),
    };
    let function = UpdateInventory {
        orders: DynamoOrders::new(dynamodb.clone(), &config.orders_table),
        stock: DynamoStock::new(dynamodb, stock),
        events: EventBridgePublisher::new(clients.eventbridge(), &config.event_bus),
        runner: config.runner(),
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(function.handle_batch(event.payload).await)
    }))
    .await
}
