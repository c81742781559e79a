//! reconcile-orders: invoked on a schedule; finishes the orders left unfinished.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_shared::adapters::dynamodb::{DynamoLedger, DynamoOpenOrders, LedgerTables};
use orderflow_shared::adapters::eventbridge::EventBridgePublisher;
use orderflow_shared::{aws, telemetry};
use reconcile_orders::config::Config;
use reconcile_orders::handler::{ReconcileOrders, ScheduledEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    telemetry::metrics::init("reconcile-orders");
    let config = Config::from_env()?;
    let sdk = aws::sdk_config().await;
    let clients = aws::Clients::new(&sdk);
    let dynamodb = clients.dynamodb();
    // Only `charge_for` is called, which reads the Payments table alone; the settlement's
    // tables are never written by this function (its role grants it nothing on them).
    let ledger = LedgerTables {
        payments: config.payments_table.clone(),
        idempotency: String::new(),
        orders: config.orders_table.clone(),
    };
    let function = ReconcileOrders {
        open: DynamoOpenOrders::new(
            dynamodb.clone(),
            &config.orders_table,
            &config.open_orders_index,
        ),
        ledger: DynamoLedger::new(dynamodb, ledger),
        events: EventBridgePublisher::new(clients.eventbridge(), &config.event_bus),
        bounds: config.bounds,
        sweep: config.sweep,
    };
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ScheduledEvent>| async move {
            let run = function.handle(event.payload).await;
            telemetry::metrics::flush();
            run.map_err(Error::from)
        },
    ))
    .await
}
