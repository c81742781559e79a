//! The in-memory fakes keep the conditional-write semantics of the DynamoDB adapters.

use super::*;
use crate::domain::{Currency, CustomerId, Email, Money, PaymentToken, Quantity};
use crate::ports::{ChargeOutcome, EventPublisher};
use chrono::Duration;

fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap()
}

fn product(s: &str, stock: u32) -> Product {
    Product {
        sku: sku(s),
        name: s.to_lowercase(),
        price: Money::new(1000, Currency::EUR),
        stock,
    }
}

fn line(s: &str, qty: u32) -> OrderLine {
    OrderLine {
        sku: sku(s),
        quantity: Quantity::new(qty).unwrap(),
        unit_price: Money::new(1000, Currency::EUR),
    }
}

async fn pending_order(store: &MemoryStore, lines: Vec<OrderLine>) -> OrderId {
    let order = Order::place(
        OrderId::new(),
        CustomerId::parse("c-1").unwrap(),
        Email::parse("a@example.com").unwrap(),
        PaymentToken::parse("tok_visa").unwrap(),
        lines,
        Utc::now(),
    )
    .unwrap();
    let id = order.order_id.clone();
    store.create(&order).await.unwrap();
    id
}

#[tokio::test]
async fn creating_an_order_twice_is_refused() {
    let store = MemoryStore::new();
    let id = pending_order(&store, vec![line("SKU-A", 1)]).await;
    let order = store.order(&id).unwrap();
    assert_eq!(
        store.create(&order).await,
        Err(OrderWriteError::AlreadyExists(Box::new(order.clone())))
    );
}

