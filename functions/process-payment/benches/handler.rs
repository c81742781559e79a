//! Per-event cost of process-payment's handler (`make bench` reports it): a batch of 10
//! `InventoryReserved`, each for a different reserved order, charged through the simulated
//! provider (in memory) with the in-memory store and publisher, the way the handler's unit
//! tests set it up.

use std::cell::Cell;

use chrono::{Duration, Utc};
use criterion::{BatchSize, Criterion, Throughput};
use orderflow_shared::adapters::memory::{MemoryEvents, MemoryStore};
use orderflow_shared::adapters::simulated_provider::memory::MemoryProvider;
use orderflow_shared::clock::Clock;
use orderflow_shared::domain::{OrderId, OrderStatus};
use orderflow_shared::idempotency::Policy;
use orderflow_shared::ports::Inventory;
use orderflow_shared::sqs_batch::BatchRunner;
use orderflow_shared::testing::{sqs_batch_for, store_with_fixture_orders, WithStore};
use process_payment::handler::ProcessPayment;

type Error = Box<dyn std::error::Error>;
type Function =
    WithStore<ProcessPayment<MemoryStore, MemoryStore, MemoryStore, MemoryProvider, MemoryEvents>>;

const BATCH: usize = 10;

/// The fixtures' catalog with one reserved order per id.
async fn function(ids: &[OrderId]) -> Result<Function, Error> {
    let store = store_with_fixture_orders(ids).await?;
    for id in ids {
        let lines = store.order(id).ok_or("order not stored")?.lines;
        store.reserve_stock(id, &lines, Utc::now()).await?;
    }
    Ok(WithStore {
        function: ProcessPayment {
            orders: store.clone(),
            ledger: store.clone(),
            keys: store.clone(),
            gateway: MemoryProvider::new(Duration::days(1), Clock::system()),
            events: MemoryEvents::new(),
            policy: Policy::new(Duration::seconds(60), Duration::days(7)),
            runner: BatchRunner::default(),
            clock: Clock::system(),
        },
        store,
    })
}

fn main() -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ids: Vec<OrderId> = (0..BATCH).map(|_| OrderId::new()).collect();
    let batch = sqs_batch_for("sqs-inventory-reserved.json", &ids)?;

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
