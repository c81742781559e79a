//! The order domain: values parsed at the boundary, the order state machine, and the rules of
//! sharded stock.

mod order;
pub mod shards;
mod values;

pub use order::{Order, OrderLine, OrderStatus, StatusChange};
pub use shards::ShardCount;
pub use values::{Currency, CustomerId, Email, Money, OrderId, PaymentToken, Quantity, Sku};

/// What can be wrong with a domain value or transition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("amount overflows a 64-bit count of minor units")]
    AmountOverflow,
    #[error("currency mismatch: expected {expected}, found {found}")]
    CurrencyMismatch { expected: Currency, found: Currency },
    #[error("illegal order transition {from} -> {to}")]
    IllegalTransition { from: OrderStatus, to: OrderStatus },
}

impl DomainError {
    pub(crate) fn invalid(field: &'static str, message: &'static str) -> Self {
        DomainError::Invalid { field, message }
    }
}
