//! `DynamoStore` as orders repository, catalog, inventory and ledger, against moto.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{Duration, Utc};
use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::domain::{
    Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, OrderStatus, PaymentToken,
    Quantity, Sku,
};
use orderflow_shared::events::Shortage;
use orderflow_shared::idempotency::{Claim, ClaimTimes, IdempotencyStore};
use orderflow_shared::ports::{
    Catalog, ChargeOutcome, ChargeRecord, Inventory, OrderRepository, OrderWriteError,
    PaymentLedger, Product, Recorded, ReleaseError, Reservation, ReserveError, ReservedLine,
    SettleError, Settlement, StoreError,
};

use crate::support::{self, Moto};

/// A store on fresh tables; holds the server while the test runs.
pub struct Fixture {
    pub store: DynamoStore,
    pub client: Client,
    _moto: Arc<Moto>,
}

pub async fn fixture() -> Fixture {
    let moto = support::moto();
    let config = moto.sdk_config().await;
    let client = Client::new(&config);
    let tables = support::dynamodb::create_tables(&client).await;
    Fixture {
        store: DynamoStore::new(client.clone(), tables),
        client,
        _moto: moto,
    }
}

pub(crate) fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap()
}

fn eur(cents: i64) -> Money {
    Money::new(cents, Currency::EUR)
}

pub(crate) fn product(s: &str, stock: u32) -> Product {
    Product {
        sku: sku(s),
        name: format!("Product {s}"),
        price: eur(1000),
        stock,
    }
}

pub(crate) fn line(s: &str, qty: u32) -> OrderLine {
    OrderLine {
        sku: sku(s),
        quantity: Quantity::new(qty).unwrap(),
        unit_price: eur(1000),
    }
}

pub(crate) fn new_order(lines: Vec<OrderLine>) -> Order {
    Order::place(
        OrderId::new(),
        CustomerId::parse("cust-1").unwrap(),
        Email::parse("ana@example.com").unwrap(),
        PaymentToken::parse("tok_visa").unwrap(),
        lines,
        Utc::now(),
    )
    .unwrap()
}

impl Fixture {
    async fn seed(&self, products: &[Product]) {
        for p in products {
            self.store.put_product(p).await.unwrap();
        }
    }

    async fn pending_order(&self, lines: Vec<OrderLine>) -> Order {
        let order = new_order(lines);
        self.store.create(&order).await.unwrap();
        order
    }

    async fn stock(&self, s: &str) -> Option<u32> {
        self.store
            .products(&[sku(s)])
            .await
            .unwrap()
            .first()
            .map(|p| p.stock)
    }

    async fn status(&self, id: &OrderId) -> OrderStatus {
        self.store.get(id).await.unwrap().unwrap().status
    }
}

#[tokio::test]
async fn an_order_is_created_once_and_read_back_unchanged() {
    let f = fixture().await;
    let order = new_order(vec![line("SKU-A", 2), line("SKU-B", 1)]);
    f.store.create(&order).await.unwrap();
    assert_eq!(
        f.store.get(&order.order_id).await.unwrap(),
        Some(order.clone())
    );
    // Another order under the same id is refused, and the stored one comes back with the refusal.
    let mut other = new_order(vec![line("SKU-C", 5)]);
    other.order_id = order.order_id.clone();
    assert_eq!(
        f.store.create(&other).await,
        Err(OrderWriteError::AlreadyExists(Box::new(order.clone())))
    );
    assert_eq!(f.store.get(&OrderId::new()).await.unwrap(), None);
}

