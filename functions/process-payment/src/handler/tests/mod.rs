//! process-payment's handler against the in-memory store and the in-memory simulated provider,
//! driven by the fixtures in `events/`; the clock is moved by hand where a provider's key
//! retention has to pass.

mod expiry;
mod unknown_outcome;

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use chrono::{Duration, Utc};
use orderflow_shared::adapters::memory::{MemoryEvents, MemoryStore};
use orderflow_shared::adapters::simulated_provider::memory::MemoryProvider;
use orderflow_shared::clock::ManualClock;
use orderflow_shared::domain::{
    Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, PaymentToken, Quantity, Sku,
};
use orderflow_shared::events::{envelope_from_eventbridge_json, EventType};
use orderflow_shared::ports::{
    ChargeRecord, Inventory, Recorded, SettleError, Settlement, StoreError,
};
use orderflow_shared::testing::WithStore;

const ORDER_ID: &str = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";
const DECLINED_ORDER_ID: &str = "7a2b3c4d-5e6f-4a70-9b8c-0d1e2f3a4b5c";
const GATEWAY_ERROR_ORDER_ID: &str = "8b3c4d5e-6f70-4b81-8c9d-1e2f3a4b5c6d";

/// The provider's key retention in these tests, as the template's default.
fn retention() -> Duration {
    Duration::days(1)
}

/// The in-memory ledger whose next N settlements fail as a store outage, nothing written (the
/// rest is the store's).
#[derive(Clone)]
struct FlakyLedger {
    store: MemoryStore,
    settle_failures: std::sync::Arc<AtomicUsize>,
}

impl FlakyLedger {
    fn fail_next_settlements(&self, n: usize) {
        self.settle_failures.store(n, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl PaymentLedger for FlakyLedger {
    async fn record(&self, record: &ChargeRecord) -> Result<Recorded, StoreError> {
        self.store.record(record).await
    }

    async fn charge_for(&self, order_id: &OrderId) -> Result<Option<ChargeRecord>, StoreError> {
        self.store.charge_for(order_id).await
    }

    async fn settle(
        &self,
        settlement: &Settlement,
        at: chrono::DateTime<Utc>,
    ) -> Result<(), SettleError> {
        let failing = self
            .settle_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(SettleError::Store(StoreError::Unavailable(
                "injected settlement outage".into(),
            )));
        }
        self.store.settle(settlement, at).await
    }
}

type Function =
    WithStore<ProcessPayment<MemoryStore, FlakyLedger, MemoryStore, MemoryProvider, MemoryEvents>>;

/// The function and the hand of its clock (shared with the provider).
struct Fixture {
    f: Function,
    clock: ManualClock,
}

impl std::ops::Deref for Fixture {
    type Target = Function;

    fn deref(&self) -> &Function {
        &self.f
    }
}

fn fixture(name: &str) -> SqsEvent {
    orderflow_shared::testing::sqs_fixture(name).unwrap()
}

/// The first record of a fixture, as the handler receives it.
fn envelope(name: &str) -> Envelope {
    let batch = fixture(name);
    envelope_from_eventbridge_json(batch.records[0].body.as_deref().unwrap()).unwrap()
}

fn lines() -> Vec<OrderLine> {
    vec![
        OrderLine {
            sku: Sku::parse("SKU-TSHIRT-M").unwrap(),
            quantity: Quantity::new(2).unwrap(),
            unit_price: Money::new(1999, Currency::EUR),
        },
        OrderLine {
            sku: Sku::parse("SKU-MUG-350").unwrap(),
            quantity: Quantity::new(1).unwrap(),
            unit_price: Money::new(1200, Currency::EUR),
        },
    ]
}

fn product(sku: &str, cents: i64) -> orderflow_shared::ports::Product {
    orderflow_shared::ports::Product {
        sku: Sku::parse(sku).unwrap(),
        name: sku.into(),
        price: Money::new(cents, Currency::EUR),
        stock: 100,
    }
}

async fn function_with_reserved(ids: &[&str]) -> Fixture {
    let store =
        MemoryStore::with_products([product("SKU-TSHIRT-M", 1999), product("SKU-MUG-350", 1200)]);
    for id in ids {
        let order = Order::place(
            OrderId::parse(id).unwrap(),
            CustomerId::parse("cust-42").unwrap(),
            Email::parse("ana@example.com").unwrap(),
            PaymentToken::parse("tok_visa").unwrap(),
            lines(),
            Utc::now(),
        )
        .unwrap();
        store.create(&order).await.unwrap();
        store
            .reserve_stock(&order.order_id, &lines(), Utc::now())
            .await
            .unwrap();
    }
    let clock = ManualClock::new();
    let f = WithStore {
        function: ProcessPayment {
            orders: store.clone(),
            ledger: FlakyLedger {
                store: store.clone(),
                settle_failures: Default::default(),
            },
            keys: store.clone(),
            gateway: MemoryProvider::new(retention(), clock.clock()),
            events: MemoryEvents::new(),
            policy: Policy::new(Duration::seconds(30), Duration::days(7)),
            runner: BatchRunner::default(),
            clock: clock.clock(),
        },
        store,
    };
    Fixture { f, clock }
}

fn order_id(id: &str) -> OrderId {
    OrderId::parse(id).unwrap()
}

fn status(f: &Fixture, id: &str) -> OrderStatus {
    f.store.order(&order_id(id)).unwrap().status
}

fn published_types(f: &Fixture) -> Vec<EventType> {
    f.events
        .published()
        .iter()
        .map(|e| e.metadata.event_type)
        .collect()
}

/// How many approved charges the provider holds for the order.
fn approved_charges(f: &Fixture, id: &str) -> usize {
    f.gateway.approved_for(&order_id(id)).len()
}

#[tokio::test]
async fn an_approved_charge_is_recorded_confirms_the_order_and_publishes_payment_succeeded() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    let response = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Confirmed);
    let ledger = f.store.ledger_entries();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].amount, Money::new(5198, Currency::EUR));
    assert!(matches!(ledger[0].outcome, ChargeOutcome::Approved { .. }));
    assert_eq!(published_types(&f), [EventType::PaymentSucceeded]);
    assert_eq!(approved_charges(&f, ORDER_ID), 1);
}

