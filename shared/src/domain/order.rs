//! The order aggregate and its state machine (DESIGN §1).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CustomerId, DomainError, Email, Money, OrderId, PaymentToken, Quantity, Sku};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Pending,
    Reserved,
    Confirmed,
    Rejected,
    PaymentFailed,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Pending,
        OrderStatus::Reserved,
        OrderStatus::Confirmed,
        OrderStatus::Rejected,
        OrderStatus::PaymentFailed,
        OrderStatus::Cancelled,
    ];

    /// The legal moves: `PENDING → RESERVED → CONFIRMED`, `PENDING → REJECTED`,
    /// `RESERVED → PAYMENT_FAILED → CANCELLED`. Nothing leaves a terminal state.
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Pending, Reserved)
                | (Pending, Rejected)
                | (Reserved, Confirmed)
                | (Reserved, PaymentFailed)
                | (PaymentFailed, Cancelled)
        )
    }

    pub fn transition(self, to: OrderStatus) -> Result<OrderStatus, DomainError> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(DomainError::IllegalTransition { from: self, to })
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Confirmed | OrderStatus::Rejected | OrderStatus::Cancelled
        )
    }

    /// True when `self` is `target` or a state reachable only after it: a redelivered event
    /// that finds the order here has nothing left to do for that step.
    pub fn has_reached(self, target: OrderStatus) -> bool {
        self == target || target.reaches(self)
    }

    fn reaches(self, to: OrderStatus) -> bool {
        self.can_become(to)
            || OrderStatus::ALL
                .iter()
                .any(|&mid| self.can_become(mid) && mid.reaches(to))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Reserved => "RESERVED",
            OrderStatus::Confirmed => "CONFIRMED",
            OrderStatus::Rejected => "REJECTED",
            OrderStatus::PaymentFailed => "PAYMENT_FAILED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(DomainError::invalid("status", "unknown order status"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub sku: Sku,
    pub quantity: Quantity,
    pub unit_price: Money,
}

impl OrderLine {
    pub fn subtotal(&self) -> Result<Money, DomainError> {
        self.unit_price.times(self.quantity.get())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: DateTime<Utc>,
}

/// An order as stored. Lines carry the catalog price at the time of the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub email: Email,
    pub payment_token: PaymentToken,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub status: OrderStatus,
    pub history: Vec<StatusChange>,
    pub created_at: DateTime<Utc>,
}

impl Order {
    /// A new `PENDING` order; the total is computed here, from the lines, never taken as given.
    pub fn place(
        order_id: OrderId,
        customer_id: CustomerId,
        email: Email,
        payment_token: PaymentToken,
        lines: Vec<OrderLine>,
        at: DateTime<Utc>,
    ) -> Result<Order, DomainError> {
        let total = total_of(&lines)?;
        Ok(Order {
            order_id,
            customer_id,
            email,
            payment_token,
            lines,
            total,
            status: OrderStatus::Pending,
            history: vec![StatusChange {
                status: OrderStatus::Pending,
                at,
            }],
            created_at: at,
        })
    }

    /// When the order last changed state: its last history entry (its creation before any).
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.history.last().map_or(self.created_at, |h| h.at)
    }

    /// Moves the order, recording when; refuses an illegal move.
    pub fn apply(&mut self, to: OrderStatus, at: DateTime<Utc>) -> Result<(), DomainError> {
        self.status = self.status.transition(to)?;
        self.history.push(StatusChange { status: to, at });
        Ok(())
    }
}