#[tokio::test]
async fn a_transition_applies_only_from_the_expected_state_and_is_appended_to_the_history() {
    let f = fixture().await;
    let order = f.pending_order(vec![line("SKU-A", 1)]).await;
    let id = &order.order_id;
    let at = Utc::now() + Duration::seconds(1);

    assert_eq!(
        f.store
            .transition(id, OrderStatus::Reserved, OrderStatus::Confirmed, at)
            .await,
        Err(OrderWriteError::Conflict {
            expected: OrderStatus::Reserved,
            actual: OrderStatus::Pending
        })
    );
    f.store
        .transition(id, OrderStatus::Pending, OrderStatus::Reserved, at)
        .await
        .unwrap();
    let stored = f.store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Reserved);
    assert_eq!(stored.history.len(), 2);
    assert_eq!(stored.history[1].status, OrderStatus::Reserved);
    assert_eq!(stored.history[1].at, at);

    // A redelivered event trying the same move again (at its own instant) finds the order
    // already moved. The same move at the same instant is our own write retried after a lost
    // answer, and succeeds (lost_responses.rs).
    let later = at + Duration::seconds(1);
    assert_eq!(
        f.store
            .transition(id, OrderStatus::Pending, OrderStatus::Reserved, later)
            .await,
        Err(OrderWriteError::Conflict {
            expected: OrderStatus::Pending,
            actual: OrderStatus::Reserved
        })
    );
    assert!(matches!(
        f.store
            .transition(id, OrderStatus::Reserved, OrderStatus::Pending, at)
            .await,
        Err(OrderWriteError::Illegal(_))
    ));
    let unknown = OrderId::new();
    assert_eq!(
        f.store
            .transition(&unknown, OrderStatus::Pending, OrderStatus::Rejected, at)
            .await,
        Err(OrderWriteError::NotFound(unknown))
    );
}

#[tokio::test]
async fn the_catalog_answers_known_skus_in_request_order_and_lists_everything_sorted() {
    let f = fixture().await;
    // More than one BatchGetItem's worth of keys (100).
    let many: Vec<Product> = (0..120)
        .map(|i| product(&format!("SKU-{i:03}"), i))
        .collect();
    f.seed(&many).await;
    // A reservation item in the same table must not show up as a product.
    let order = f.pending_order(vec![line("SKU-007", 1)]).await;
    f.store
        .reserve_stock(&order.order_id, &order.lines, Utc::now())
        .await
        .unwrap();

    let asked: Vec<Sku> = (0..120)
        .rev()
        .map(|i| sku(&format!("SKU-{i:03}")))
        .chain([sku("SKU-UNKNOWN"), sku("SKU-005")])
        .collect();
    let found = f.store.products(&asked).await.unwrap();
    assert_eq!(
        found.len(),
        121,
        "unknown SKU absent, repeated SKU repeated"
    );
    assert_eq!(found[0].sku, sku("SKU-119"));
    assert_eq!(found[119].sku, sku("SKU-000"));
    assert_eq!(found[120], product("SKU-005", 5));
    assert_eq!(f.stock("SKU-007").await, Some(6));

    let all = f.store.all_products().await.unwrap();
    assert_eq!(all.len(), 120);
    assert!(all.windows(2).all(|w| w[0].sku < w[1].sku), "sorted by SKU");
    assert_eq!(all[7].stock, 6);
}

#[tokio::test]
async fn a_reservation_takes_the_stock_records_it_and_moves_the_order_to_reserved() {
    let f = fixture().await;
    f.seed(&[product("SKU-A", 5), product("SKU-B", 2)]).await;
    let order = f
        .pending_order(vec![line("SKU-A", 3), line("SKU-B", 2)])
        .await;
    let at = Utc::now();
    f.store
        .reserve_stock(&order.order_id, &order.lines, at)
        .await
        .unwrap();
    assert_eq!(f.stock("SKU-A").await, Some(2));
    assert_eq!(f.stock("SKU-B").await, Some(0));
    assert_eq!(
        f.store.reservation(&order.order_id).await.unwrap(),
        Some(Reservation {
            lines: order
                .lines
                .iter()
                .map(|line| ReservedLine {
                    line: line.clone(),
                    shard: 0
                })
                .collect(),
            released: false
        })
    );
    let stored = f.store.get(&order.order_id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Reserved);
    assert_eq!(stored.history.last().unwrap().at, at);
}