#[tokio::test]
async fn a_declined_card_fails_the_payment_and_publishes_payment_failed() {
    let f = function_with_reserved(&[DECLINED_ORDER_ID]).await;
    let response = f
        .handle_batch(fixture("sqs-inventory-reserved-declined.json"))
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(status(&f, DECLINED_ORDER_ID), OrderStatus::PaymentFailed);
    assert!(matches!(
        f.store.ledger_entries()[0].outcome,
        ChargeOutcome::Declined { .. }
    ));
    assert_eq!(published_types(&f), [EventType::PaymentFailed]);
}

#[tokio::test]
async fn a_gateway_error_fails_only_its_record_and_is_never_acknowledged() {
    let f = function_with_reserved(&[GATEWAY_ERROR_ORDER_ID, ORDER_ID]).await;
    let response = f
        .handle_batch(fixture("sqs-inventory-reserved-gateway-error.json"))
        .await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|x| x.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["msg-0001"]);
    assert_eq!(status(&f, GATEWAY_ERROR_ORDER_ID), OrderStatus::Reserved);
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Confirmed);
    assert_eq!(
        f.store.ledger_entries().len(),
        1,
        "no ledger entry for the failed charge"
    );
}

#[tokio::test]
async fn a_redelivered_reservation_never_charges_twice() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
    let again = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(f.gateway.charge_calls(), 1);
    assert_eq!(f.store.ledger_entries().len(), 1);
    assert_eq!(status(&f, ORDER_ID), OrderStatus::Confirmed);
    assert_eq!(
        published_types(&f),
        [EventType::PaymentSucceeded, EventType::PaymentSucceeded]
    );
}

#[tokio::test]
async fn a_crash_after_the_charge_resumes_from_the_ledger_without_charging_again() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.events.fail_next(1);
    let first = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
    assert_eq!(
        first.batch_item_failures.len(),
        1,
        "publish failed, so the record is retried"
    );
    let retry = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
    assert!(retry.batch_item_failures.is_empty());
    assert_eq!(f.gateway.charge_calls(), 1);
    assert_eq!(published_types(&f), [EventType::PaymentSucceeded]);
}

#[tokio::test]
async fn an_earlier_ledger_entry_decides_the_outcome_when_the_settlement_is_refused() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    // An earlier delivery wrote the entry and then lost its key (settled step by step).
    let earlier = ChargeRecord {
        order_id: order_id(ORDER_ID),
        amount: Money::new(5198, Currency::EUR),
        outcome: ChargeOutcome::Declined {
            reason: "card declined".into(),
        },
        at: Utc::now(),
    };
    f.store.record(&earlier).await.unwrap();

    let response = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(f.store.ledger_entries(), vec![earlier]);
    assert_eq!(status(&f, ORDER_ID), OrderStatus::PaymentFailed);
    assert_eq!(published_types(&f), [EventType::PaymentFailed]);
    let again = f.handle_batch(fixture("sqs-inventory-reserved.json")).await;
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(
        f.gateway.charge_calls(),
        1,
        "the key was completed with the ledger's outcome"
    );
}

#[tokio::test]
async fn concurrent_duplicates_charge_once() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    let (a, b) = tokio::join!(
        f.handle_batch(fixture("sqs-inventory-reserved.json")),
        f.handle_batch(fixture("sqs-inventory-reserved.json"))
    );
    assert!(a.batch_item_failures.len() + b.batch_item_failures.len() <= 1);
    assert_eq!(f.gateway.charge_calls(), 1);
    assert_eq!(f.store.ledger_entries().len(), 1);
}

#[tokio::test]
async fn an_event_this_function_does_not_handle_fails_its_record() {
    let f = function_with_reserved(&[]).await;
    let response = f.handle_batch(fixture("sqs-order-placed.json")).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(f.gateway.charge_calls(), 0);
}

#[tokio::test]
async fn the_flaky_ledger_fails_only_the_settlements_it_was_told_to() {
    let f = function_with_reserved(&[ORDER_ID]).await;
    f.ledger.fail_next_settlements(1);
    let settlement = Settlement {
        record: ChargeRecord {
            order_id: order_id(ORDER_ID),
            amount: Money::new(5198, Currency::EUR),
            outcome: ChargeOutcome::Declined {
                reason: "card declined".into(),
            },
            at: Utc::now(),
        },
        key: "charge#k".into(),
        result: "r".into(),
        to: OrderStatus::PaymentFailed,
    };
    assert!(matches!(
        f.ledger.settle(&settlement, Utc::now()).await,
        Err(SettleError::Store(_))
    ));
    assert!(f.store.ledger_entries().is_empty(), "nothing written");
    // The key is not held, so the store itself refuses the next one: the wrapper passed it on.
    assert!(matches!(
        f.ledger.settle(&settlement, Utc::now()).await,
        Err(SettleError::Refused(_))
    ));
}
