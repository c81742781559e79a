//! Orders for the unit tests.

use chrono::{DateTime, Utc};
use orderflow_shared::domain::{
    Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, PaymentToken, Quantity, Sku,
};

/// A `PENDING` order of two lines (2 × SKU-A at 19.99, 1 × SKU-B at 5.00), placed at `at`.
pub fn placed_order(at: DateTime<Utc>) -> Order {
    let line = |sku: &str, quantity: u32, cents: i64| OrderLine {
        sku: Sku::parse(sku).unwrap(),
        quantity: Quantity::new(quantity).unwrap(),
        unit_price: Money::new(cents, Currency::EUR),
    };
    Order::place(
        OrderId::new(),
        CustomerId::parse("cust-1").unwrap(),
        Email::parse("ana@example.com").unwrap(),
        PaymentToken::parse("tok_visa").unwrap(),
        vec![line("SKU-A", 2, 1999), line("SKU-B", 1, 500)],
        at,
    )
    .unwrap()
}
