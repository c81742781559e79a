//! Items <-> domain values, round trips and the errors that name the attribute.

use super::*;

fn line(sku: &str, qty: u32, cents: i64) -> OrderLine {
    OrderLine {
        sku: Sku::parse(sku).unwrap(),
        quantity: Quantity::new(qty).unwrap(),
        unit_price: Money::new(cents, Currency::EUR),
    }
}

fn order() -> Order {
    let mut order = Order::place(
        OrderId::new(),
        CustomerId::parse("cust-1").unwrap(),
        Email::parse("ana@example.com").unwrap(),
        PaymentToken::parse("tok_visa").unwrap(),
        vec![line("SKU-A", 2, 1999), line("SKU-B", 1, 500)],
        "2026-03-01T10:00:00.123456789Z".parse().unwrap(),
    )
    .unwrap();
    order
        .apply(
            OrderStatus::Reserved,
            "2026-03-01T10:00:01Z".parse().unwrap(),
        )
        .unwrap();
    order
}

#[test]
fn an_order_round_trips_through_its_item_to_the_nanosecond() {
    let order = order();
    let item = order_to_item(&order);
    assert_eq!(order_from_item(&item).unwrap(), order);
    assert_eq!(item["status"], s("RESERVED"));
    assert_eq!(item["createdAt"], s("2026-03-01T10:00:00.123456789Z"));
    let AttributeValue::L(lines) = &item["lines"] else {
        panic!("lines is a list")
    };
    let AttributeValue::M(first) = &lines[0] else {
        panic!("a line is a map")
    };
    assert_eq!(first["quantity"], n(2));
    assert_eq!(
        first["unitPrice"],
        AttributeValue::M(HashMap::from([
            ("amount".to_owned(), n(1999)),
            ("currency".to_owned(), s("EUR")),
        ]))
    );
}

#[test]
fn an_open_order_item_carries_its_shard_and_last_transition_for_the_open_orders_index() {
    let order = order();
    let item = order_to_item(&order);
    assert_eq!(item[UPDATED_AT], s("2026-03-01T10:00:01.000Z"));
    assert_eq!(
        item[OPEN_SHARD],
        s(OpenShard::of(&order.order_id).to_string())
    );
}

#[test]
fn a_final_order_item_has_no_shard_so_it_stays_out_of_the_open_orders_index() {
    let mut order = order();
    order
        .apply(
            OrderStatus::Confirmed,
            "2026-03-01T10:00:02.5Z".parse().unwrap(),
        )
        .unwrap();
    let item = order_to_item(&order);
    assert!(!item.contains_key(OPEN_SHARD));
    assert_eq!(item[UPDATED_AT], s("2026-03-01T10:00:02.500Z"));
    assert_eq!(order_from_item(&item).unwrap(), order);
}

#[test]
fn an_order_item_that_does_not_parse_names_the_attribute() {
    let order = order();
    let mut item = order_to_item(&order);
    item.remove("email");
    let err = order_from_item(&item).unwrap_err();
    assert_eq!(
        err,
        StoreError::Corrupt(format!(
            "item order {}: attribute `email` is missing",
            order.order_id
        ))
    );

    let mut item = order_to_item(&order);
    let AttributeValue::L(lines) = item.get_mut("lines").unwrap() else {
        panic!("lines is a list")
    };
    let AttributeValue::M(second) = &mut lines[1] else {
        panic!("a line is a map")
    };
    second.insert("quantity".into(), n(0));
    let StoreError::Corrupt(msg) = order_from_item(&item).unwrap_err() else {
        panic!("corrupt")
    };
    assert!(msg.contains("`lines[1].quantity`"), "{msg}");

    let mut item = order_to_item(&order);
    item.insert("total".into(), s("4498"));
    let StoreError::Corrupt(msg) = order_from_item(&item).unwrap_err() else {
        panic!("corrupt")
    };
    assert!(msg.contains("`total` is not a map (M)"), "{msg}");

    let mut item = order_to_item(&order);
    item.insert("status".into(), s("SHIPPED"));
    let StoreError::Corrupt(msg) = order_from_item(&item).unwrap_err() else {
        panic!("corrupt")
    };
    assert!(msg.contains("`status` is invalid"), "{msg}");
}

fn mug(stock: u32) -> Product {
    Product {
        sku: Sku::parse("SKU-MUG").unwrap(),
        name: "Mug".into(),
        price: Money::new(1250, Currency::EUR),
        stock,
    }
}

#[test]
fn a_product_round_trips_and_is_keyed_by_its_sku() {
    let product = mug(7);
    let items = entry_to_items(&CatalogEntry::from(&product));
    assert_eq!(items.len(), 1, "one shard: the product item alone");
    let item = items[0].clone();
    assert_eq!(item["pk"], s("SKU#SKU-MUG"));
    assert!(
        !item.contains_key(SHARDS),
        "a one-shard product item is stored as before shards"
    );
    assert_eq!(
        product_from_item(&item).unwrap(),
        (product, ShardCount::ONE)
    );
    let mut negative = item.clone();
    negative.insert("stock".into(), n(-1));
    let StoreError::Corrupt(msg) = product_from_item(&negative).unwrap_err() else {
        panic!("corrupt")
    };
    assert!(
        msg.starts_with("item SKU#SKU-MUG: attribute `stock`"),
        "{msg}"
    );
    let mut float_price = item;
    float_price.insert(
        "price".into(),
        AttributeValue::M(HashMap::from([
            ("amount".to_owned(), n("12.5")),
            ("currency".to_owned(), s("EUR")),
        ])),
    );
    let StoreError::Corrupt(msg) = product_from_item(&float_price).unwrap_err() else {
        panic!("corrupt")
    };
    assert!(msg.contains("`price.amount`"), "{msg}");
}

