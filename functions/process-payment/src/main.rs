//! process-payment: consumes the payment queue (InventoryReserved, ReservationExpired).

use aws_lambda_events::sqs::SqsEvent;
use chrono::Duration;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use orderflow_shared::adapters::dynamodb::{
    DynamoIdempotency, DynamoLedger, DynamoOrders, DynamoProvider, LedgerTables,
};
use orderflow_shared::adapters::eventbridge::EventBridgePublisher;
use orderflow_shared::clock::Clock;
use orderflow_shared::idempotency::Policy;
use orderflow_shared::{aws, telemetry};
use process_payment::config::Config;
use process_payment::handler::ProcessPayment;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws::sdk_config().await;
    let clients = config.clients(&sdk);
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
        // The lock outlives the function timeout (20 s), so a live holder is never taken over.
        // A completed charge is remembered longer than SQS keeps any message (14 days), so no
        // redelivery can find its key forgotten and ask the provider again.
        policy: Policy::new(Duration::seconds(60), Duration::days(15)),
        runner: config.runner(),
        clock: Clock::system(),
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(function.handle_batch(event.payload).await)
    }))
    .await
}