#[tokio::test]
async fn a_reservation_short_on_one_sku_rolls_back_every_line_and_leaves_the_order_pending() {
    let f = fixture().await;
    f.seed(&[
        product("SKU-A", 5),
        product("SKU-B", 1),
        product("SKU-C", 9),
    ])
    .await;
    let order = f
        .pending_order(vec![
            line("SKU-A", 2),
            line("SKU-B", 3),
            line("SKU-C", 1),
            line("SKU-GONE", 1),
        ])
        .await;
    let err = f
        .store
        .reserve_stock(&order.order_id, &order.lines, Utc::now())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ReserveError::InsufficientStock(vec![
            Shortage {
                sku: sku("SKU-B"),
                requested: Quantity::new(3).unwrap(),
                available: 1
            },
            Shortage {
                sku: sku("SKU-GONE"),
                requested: Quantity::new(1).unwrap(),
                available: 0
            },
        ])
    );
    assert_eq!(f.stock("SKU-A").await, Some(5), "nothing taken on failure");
    assert_eq!(f.stock("SKU-B").await, Some(1));
    assert_eq!(f.stock("SKU-C").await, Some(9));
    assert_eq!(f.status(&order.order_id).await, OrderStatus::Pending);
    assert_eq!(f.store.reservation(&order.order_id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_reservations_for_the_last_unit_have_exactly_one_winner() {
    let f = Arc::new(fixture().await);
    for round in 0..5 {
        let s = format!("SKU-LAST-{round}");
        f.seed(&[product(&s, 1)]).await;
        let first = f.pending_order(vec![line(&s, 1)]).await;
        let second = f.pending_order(vec![line(&s, 1)]).await;
        let (a, b) = {
            let (fa, fb) = (f.clone(), f.clone());
            let (la, lb) = (first.lines.clone(), second.lines.clone());
            let (ia, ib) = (first.order_id.clone(), second.order_id.clone());
            tokio::join!(
                tokio::spawn(async move { fa.store.reserve_stock(&ia, &la, Utc::now()).await }),
                tokio::spawn(async move { fb.store.reserve_stock(&ib, &lb, Utc::now()).await }),
            )
        };
        let results = [a.unwrap(), b.unwrap()];
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: {results:?}");
        let loser = results.iter().find_map(|r| r.clone().err()).unwrap();
        assert_eq!(
            loser,
            ReserveError::InsufficientStock(vec![Shortage {
                sku: sku(&s),
                requested: Quantity::new(1).unwrap(),
                available: 0
            }])
        );
        assert_eq!(
            f.stock(&s).await,
            Some(0),
            "round {round}: never below zero"
        );
        let statuses = [
            f.status(&first.order_id).await,
            f.status(&second.order_id).await,
        ];
        assert!(
            statuses.contains(&OrderStatus::Reserved) && statuses.contains(&OrderStatus::Pending),
            "round {round}: {statuses:?}"
        );
    }
}

#[tokio::test]
async fn reserving_twice_for_one_order_is_refused_as_already_reserved() {
    let f = fixture().await;
    f.seed(&[product("SKU-A", 5)]).await;
    let order = f.pending_order(vec![line("SKU-A", 2)]).await;
    f.store
        .reserve_stock(&order.order_id, &order.lines, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        f.store
            .reserve_stock(&order.order_id, &order.lines, Utc::now())
            .await,
        Err(ReserveError::AlreadyReserved)
    );
    assert_eq!(f.stock("SKU-A").await, Some(3), "taken once");
    assert_eq!(f.status(&order.order_id).await, OrderStatus::Reserved);
}

#[tokio::test]
async fn a_reservation_for_an_order_that_is_not_pending_is_refused_with_its_state() {
    let f = fixture().await;
    f.seed(&[product("SKU-A", 3)]).await;
    let order = f.pending_order(vec![line("SKU-A", 1)]).await;
    f.store
        .transition(
            &order.order_id,
            OrderStatus::Pending,
            OrderStatus::Rejected,
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        f.store
            .reserve_stock(&order.order_id, &order.lines, Utc::now())
            .await,
        Err(ReserveError::OrderNotPending {
            actual: Some(OrderStatus::Rejected)
        })
    );
    assert_eq!(
        f.store
            .reserve_stock(&OrderId::new(), &order.lines, Utc::now())
            .await,
        Err(ReserveError::OrderNotPending { actual: None })
    );
    assert_eq!(f.stock("SKU-A").await, Some(3));
    assert_eq!(f.store.reservation(&order.order_id).await.unwrap(), None);
}

#[tokio::test]
async fn lines_naming_one_sku_twice_are_refused_without_touching_anything() {
    let f = fixture().await;
    f.seed(&[product("SKU-A", 3)]).await;
    let order = f.pending_order(vec![line("SKU-A", 1)]).await;
    let err = f
        .store
        .reserve_stock(
            &order.order_id,
            &[line("SKU-A", 1), line("SKU-A", 1)],
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ReserveError::Store(StoreError::Corrupt(_))),
        "{err:?}"
    );
    assert_eq!(f.stock("SKU-A").await, Some(3));
    assert_eq!(f.status(&order.order_id).await, OrderStatus::Pending);
}

#[tokio::test]
async fn a_release_returns_the_stock_once_and_cancels_the_order() {
    let f = fixture().await;
    f.seed(&[product("SKU-A", 3), product("SKU-B", 1)]).await;
    let order = f
        .pending_order(vec![line("SKU-A", 2), line("SKU-B", 1)])
        .await;
    let id = &order.order_id;
    assert_eq!(
        f.store.release_stock(id, Utc::now()).await,
        Err(ReleaseError::NotHeld),
        "nothing reserved yet"
    );
    f.store
        .reserve_stock(id, &order.lines, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        f.store.release_stock(id, Utc::now()).await,
        Err(ReleaseError::OrderNotPaymentFailed {
            actual: Some(OrderStatus::Reserved)
        })
    );
    assert_eq!(
        f.stock("SKU-A").await,
        Some(1),
        "a refused release changes nothing"
    );
    f.store
        .transition(
            id,
            OrderStatus::Reserved,
            OrderStatus::PaymentFailed,
            Utc::now(),
        )
        .await
        .unwrap();

    let released = f.store.release_stock(id, Utc::now()).await.unwrap();
    assert_eq!(released, order.lines);
    assert_eq!(f.stock("SKU-A").await, Some(3));
    assert_eq!(f.stock("SKU-B").await, Some(1));
    assert_eq!(f.status(id).await, OrderStatus::Cancelled);
    assert!(f.store.reservation(id).await.unwrap().unwrap().released);

    assert_eq!(
        f.store.release_stock(id, Utc::now()).await,
        Err(ReleaseError::NotHeld)
    );
    assert_eq!(f.stock("SKU-A").await, Some(3), "returned once");
}

#[tokio::test]
async fn the_ledger_keeps_the_first_entry_per_order() {
    let f = fixture().await;
    let order_id = OrderId::new();
    let entry = |outcome: ChargeOutcome| ChargeRecord {
        order_id: order_id.clone(),
        amount: eur(4498),
        outcome,
        at: Utc::now(),
    };
    let first = entry(ChargeOutcome::Approved {
        charge_id: "ch_1".into(),
    });
    assert_eq!(f.store.charge_for(&order_id).await.unwrap(), None);
    assert_eq!(f.store.record(&first).await.unwrap(), Recorded::New);
    let second = entry(ChargeOutcome::Declined {
        reason: "card declined".into(),
    });
    assert_eq!(
        f.store.record(&second).await.unwrap(),
        Recorded::Existing(first.clone())
    );
    assert_eq!(f.store.charge_for(&order_id).await.unwrap(), Some(first));
}

fn settlement(order_id: &OrderId, to: OrderStatus) -> Settlement {
    Settlement {
        record: ChargeRecord {
            order_id: order_id.clone(),
            amount: eur(1000),
            outcome: ChargeOutcome::Approved {
                charge_id: "ch_1".into(),
            },
            at: Utc::now(),
        },
        key: format!("charge#{order_id}"),
        result: r#"{"result":"APPROVED","chargeId":"ch_1"}"#.into(),
        to,
    }
}

fn claim_times() -> ClaimTimes {
    let now = Utc::now();
    ClaimTimes {
        now,
        lock_until: now + Duration::seconds(30),
        expires_at: now + Duration::hours(1),
    }
}

#[tokio::test]
async fn a_settlement_writes_the_entry_completes_the_key_and_moves_the_order_in_one_transaction() {
    let f = fixture().await;
    f.seed(&[product("SKU-A", 5)]).await;
    let order = f.pending_order(vec![line("SKU-A", 1)]).await;
    let id = &order.order_id;
    f.store
        .reserve_stock(id, &order.lines, Utc::now())
        .await
        .unwrap();
    let settle = settlement(id, OrderStatus::Confirmed);
    assert_eq!(
        f.store
            .claim(&settle.key, "h", claim_times())
            .await
            .unwrap(),
        Claim::Acquired
    );

    f.store.settle(&settle, Utc::now()).await.unwrap();

    assert_eq!(
        f.store.charge_for(id).await.unwrap(),
        Some(settle.record.clone())
    );
    let stored = f.store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.status, OrderStatus::Confirmed);
    assert_eq!(
        stored.history.iter().map(|h| h.status).collect::<Vec<_>>(),
        [
            OrderStatus::Pending,
            OrderStatus::Reserved,
            OrderStatus::Confirmed
        ]
    );
    assert_eq!(
        f.store
            .claim(&settle.key, "h", claim_times())
            .await
            .unwrap(),
        Claim::Completed(settle.result.clone())
    );
    assert_eq!(
        f.store.settle(&settle, Utc::now()).await,
        Err(SettleError::Refused(
            "the order has a ledger entry; the key is not held; the order is not RESERVED".into()
        ))
    );
}

