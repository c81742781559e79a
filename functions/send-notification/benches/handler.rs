//! Per-event cost of send-notification's handler (`make bench` reports it): a batch of 10
//! `PaymentSucceeded`, each for a different order, rendered and published once through the
//! in-memory idempotency store and notifier, the way the handler's unit tests set it up.

use std::cell::Cell;

use chrono::Duration;
use criterion::{BatchSize, Criterion, Throughput};
use orderflow_shared::adapters::memory::{MemoryNotifier, MemoryStore};
use orderflow_shared::domain::OrderId;
use orderflow_shared::idempotency::Policy;
use orderflow_shared::sqs_batch::BatchRunner;
use orderflow_shared::testing::sqs_batch_for;
use send_notification::handler::SendNotification;

type Error = Box<dyn std::error::Error>;
type Function = SendNotification<MemoryStore, MemoryNotifier>;

const BATCH: usize = 10;

fn function() -> Function {
    SendNotification {
        keys: MemoryStore::new(),
        notifier: MemoryNotifier::new(),
        policy: Policy::new(Duration::seconds(60), Duration::days(7)),
        runner: BatchRunner::default(),
    }
}

fn main() -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ids: Vec<OrderId> = (0..BATCH).map(|_| OrderId::new()).collect();
    let batch = sqs_batch_for("sqs-payment-succeeded.json", &ids)?;

    // The batch must do the real work: one notification per order, nothing failed.
    let f = function();
    let response = rt.block_on(f.handle_batch(batch.clone()));
    let sent = f.notifier.sent().len();
    if !response.batch_item_failures.is_empty() || sent != BATCH {
        return Err(format!("the bench batch sent {sent} of {BATCH} notifications").into());
    }

    let failed = Cell::new(0usize);
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("send-notification");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("payment_succeeded_batch_of_10", |b| {
        b.iter_batched(
            || (function(), batch.clone()),
            |(f, batch)| {
                let response = rt.block_on(f.handle_batch(batch));
                if !response.batch_item_failures.is_empty() {
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
