//! Per-event cost of update-inventory's handler (`make bench` reports it): a batch of 10
//! `OrderPlaced`, each for a different pending order, reserved in the in-memory store, the way
//! the handler's unit tests set it up.

use std::cell::Cell;

use criterion::{BatchSize, Criterion, Throughput};
use orderflow_shared::adapters::memory::{MemoryEvents, MemoryStore};
use orderflow_shared::domain::{OrderId, OrderStatus};
use orderflow_shared::sqs_batch::BatchRunner;
use orderflow_shared::testing::{sqs_batch_for, store_with_fixture_orders, WithStore};
use update_inventory::handler::UpdateInventory;

type Error = Box<dyn std::error::Error>;
type Function = WithStore<UpdateInventory<MemoryStore, MemoryStore, MemoryEvents>>;

const BATCH: usize = 10;

/// The fixtures' catalog with one pending order per id.
async fn function(ids: &[OrderId]) -> Result<Function, Error> {
    let store = store_with_fixture_orders(ids).await?;
    Ok(WithStore {
        function: UpdateInventory {
            orders: store.clone(),
            stock: store.clone(),
            events: MemoryEvents::new(),
            runner: BatchRunner::default(),
        },
        store,
    })
}

fn main() -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ids: Vec<OrderId> = (0..BATCH).map(|_| OrderId::new()).collect();
    let batch = sqs_batch_for("sqs-order-placed.json", &ids)?;

    // The batch must do the real work: every order reserved, nothing failed.
    let f = rt.block_on(function(&ids))?;
    let response = rt.block_on(f.handle_batch(batch.clone()));
    let reserved = ids
        .iter()
        .filter(|id| f.store.order(id).map(|o| o.status) == Some(OrderStatus::Reserved))
        .count();
    if !response.batch_item_failures.is_empty() || reserved != BATCH {
        return Err(format!("the bench batch reserved {reserved} of {BATCH} orders").into());
    }

    let failed = Cell::new(0usize);
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("update-inventory");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("order_placed_batch_of_10", |b| {
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
