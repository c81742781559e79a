//! What one open order is due: the rule per state (DESIGN §6, "No order left behind"). Every
//! action is a publish that the consumers absorb when it repeats, so a run may be repeated or
//! overlap another.

use chrono::{DateTime, Duration, Utc};
use orderflow_shared::domain::{Order, OrderStatus};

/// How long an order may stay in a state before the reconciler steps in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// `PENDING` this long: `OrderPlaced` again. `PAYMENT_FAILED` this long: `PaymentFailed`
    /// again.
    pub pending_after: Duration,
    /// `RESERVED` this long: the reservation expires.
    pub reservation_ttl: Duration,
    /// Open this long since it was placed: stranded, counted and alarmed on.
    pub stranded_after: Duration,
}

impl Bounds {
    /// The shortest bound: an order whose last transition is younger is due nothing yet, so
    /// the sweep never reads it.
    pub fn shortest(&self) -> Duration {
        self.pending_after
            .min(self.reservation_ttl)
            .min(self.stranded_after)
    }
}

/// The event an open order is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Still `PENDING`: its `OrderPlaced` may never have been published (a keyless order whose
    /// POST failed after storing it) or was lost; publish it again.
    OrderPlaced,
    /// `RESERVED` past the reservation's time to live: its payment message may be dead-lettered
    /// and its stock held for good; `ReservationExpired` lets process-payment settle it.
    ReservationExpired,
    /// `PAYMENT_FAILED` and not released: the release failed or its event was lost; publish
    /// `PaymentFailed` again so update-inventory releases and cancels.
    PaymentFailed,
    /// Nothing yet (or a final order).
    Nothing,
}

/// What `order` is due at `now`, from how long it has been in its state.
pub fn due(order: &Order, now: DateTime<Utc>, bounds: &Bounds) -> Due {
    let idle = now - order.updated_at();
    match order.status {
        OrderStatus::Pending if idle >= bounds.pending_after => Due::OrderPlaced,
        OrderStatus::Reserved if idle >= bounds.reservation_ttl => Due::ReservationExpired,
        OrderStatus::PaymentFailed if idle >= bounds.pending_after => Due::PaymentFailed,
        _ => Due::Nothing,
    }
}

/// Whether `order` is still open this long after it was placed.
pub fn is_stranded(order: &Order, now: DateTime<Utc>, bounds: &Bounds) -> bool {
    !order.status.is_terminal() && now - order.created_at >= bounds.stranded_after
}

#[cfg(test)]
mod tests {
    use crate::test_orders::placed_order;

    use super::*;

    const BOUNDS: Bounds = Bounds {
        pending_after: Duration::seconds(120),
        reservation_ttl: Duration::seconds(900),
        stranded_after: Duration::seconds(3600),
    };

    /// An order placed `placed` seconds ago that moved through `moves` (state, seconds ago).
    fn order(placed: i64, moves: &[(OrderStatus, i64)], now: DateTime<Utc>) -> Order {
        let mut order = placed_order(now - Duration::seconds(placed));
        for (to, ago) in moves {
            order.apply(*to, now - Duration::seconds(*ago)).unwrap();
        }
        order
    }

    #[test]
    fn a_pending_order_is_due_its_order_placed_again_once_past_the_bound() {
        let now = Utc::now();
        assert_eq!(due(&order(119, &[], now), now, &BOUNDS), Due::Nothing);
        assert_eq!(due(&order(120, &[], now), now, &BOUNDS), Due::OrderPlaced);
    }

    #[test]
    fn a_reservation_expires_after_its_ttl_counted_from_the_reservation() {
        let now = Utc::now();
        let reserved = |ago| order(2000, &[(OrderStatus::Reserved, ago)], now);
        assert_eq!(due(&reserved(899), now, &BOUNDS), Due::Nothing);
        assert_eq!(due(&reserved(900), now, &BOUNDS), Due::ReservationExpired);
    }

    #[test]
    fn a_failed_payment_is_due_its_payment_failed_again_once_past_the_bound() {
        let now = Utc::now();
        let failed = |ago| {
            order(
                2000,
                &[
                    (OrderStatus::Reserved, 1000),
                    (OrderStatus::PaymentFailed, ago),
                ],
                now,
            )
        };
        assert_eq!(due(&failed(60), now, &BOUNDS), Due::Nothing);
        assert_eq!(due(&failed(120), now, &BOUNDS), Due::PaymentFailed);
    }

    #[test]
    fn a_final_order_is_due_nothing_and_never_stranded() {
        let now = Utc::now();
        let final_order = order(9000, &[(OrderStatus::Rejected, 8000)], now);
        assert_eq!(due(&final_order, now, &BOUNDS), Due::Nothing);
        assert!(!is_stranded(&final_order, now, &BOUNDS));
    }

    #[test]
    fn an_open_order_is_stranded_once_it_was_placed_longer_ago_than_the_hard_bound() {
        let now = Utc::now();
        assert!(!is_stranded(&order(3599, &[], now), now, &BOUNDS));
        let long_reserved = order(3600, &[(OrderStatus::Reserved, 10)], now);
        assert!(is_stranded(&long_reserved, now, &BOUNDS));
    }

    #[test]
    fn the_sweep_reads_back_to_the_shortest_bound() {
        assert_eq!(BOUNDS.shortest(), Duration::seconds(120));
        let short_ttl = Bounds {
            reservation_ttl: Duration::seconds(30),
            ..BOUNDS
        };
        assert_eq!(short_ttl.shortest(), Duration::seconds(30));
    }
}
