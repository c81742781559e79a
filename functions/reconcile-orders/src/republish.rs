//! The event that finishes an open order, built from the order as stored: the same data its
//! first publication carried, so a consumer that already saw it finds its step done.

use orderflow_shared::domain::{Order, OrderStatus};
use orderflow_shared::events::{DomainEvent, OrderPlaced, PaymentFailed, ReservationExpired};

/// What validate-order published when it stored the order.
pub fn order_placed(order: &Order) -> DomainEvent {
    DomainEvent::OrderPlaced(OrderPlaced::from(order))
}

/// The end of a reservation that outlived its time to live: process-payment settles it as a
/// decline (or confirms it, if the provider did charge), which releases the stock.
pub fn reservation_expired(order: &Order) -> DomainEvent {
    let reserved_at = order
        .history
        .iter()
        .rev()
        .find(|h| h.status == OrderStatus::Reserved)
        .map_or_else(|| order.updated_at(), |h| h.at);
    DomainEvent::ReservationExpired(ReservationExpired {
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        email: order.email.clone(),
        total: order.total,
        reserved_at,
    })
}

/// What process-payment published when the charge failed, with the ledger's reason.
pub fn payment_failed(order: &Order, reason: String) -> DomainEvent {
    DomainEvent::PaymentFailed(PaymentFailed {
        order_id: order.order_id.clone(),
        customer_id: order.customer_id.clone(),
        email: order.email.clone(),
        total: order.total,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::test_orders::placed_order;

    #[test]
    fn order_placed_carries_the_stored_order_as_validate_order_published_it() {
        let order = placed_order(Utc::now());
        let DomainEvent::OrderPlaced(e) = order_placed(&order) else {
            panic!("an OrderPlaced")
        };
        assert_eq!(e.order_id, order.order_id);
        assert_eq!(e.lines, order.lines);
        assert_eq!(e.total, order.total);
        assert_eq!(e.payment_token, order.payment_token);
        assert_eq!(e.email, order.email);
    }

    #[test]
    fn reservation_expired_says_when_the_order_was_reserved() {
        let placed = Utc::now() - chrono::Duration::hours(1);
        let mut order = placed_order(placed);
        let reserved = placed + chrono::Duration::seconds(3);
        order.apply(OrderStatus::Reserved, reserved).unwrap();
        let DomainEvent::ReservationExpired(e) = reservation_expired(&order) else {
            panic!("a ReservationExpired")
        };
        assert_eq!(e.reserved_at, reserved);
        assert_eq!(e.order_id, order.order_id);
        assert_eq!(e.total, order.total);
        assert_eq!(e.email, order.email);
    }

    #[test]
    fn payment_failed_carries_the_reason_it_is_given() {
        let order = placed_order(Utc::now());
        let DomainEvent::PaymentFailed(e) = payment_failed(&order, "card declined".into()) else {
            panic!("a PaymentFailed")
        };
        assert_eq!(e.reason, "card declined");
        assert_eq!(e.customer_id, order.customer_id);
        assert_eq!(e.total, order.total);
    }
}
