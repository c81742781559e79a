//! process-payment: consumes the payment queue (InventoryReserved, ReservationExpired).

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_shared::adapters::dynamodb::{
    DynamoIdempotency, DynamoLedger, DynamoOrders, DynamoProvider, LedgerTables,
};
use orderflow_shared::adapters::eventbridge::EventBridgePublisher;
use orderflow_shared::clock::Clock;
use orderflow_shared::{aws, telemetry};
use process_payment::config::Config;
use process_payment::handler::ProcessPayment;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    telemetry::metrics::init("process-payment");
    let config = Config::from_env()?;
    let sdk = aws::sdk_config().await;
    let clients = aws::Clients::new(&sdk);
    let dynamodb = clients.dynamodb();
    let ledger = LedgerTables {
        payments: config.payments_table.clone(),
        idempotency: config.idempotency_table.clone(),
        orders: config.orders_table.clone(),
    };
    let function = ProcessPayment {
        orders: DynamoOrders::new(dynamodb.clone(), &config.orders_table),
        ledger: DynamoLedger::new(dynamodb.clone(), ledger),
        keys: DynamoIdempotency::new(dynamodb.clone(), &config.idempotency_table),
        // The simulated provider (template parameter PaymentProvider); a real one's adapter
        // implements the same PaymentGateway port.
        gateway: DynamoProvider::new(
            dynamodb,
            &config.provider_table,
            config.provider_key_ttl,
            Clock::system(),
        ),
        events: EventBridgePublisher::new(clients.eventbridge(), &config.event_bus),
        // From the template, whose rules keep the lock between the function's Timeout and the
        // queue's visibility timeout, and a completed charge remembered as long as its message
        // can live: no redelivery finds the key forgotten and asks the provider again.
        policy: config.policy,
        runner: config.runner(),
        clock: Clock::system(),
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(function.handle_batch(event.payload).await)
    }))
    .await
}