/// The sum of the lines' subtotals; all lines must share one currency.
pub fn total_of(lines: &[OrderLine]) -> Result<Money, DomainError> {
    let mut iter = lines.iter();
    let first = iter.next().ok_or(DomainError::invalid(
        "items",
        "an order needs at least one line",
    ))?;
    iter.try_fold(first.subtotal()?, |acc, line| acc.plus(line.subtotal()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;
    use OrderStatus::*;

    #[test]
    fn only_the_legal_transitions_pass_among_every_pair_of_states() {
        let legal = [
            (Pending, Reserved),
            (Pending, Rejected),
            (Reserved, Confirmed),
            (Reserved, PaymentFailed),
            (PaymentFailed, Cancelled),
        ];
        let mut tried = 0;
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                tried += 1;
                let expected = legal.contains(&(from, to));
                assert_eq!(from.transition(to).is_ok(), expected, "{from} -> {to}");
            }
        }
        assert_eq!(tried, 36);
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for from in OrderStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(OrderStatus::ALL.iter().all(|&to| !from.can_become(to)));
        }
        assert_eq!(
            OrderStatus::ALL.iter().filter(|s| s.is_terminal()).count(),
            3
        );
    }

    #[test]
    fn has_reached_knows_which_states_come_after_a_step() {
        assert!(Reserved.has_reached(Reserved));
        assert!(Confirmed.has_reached(Reserved));
        assert!(Cancelled.has_reached(Reserved));
        assert!(Cancelled.has_reached(PaymentFailed));
        assert!(!Pending.has_reached(Reserved));
        assert!(!Rejected.has_reached(Reserved));
        assert!(!Confirmed.has_reached(PaymentFailed));
        assert!(!Reserved.has_reached(Confirmed));
    }

    #[test]
    fn status_names_round_trip_through_strings_and_json() {
        for st in OrderStatus::ALL {
            assert_eq!(st.as_str().parse::<OrderStatus>().unwrap(), st);
            assert_eq!(serde_json::to_string(&st).unwrap(), format!("\"{st}\""));
        }
        assert!("SHIPPED".parse::<OrderStatus>().is_err());
    }

    fn line(sku: &str, qty: u32, cents: i64) -> OrderLine {
        OrderLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(qty).unwrap(),
            unit_price: Money::new(cents, Currency::EUR),
        }
    }

    #[test]
    fn a_placed_order_is_pending_with_its_total_computed_from_the_lines() {
        let order = Order::place(
            OrderId::new(),
            CustomerId::parse("c-1").unwrap(),
            Email::parse("a@example.com").unwrap(),
            PaymentToken::parse("tok_visa").unwrap(),
            vec![line("SKU-A", 2, 1999), line("SKU-B", 1, 500)],
            Utc::now(),
        )
        .unwrap();
        assert_eq!(order.status, Pending);
        assert_eq!(order.total, Money::new(4498, Currency::EUR));
        assert_eq!(order.history.len(), 1);
    }

    #[test]
    fn applying_an_illegal_transition_leaves_the_order_unchanged() {
        let mut order = Order::place(
            OrderId::new(),
            CustomerId::parse("c-1").unwrap(),
            Email::parse("a@example.com").unwrap(),
            PaymentToken::parse("tok_visa").unwrap(),
            vec![line("SKU-A", 1, 100)],
            Utc::now(),
        )
        .unwrap();
        assert!(order.apply(Confirmed, Utc::now()).is_err());
        assert_eq!(order.status, Pending);
        assert_eq!(order.history.len(), 1);
        order.apply(Reserved, Utc::now()).unwrap();
        assert_eq!(order.history.last().unwrap().status, Reserved);
    }

    #[test]
    fn an_order_was_last_updated_by_its_latest_transition() {
        let placed = Utc::now() - chrono::Duration::minutes(10);
        let mut order = Order::place(
            OrderId::new(),
            CustomerId::parse("c-1").unwrap(),
            Email::parse("a@example.com").unwrap(),
            PaymentToken::parse("tok_visa").unwrap(),
            vec![line("SKU-A", 1, 100)],
            placed,
        )
        .unwrap();
        assert_eq!(order.updated_at(), placed);
        let reserved = placed + chrono::Duration::minutes(3);
        order.apply(Reserved, reserved).unwrap();
        assert_eq!(order.updated_at(), reserved);
    }
}