#[tokio::test]
async fn a_transition_applies_only_from_the_expected_state() {
    let store = MemoryStore::new();
    let id = pending_order(&store, vec![line("SKU-A", 1)]).await;
    let now = Utc::now();
    assert!(matches!(
        store
            .transition(&id, OrderStatus::Reserved, OrderStatus::Confirmed, now)
            .await,
        Err(OrderWriteError::Conflict {
            actual: OrderStatus::Pending,
            ..
        })
    ));
    store
        .transition(&id, OrderStatus::Pending, OrderStatus::Rejected, now)
        .await
        .unwrap();
    assert_eq!(store.order(&id).unwrap().status, OrderStatus::Rejected);
    assert!(matches!(
        store
            .transition(&id, OrderStatus::Pending, OrderStatus::Cancelled, now)
            .await,
        Err(OrderWriteError::Illegal(_))
    ));
    assert!(matches!(
        store
            .transition(
                &OrderId::new(),
                OrderStatus::Pending,
                OrderStatus::Rejected,
                now
            )
            .await,
        Err(OrderWriteError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_reservation_takes_all_lines_or_nothing() {
    let store = MemoryStore::with_products([product("SKU-A", 5), product("SKU-B", 1)]);
    let id = pending_order(&store, vec![line("SKU-A", 2), line("SKU-B", 2)]).await;
    let err = store
        .reserve_stock(&id, &store.order(&id).unwrap().lines, Utc::now())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ReserveError::InsufficientStock(vec![Shortage {
            sku: sku("SKU-B"),
            requested: Quantity::new(2).unwrap(),
            available: 1
        }])
    );
    assert_eq!(
        store.stock_of(&sku("SKU-A")),
        Some(5),
        "nothing taken on failure"
    );
    assert_eq!(store.order(&id).unwrap().status, OrderStatus::Pending);
}

#[tokio::test]
async fn a_reservation_never_takes_stock_below_zero_and_is_taken_once() {
    let store = MemoryStore::with_products([product("SKU-A", 1)]);
    let first = pending_order(&store, vec![line("SKU-A", 1)]).await;
    let second = pending_order(&store, vec![line("SKU-A", 1)]).await;
    let lines = vec![line("SKU-A", 1)];
    store
        .reserve_stock(&first, &lines, Utc::now())
        .await
        .unwrap();
    assert_eq!(store.order(&first).unwrap().status, OrderStatus::Reserved);
    assert_eq!(
        store.reserve_stock(&first, &lines, Utc::now()).await,
        Err(ReserveError::AlreadyReserved)
    );
    assert!(matches!(
        store.reserve_stock(&second, &lines, Utc::now()).await,
        Err(ReserveError::InsufficientStock(_))
    ));
    assert_eq!(store.stock_of(&sku("SKU-A")), Some(0));
}

#[tokio::test]
async fn a_reservation_for_an_order_that_is_no_longer_pending_is_refused() {
    let store = MemoryStore::with_products([product("SKU-A", 3)]);
    let id = pending_order(&store, vec![line("SKU-A", 1)]).await;
    store
        .transition(&id, OrderStatus::Pending, OrderStatus::Rejected, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        store
            .reserve_stock(&id, &[line("SKU-A", 1)], Utc::now())
            .await,
        Err(ReserveError::OrderNotPending {
            actual: Some(OrderStatus::Rejected)
        })
    );
    assert_eq!(store.stock_of(&sku("SKU-A")), Some(3));
}

#[tokio::test]
async fn a_release_returns_the_stock_once_and_cancels_the_order() {
    let store = MemoryStore::with_products([product("SKU-A", 3)]);
    let id = pending_order(&store, vec![line("SKU-A", 2)]).await;
    store
        .reserve_stock(&id, &[line("SKU-A", 2)], Utc::now())
        .await
        .unwrap();
    assert_eq!(
        store.release_stock(&id, Utc::now()).await,
        Err(ReleaseError::OrderNotPaymentFailed {
            actual: Some(OrderStatus::Reserved)
        })
    );
    store
        .transition(
            &id,
            OrderStatus::Reserved,
            OrderStatus::PaymentFailed,
            Utc::now(),
        )
        .await
        .unwrap();
    let released = store.release_stock(&id, Utc::now()).await.unwrap();
    assert_eq!(released, vec![line("SKU-A", 2)]);
    assert_eq!(store.stock_of(&sku("SKU-A")), Some(3));
    assert_eq!(store.order(&id).unwrap().status, OrderStatus::Cancelled);
    assert_eq!(
        store.release_stock(&id, Utc::now()).await,
        Err(ReleaseError::NotHeld)
    );
    assert_eq!(store.stock_of(&sku("SKU-A")), Some(3));
}

fn sharded(s: &str, stock: u32, shards: u32) -> CatalogEntry {
    CatalogEntry {
        product: product(s, stock),
        shards: ShardCount::new(shards).unwrap(),
    }
}

async fn reserve(
    store: &MemoryStore,
    lines: Vec<OrderLine>,
) -> (OrderId, Result<(), ReserveError>) {
    let id = pending_order(store, lines.clone()).await;
    let answer = store.reserve_stock(&id, &lines, Utc::now()).await;
    (id, answer)
}

#[tokio::test]
async fn a_sharded_sku_is_spread_evenly_and_listed_with_its_total() {
    let store = MemoryStore::new();
    store.put_entries([sharded("SKU-HOT", 20, 8)]);
    assert_eq!(
        store.shard_stocks(&sku("SKU-HOT")),
        Some(vec![3, 3, 3, 3, 2, 2, 2, 2])
    );
    assert_eq!(store.stock_of(&sku("SKU-HOT")), Some(20));
    assert_eq!(store.all_products().await.unwrap()[0].stock, 20);
    assert_eq!(
        store.products(&[sku("SKU-HOT")]).await.unwrap()[0].stock,
        20
    );
}

#[tokio::test]
async fn a_line_is_taken_whole_from_one_shard_and_released_back_into_it() {
    let store = MemoryStore::new();
    store.put_entries([sharded("SKU-HOT", 40, 4)]);
    let (id, answer) = reserve(&store, vec![line("SKU-HOT", 3)]).await;
    answer.unwrap();
    let held = store.reservation(&id).unwrap();
    let shard = usize::from(held.lines[0].shard);
    let mut expected = vec![10; 4];
    expected[shard] = 7;
    assert_eq!(store.shard_stocks(&sku("SKU-HOT")), Some(expected));
    store
        .transition(
            &id,
            OrderStatus::Reserved,
            OrderStatus::PaymentFailed,
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.release_stock(&id, Utc::now()).await.unwrap(),
        vec![line("SKU-HOT", 3)]
    );
    assert_eq!(store.shard_stocks(&sku("SKU-HOT")), Some(vec![10; 4]));
}

#[tokio::test]
async fn buyers_of_a_sharded_sku_sell_it_out_exactly_and_only_then_are_refused() {
    let store = MemoryStore::new();
    store.put_entries([sharded("SKU-HOT", 20, 8)]);
    let mut reserved = 0;
    for buyer in 0..50 {
        match reserve(&store, vec![line("SKU-HOT", 1)]).await.1 {
            Ok(()) => reserved += 1,
            Err(ReserveError::InsufficientStock(short)) => {
                assert_eq!(
                    short[0].available, 0,
                    "buyer {buyer} refused while units remained"
                );
            }
            Err(other) => panic!("buyer {buyer}: {other:?}"),
        }
    }
    assert_eq!(reserved, 20);
    assert_eq!(store.shard_stocks(&sku("SKU-HOT")), Some(vec![0; 8]));
}

#[tokio::test]
async fn a_line_no_shard_serves_alone_is_served_after_units_move_into_one_shard() {
    let store = MemoryStore::new();
    store.put_entries([sharded("SKU-HOT", 6, 4)]);
    // [2, 2, 1, 1]: no shard holds 5, the total does.
    let (id, answer) = reserve(&store, vec![line("SKU-HOT", 5)]).await;
    answer.unwrap();
    let stocks = store.shard_stocks(&sku("SKU-HOT")).unwrap();
    assert_eq!(stocks.iter().sum::<u32>(), 1);
    assert_eq!(
        stocks[usize::from(store.reservation(&id).unwrap().lines[0].shard)],
        0
    );
    // One unit left somewhere: a line of 2 is short by the total, a line of 1 is served.
    let (_, short) = reserve(&store, vec![line("SKU-HOT", 2)]).await;
    assert_eq!(
        short,
        Err(ReserveError::InsufficientStock(vec![Shortage {
            sku: sku("SKU-HOT"),
            requested: Quantity::new(2).unwrap(),
            available: 1
        }]))
    );
    reserve(&store, vec![line("SKU-HOT", 1)]).await.1.unwrap();
    assert_eq!(store.stock_of(&sku("SKU-HOT")), Some(0));
}

#[tokio::test]
async fn an_order_with_one_short_line_moves_and_takes_nothing_from_any_shard() {
    let store = MemoryStore::new();
    store.put_entries([sharded("SKU-HOT", 6, 4), sharded("SKU-B", 1, 1)]);
    let (id, answer) = reserve(&store, vec![line("SKU-HOT", 5), line("SKU-B", 2)]).await;
    assert!(matches!(answer, Err(ReserveError::InsufficientStock(s)) if s.len() == 1));
    assert_eq!(
        store.shard_stocks(&sku("SKU-HOT")),
        Some(vec![2, 2, 1, 1]),
        "no rebalance for an order refused"
    );
    assert_eq!(store.reservation(&id), None);
}

#[tokio::test]
async fn the_ledger_keeps_the_first_entry_per_order() {
    let store = MemoryStore::new();
    let order_id = OrderId::new();
    let entry = |charge_id: &str| ChargeRecord {
        order_id: order_id.clone(),
        amount: Money::new(100, Currency::EUR),
        outcome: ChargeOutcome::Approved {
            charge_id: charge_id.into(),
        },
        at: Utc::now(),
    };
    assert_eq!(store.record(&entry("ch_1")).await.unwrap(), Recorded::New);
    let again = store.record(&entry("ch_2")).await.unwrap();
    assert!(matches!(again, Recorded::Existing(r) if r.outcome == entry("ch_1").outcome));
    assert_eq!(store.ledger_entries().len(), 1);
}

fn settlement(order_id: &OrderId) -> Settlement {
    Settlement {
        record: ChargeRecord {
            order_id: order_id.clone(),
            amount: Money::new(1000, Currency::EUR),
            outcome: ChargeOutcome::Approved {
                charge_id: "ch_1".into(),
            },
            at: Utc::now(),
        },
        key: format!("charge#{order_id}"),
        result: "approved".into(),
        to: OrderStatus::Confirmed,
    }
}

#[tokio::test]
async fn a_settlement_writes_the_entry_completes_the_key_and_confirms_the_order_at_once() {
    let store = MemoryStore::with_products([product("SKU-A", 5)]);
    let id = pending_order(&store, vec![line("SKU-A", 1)]).await;
    store
        .reserve_stock(&id, &[line("SKU-A", 1)], Utc::now())
        .await
        .unwrap();
    let settle = settlement(&id);
    let now = Utc::now();
    store.claim(&settle.key, "h", times(now)).await.unwrap();

    store.settle(&settle, now).await.unwrap();

    assert_eq!(store.ledger_entries(), vec![settle.record.clone()]);
    assert_eq!(store.order(&id).unwrap().status, OrderStatus::Confirmed);
    assert_eq!(
        store.claim(&settle.key, "h", times(now)).await.unwrap(),
        Claim::Completed("approved".into())
    );
    let again = store.settle(&settle, now).await.unwrap_err();
    assert_eq!(
        again,
        SettleError::Refused(
            "the order has a ledger entry; the key is not held; the order is not RESERVED".into()
        )
    );
}

#[tokio::test]
async fn a_refused_settlement_writes_nothing() {
    let store = MemoryStore::with_products([product("SKU-A", 5)]);
    let id = pending_order(&store, vec![line("SKU-A", 1)]).await;
    let settle = settlement(&id);
    let now = Utc::now();
    store.claim(&settle.key, "h", times(now)).await.unwrap();

    let refused = store.settle(&settle, now).await.unwrap_err();

    assert_eq!(
        refused,
        SettleError::Refused("the order is not RESERVED".into())
    );
    assert!(store.ledger_entries().is_empty());
    assert_eq!(store.order(&id).unwrap().status, OrderStatus::Pending);
    assert_eq!(
        store.claim(&settle.key, "h", times(now)).await.unwrap(),
        Claim::InProgress,
        "the key is still held, not completed"
    );
}

fn times(now: DateTime<Utc>) -> ClaimTimes {
    ClaimTimes {
        now,
        lock_until: now + Duration::seconds(30),
        expires_at: now + Duration::hours(24),
    }
}

#[tokio::test]
async fn an_idempotency_key_is_claimed_once_then_reports_its_result() {
    let store = MemoryStore::new();
    let now = Utc::now();
    assert_eq!(
        store.claim("k", "h", times(now)).await.unwrap(),
        Claim::Acquired
    );
    assert_eq!(
        store.claim("k", "h", times(now)).await.unwrap(),
        Claim::InProgress
    );
    assert_eq!(
        store.claim("k", "other", times(now)).await,
        Err(IdempotencyError::PayloadMismatch)
    );
    store.complete("k", "done").await.unwrap();
    assert_eq!(
        store.claim("k", "h", times(now)).await.unwrap(),
        Claim::Completed("done".into())
    );
    assert_eq!(
        store.complete("k", "again").await,
        Err(IdempotencyError::NotHeld)
    );
}

#[tokio::test]
async fn an_expired_lock_is_taken_over_and_an_expired_record_is_forgotten() {
    let store = MemoryStore::new();
    let now = Utc::now();
    store.claim("k", "h", times(now)).await.unwrap();
    let after_lock = now + Duration::seconds(31);
    assert_eq!(
        store.claim("k", "h", times(after_lock)).await.unwrap(),
        Claim::Acquired
    );
    store.complete("k", "done").await.unwrap();
    let after_expiry = now + Duration::hours(25);
    assert_eq!(
        store
            .claim("k", "new-payload", times(after_expiry))
            .await
            .unwrap(),
        Claim::Acquired
    );
}

#[tokio::test]
async fn a_released_key_can_be_claimed_again_at_once() {
    let store = MemoryStore::new();
    let now = Utc::now();
    store.claim("k", "h", times(now)).await.unwrap();
    store.release("k").await.unwrap();
    assert_eq!(
        store.claim("k", "h", times(now)).await.unwrap(),
        Claim::Acquired
    );
}

#[tokio::test]
async fn injected_store_failures_fail_exactly_the_next_calls() {
    let store = MemoryStore::with_products([product("SKU-A", 1)]);
    store.fail_next(2);
    assert!(store.all_products().await.is_err());
    assert!(store.all_products().await.is_err());
    assert_eq!(store.all_products().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_event_and_notification_fakes_record_and_can_fail() {
    let events = MemoryEvents::new();
    events.fail_next(1);
    assert!(events.publish(&[]).await.is_err());
    assert!(events.publish(&[]).await.is_ok());
    let notifier = MemoryNotifier::new();
    notifier.fail_next(1);
    let n = Notification {
        kind: crate::events::NotificationKind::OrderConfirmed,
        order_id: OrderId::new(),
        email: Email::parse("a@example.com").unwrap(),
        subject: "s".into(),
        text: "t".into(),
    };
    assert!(notifier.notify(&n).await.is_err());
    assert_eq!(notifier.notify(&n).await.unwrap(), "msg-1");
    assert_eq!(notifier.sent(), vec![n]);
}

#[tokio::test]
async fn clones_of_a_store_share_one_state() {
    let store = MemoryStore::with_products([product("SKU-A", 2)]);
    let other = store.clone();
    let id = pending_order(&other, vec![line("SKU-A", 1)]).await;
    assert!(store.order(&id).is_some());
    other.fail_next(1);
    assert!(
        store.all_products().await.is_err(),
        "the injected failure is shared too"
    );
}
