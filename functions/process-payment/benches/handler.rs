//! Per-event cost of process-payment's handler (`make bench` reports it): a batch of 10
//! `InventoryReserved`, each for a different reserved order, charged through the simulated
//! gateway with the in-memory store and publisher, the way the handler's unit tests set it up.

use std::cell::Cell;

use aws_lambda_events::sqs::SqsEvent;
use chrono::{Duration, Utc};
use criterion::{BatchSize, Criterion, Throughput};
use orderflow_shared::adapters::memory::{MemoryEvents, MemoryStore};
use orderflow_shared::adapters::simulated_gateway::SimulatedGateway;
use orderflow_shared::domain::{
    Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, OrderStatus, PaymentToken,
    Quantity, Sku,
};
use orderflow_shared::faults::Faults;
use orderflow_shared::idempotency::Policy;
use orderflow_shared::ports::{Inventory, OrderRepository, Product};
use process_payment::handler::ProcessPayment;

type Error = Box<dyn std::error::Error>;
type Function = ProcessPayment<MemoryStore, SimulatedGateway, MemoryEvents>;

const BATCH: usize = 10;
/// The order of `events/sqs-inventory-reserved.json`; each record of the batch gets its own.
const FIXTURE_ORDER_ID: &str = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";

/// `fixture`'s one record, repeated for each order.
fn batch_of(fixture: &str, ids: &[OrderId]) -> Result<SqsEvent, Error> {
    let mut event = orderflow_shared::testing::sqs_fixture(fixture)?;
    let record = event.records.first().cloned().ok_or("empty fixture")?;
    let body = record.body.clone().ok_or("fixture record without body")?;
    event.records = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut r = record.clone();
            r.message_id = Some(format!("msg-bench-{i}"));
            r.body = Some(body.replace(FIXTURE_ORDER_ID, id.as_str()));
            r
        })
        .collect();
    Ok(event)
}

/// The fixture's lines: two T-shirts and a mug.
fn lines() -> Result<Vec<OrderLine>, Error> {
    let line = |sku: &str, qty: u32, cents: i64| -> Result<OrderLine, Error> {
        Ok(OrderLine {
            sku: Sku::parse(sku)?,
            quantity: Quantity::new(qty)?,
            unit_price: Money::new(cents, Currency::EUR),
        })
    };
    Ok(vec![
        line("SKU-TSHIRT-M", 2, 1999)?,
        line("SKU-MUG", 1, 1250)?,
    ])
}

/// A store with ample stock and one reserved order per id.
async fn function(ids: &[OrderId]) -> Result<Function, Error> {
    let product = |sku: &str, name: &str, cents: i64| -> Result<Product, Error> {
        Ok(Product {
            sku: Sku::parse(sku)?,
            name: name.into(),
            price: Money::new(cents, Currency::EUR),
            stock: 1_000_000,
        })
    };
    let store = MemoryStore::with_products([
        product("SKU-TSHIRT-M", "T-shirt M", 1999)?,
        product("SKU-MUG", "Mug", 1250)?,
    ]);
    for id in ids {
        let order = Order::place(
            id.clone(),
            CustomerId::parse("cust-42")?,
            Email::parse("ana@example.com")?,
            PaymentToken::parse("tok_visa")?,
            lines()?,
            Utc::now(),
        )?;
        store.create(&order).await?;
        store.reserve_stock(id, &order.lines, Utc::now()).await?;
    }
    Ok(ProcessPayment {
        store,
        gateway: SimulatedGateway,
        events: MemoryEvents::new(),
        idempotency: Policy::new(Duration::seconds(60), Duration::days(7)),
        faults: Faults::none(),
    })
}

fn main() -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ids: Vec<OrderId> = (0..BATCH).map(|_| OrderId::new()).collect();
    let batch = batch_of("sqs-inventory-reserved.json", &ids)?;

    // The batch must do the real work: every order charged and confirmed, nothing failed.
    let f = rt.block_on(function(&ids))?;
    let response = rt.block_on(f.handle_batch(batch.clone()));
    let confirmed = ids
        .iter()
        .filter(|id| f.store.order(id).map(|o| o.status) == Some(OrderStatus::Confirmed))
        .count();
    if !response.batch_item_failures.is_empty() || confirmed != BATCH {
        return Err(format!("the bench batch confirmed {confirmed} of {BATCH} orders").into());
    }

    let failed = Cell::new(0usize);
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("process-payment");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("inventory_reserved_batch_of_10", |b| {
        b.iter_batched(
            || (rt.block_on(function(&ids)).ok(), batch.clone()),
            |(f, batch)| {
                let response = f.as_ref().map(|f| rt.block_on(f.handle_batch(batch)));
                if response
                    .as_ref()
                    .is_none_or(|r| !r.batch_item_failures.is_empty())
                {
                    failed.set(failed.get() + 1);
                }
                // Dropped after the timing.
                (f, response)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
    c.final_summary();
    match failed.get() {
        0 => Ok(()),
        n => Err(format!("{n} bench iterations failed").into()),
    }
}
