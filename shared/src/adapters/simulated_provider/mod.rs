//! The bundled payment provider, simulated, with a real provider's rules (so the chain is
//! testable anywhere and meets what a real one does):
//!
//! - the token decides: `tok_declined` declines, `tok_gateway_error` fails transiently (the
//!   provider is down: nothing is charged or remembered), every other token approves;
//! - a charge is keyed by its idempotency key: the same key, while remembered, gets the same
//!   charge (same charge id, same outcome) and charges nothing more; the same key for another
//!   order or amount is refused;
//! - a key is remembered for a configurable time (a day by default) and then forgotten: the
//!   same key charges again, with a new charge id — so a double charge is possible, and the
//!   code above the port must prevent it (process-payment never re-charges a key whose first
//!   attempt is older than the provider remembers);
//! - every charge, approved or declined, is a permanent record (what `orderflow chaos` counts
//!   charges per order from), and each new one is logged
//!   ([`PROVIDER_CHARGE_APPROVED`], [`PROVIDER_CHARGE_DECLINED`]).
//!
//! Two implementations keep these rules: `adapters::dynamodb::DynamoProvider`, the one the
//! function runs, whose state is its own DynamoDB table reached through the same endpoint as
//! everything else (so lost responses and throttles hit it too), and [`memory`]'s
//! `MemoryProvider` for unit tests (test code).

use chrono::{DateTime, Utc};

use crate::ports::{ChargeOutcome, ChargeRecord, ChargeRequest, GatewayError};
use crate::telemetry::messages::{PROVIDER_CHARGE_APPROVED, PROVIDER_CHARGE_DECLINED};

#[cfg(any(test, feature = "testing"))]
pub mod memory;

pub const DECLINED_TOKEN: &str = "tok_declined";
pub const GATEWAY_ERROR_TOKEN: &str = "tok_gateway_error";

/// How long a key is remembered unless configured (`PROVIDER_KEY_TTL_SECONDS`): a day, as real
/// providers keep them (Stripe prunes keys once they are at least 24 hours old,
/// docs.stripe.com/idempotency).
pub const DEFAULT_KEY_RETENTION_SECONDS: i64 = 86_400;

/// One charge as the provider keeps it, for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCharge {
    /// The provider's id of this charge (a declined one has an id too).
    pub charge_id: String,
    pub idempotency_key: String,
    /// The order, the amount, the outcome and when.
    pub record: ChargeRecord,
}

impl ProviderCharge {
    /// What a new request for `request` does at `at`: a new charge with a new id, or a
    /// transient failure (nothing charged) for the outage token.
    pub fn new(request: &ChargeRequest, at: DateTime<Utc>) -> Result<ProviderCharge, GatewayError> {
        let charge_id = format!("ch_{}", uuid::Uuid::new_v4().simple());
        let outcome = match request.token.as_str() {
            DECLINED_TOKEN => ChargeOutcome::Declined {
                reason: "card declined by issuer".into(),
            },
            GATEWAY_ERROR_TOKEN => {
                return Err(GatewayError::Transient(
                    "simulated provider outage (the payment token asks for one)".into(),
                ))
            }
            _ => ChargeOutcome::Approved {
                charge_id: charge_id.clone(),
            },
        };
        Ok(ProviderCharge {
            charge_id,
            idempotency_key: request.idempotency_key.clone(),
            record: ChargeRecord {
                order_id: request.order_id.clone(),
                amount: request.amount,
                outcome,
                at,
            },
        })
    }

    /// The answer to `request`, whose key this charge holds: its outcome, or a refusal when the
    /// key is reused for another order or amount (as real providers compare the parameters).
    pub fn answer(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        if self.record.order_id != request.order_id || self.record.amount != request.amount {
            return Err(GatewayError::Refused(format!(
                "idempotency key {:?} was used for another request (order {}, {} {})",
                self.idempotency_key,
                self.record.order_id,
                self.record.amount.amount,
                self.record.amount.currency
            )));
        }
        Ok(self.record.outcome.clone())
    }

    /// The provider's own line for a new charge: `orderflow chaos` counts charges per order
    /// from it (a real provider's dashboard plays this part).
    pub fn log_new(&self) {
        match &self.record.outcome {
            ChargeOutcome::Approved { charge_id } => tracing::info!(
                provider = "simulated",
                order_id = %self.record.order_id,
                idempotency_key = %self.idempotency_key,
                charge_id = %charge_id,
                amount = self.record.amount.amount,
                "{PROVIDER_CHARGE_APPROVED}"
            ),
            ChargeOutcome::Declined { .. } => tracing::info!(
                provider = "simulated",
                order_id = %self.record.order_id,
                charge_id = %self.charge_id,
                "{PROVIDER_CHARGE_DECLINED}"
            ),
        }
    }
}