#[tokio::test]
async fn a_refused_settlement_writes_nothing_and_names_the_condition() {
    let f = fixture().await;
    let order = f.pending_order(vec![line("SKU-A", 1)]).await;
    let id = &order.order_id;
    let settle = settlement(id, OrderStatus::PaymentFailed);
    f.store
        .claim(&settle.key, "h", claim_times())
        .await
        .unwrap();

    assert_eq!(
        f.store.settle(&settle, Utc::now()).await,
        Err(SettleError::Refused("the order is not RESERVED".into()))
    );

    assert_eq!(f.store.charge_for(id).await.unwrap(), None);
    assert_eq!(f.status(id).await, OrderStatus::Pending);
    assert_eq!(
        f.store
            .claim(&settle.key, "h", claim_times())
            .await
            .unwrap(),
        Claim::InProgress,
        "the key is still held, not completed"
    );
}

#[tokio::test]
async fn an_item_that_does_not_parse_is_reported_as_corrupt_naming_the_attribute() {
    let f = fixture().await;
    let order = f.pending_order(vec![line("SKU-A", 1)]).await;
    f.client
        .update_item()
        .table_name(&f.store.tables().orders)
        .key("orderId", AttributeValue::S(order.order_id.to_string()))
        .update_expression("SET #lines[0].quantity = :q")
        .expression_attribute_names("#lines", "lines")
        .expression_attribute_values(":q", AttributeValue::N("0".into()))
        .send()
        .await
        .unwrap();
    let err = f.store.get(&order.order_id).await.unwrap_err();
    let StoreError::Corrupt(message) = err else {
        panic!("expected Corrupt, got {err:?}")
    };
    assert!(message.contains(order.order_id.as_str()), "{message}");
    assert!(message.contains("`lines[0].quantity`"), "{message}");
}

#[tokio::test]
async fn a_missing_table_is_reported_as_unavailable_with_its_cause() {
    let f = fixture().await;
    let store = DynamoStore::new(
        f.client.clone(),
        TableNames {
            orders: "NoSuchOrders".into(),
            inventory: "NoSuchInventory".into(),
            payments: "NoSuchPayments".into(),
            idempotency: "NoSuchIdempotency".into(),
        },
    );
    let err = store.get(&OrderId::new()).await.unwrap_err();
    let StoreError::Unavailable(message) = err else {
        panic!("expected Unavailable, got {err:?}")
    };
    assert!(message.contains("ResourceNotFound"), "{message}");
    let err = store
        .reserve_stock(&OrderId::new(), &[line("SKU-A", 1)], Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ReserveError::Store(StoreError::Unavailable(_))),
        "{err:?}"
    );
}