#[test]
fn a_sharded_product_is_its_product_item_and_one_stock_item_per_further_shard() {
    let entry = CatalogEntry {
        product: mug(10),
        shards: ShardCount::new(4).unwrap(),
    };
    let items = entry_to_items(&entry);
    let keys: Vec<&AttributeValue> = items.iter().map(|i| &i["pk"]).collect();
    assert_eq!(
        keys,
        [
            &s("SKU#SKU-MUG"),
            &s("SKU#SKU-MUG#1"),
            &s("SKU#SKU-MUG#2"),
            &s("SKU#SKU-MUG#3")
        ]
    );
    let stocks: Vec<u32> = items.iter().map(|i| stock_from_item(i).unwrap()).collect();
    assert_eq!(stocks, [3, 3, 2, 2]);
    // Only the product item carries `sku`, the catalog index's key: shard items stay out of it.
    assert!(items[1..]
        .iter()
        .all(|i| i.len() == 2 && !i.contains_key("sku")));
    let (product, shards) = product_from_item(&items[0]).unwrap();
    assert_eq!((product.stock, shards), (3, entry.shards));
    // The index holds no stock: a listing reads without it.
    let mut listed = items[0].clone();
    listed.remove("stock");
    assert_eq!(listing_from_item(&listed).unwrap().1, entry.shards);
    listed.insert(SHARDS.into(), n(0));
    assert!(listing_from_item(&listed).is_err(), "0 shards is corrupt");
}

#[test]
fn a_reservation_round_trips_held_and_released_with_each_lines_shard() {
    let id = OrderId::new();
    let lines = vec![
        ReservedLine {
            line: line("SKU-A", 3, 100),
            shard: 0,
        },
        ReservedLine {
            line: line("SKU-B", 1, 100),
            shard: 5,
        },
    ];
    let at = Utc::now();
    let held = reservation_to_item(&id, &lines, HELD, at);
    assert_eq!(held["pk"], s(format!("RESERVATION#{id}")));
    let AttributeValue::L(stored) = &held["lines"] else {
        panic!("a list")
    };
    let shard_of = |i: usize| match &stored[i] {
        AttributeValue::M(m) => m.get("shard").cloned(),
        _ => panic!("a map"),
    };
    assert_eq!(shard_of(0), None, "shard 0 is stored as before shards");
    assert_eq!(shard_of(1), Some(n(5)));
    assert_eq!(
        reservation_from_item(&held).unwrap(),
        Reservation {
            lines: lines.clone(),
            released: false
        }
    );
    let released = reservation_to_item(&id, &lines, RELEASED, at);
    assert!(reservation_from_item(&released).unwrap().released);
    let odd = reservation_to_item(&id, &lines, "LOST", at);
    assert!(reservation_from_item(&odd).is_err());
}

#[test]
fn a_ledger_entry_round_trips_approved_and_declined() {
    for outcome in [
        ChargeOutcome::Approved {
            charge_id: "ch_1".into(),
        },
        ChargeOutcome::Declined {
            reason: "card declined".into(),
        },
    ] {
        let record = ChargeRecord {
            order_id: OrderId::new(),
            amount: Money::new(4498, Currency::EUR),
            outcome,
            at: Utc::now(),
        };
        let item = charge_to_item(&record);
        assert_eq!(charge_from_item(&item).unwrap(), record);
    }
    let mut item = charge_to_item(&ChargeRecord {
        order_id: OrderId::new(),
        amount: Money::new(1, Currency::EUR),
        outcome: ChargeOutcome::Approved {
            charge_id: "ch_1".into(),
        },
        at: Utc::now(),
    });
    item.remove("chargeId");
    let StoreError::Corrupt(msg) = charge_from_item(&item).unwrap_err() else {
        panic!("corrupt")
    };
    assert!(msg.contains("`chargeId` is missing"), "{msg}");
}

#[test]
fn an_idempotency_record_reads_its_lock_and_expiry_and_needs_a_result_when_completed() {
    let mut item = HashMap::from([
        ("id".to_owned(), s("k")),
        ("payloadHash".to_owned(), s("h")),
        ("status".to_owned(), s(IN_PROGRESS)),
        ("lockUntil".to_owned(), n(1_700_000_000_123_i64)),
        ("expiresAt".to_owned(), n(1_700_086_400_i64)),
    ]);
    assert_eq!(
        idempotency_from_item(&item).unwrap(),
        IdempotencyRecord {
            payload_hash: "h".into(),
            completed: None,
            lock_until_ms: 1_700_000_000_123,
            expires_at_secs: 1_700_086_400,
            owner: None,
        }
    );
    item.insert("owner".into(), s("claim-1"));
    assert_eq!(
        idempotency_from_item(&item).unwrap().owner.as_deref(),
        Some("claim-1")
    );
    item.insert("owner".into(), n(1));
    assert!(
        idempotency_from_item(&item).is_err(),
        "an owner is a string"
    );
    item.remove("owner");
    item.insert("status".into(), s(COMPLETED));
    assert!(idempotency_from_item(&item).is_err());
    item.insert("result".into(), s("{\"ok\":true}"));
    assert_eq!(
        idempotency_from_item(&item).unwrap().completed.as_deref(),
        Some("{\"ok\":true}")
    );
}
