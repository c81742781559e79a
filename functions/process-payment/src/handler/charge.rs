//! The charge and its settlement, and what a retry does when an earlier attempt may have
//! charged. "Attempted" means: a delivery claimed the charge key with `Intent::Attempt`, which
//! notes the time in the key's record (Idempotency table, `attemptedAt`/`attemptedBy`) in the
//! claim's own write, before the provider is called; the note keeps the *first* attempt's time
//! and is never removed, since a failed attempt unlocks the key instead of releasing it.
//!
//! A delivery that acquires a key with an earlier attempt noted asks, in order: the ledger
//! (an entry is the truth: an earlier delivery settled that far), then the provider by the
//! idempotency key (a charge found is settled, nothing new is charged). Nothing found means
//! nothing was charged only while the provider still remembers every key since the first
//! attempt: within that window (its key retention less a margin) the charge goes ahead (the
//! provider would dedupe it anyway); past it the outcome is unknown and the record fails
//! permanently (it dead-letters and alarms) instead of risking a second charge.

use chrono::{DateTime, Duration, Utc};
use orderflow_shared::events::{InventoryReserved, ReservationExpired};
use orderflow_shared::idempotency::{
    claim_attempt, AttemptClaim, AttemptStore, Claim, ClaimError, IdempotencyError, Intent,
};
use orderflow_shared::ports::{
    ChargeOutcome, ChargeRecord, ChargeRequest, EventPublisher, GatewayError, OrderRepository,
    PaymentGateway, PaymentLedger, Recorded, SettleError, Settlement,
};
use orderflow_shared::sqs_batch::RecordError;
use orderflow_shared::telemetry::metrics;
use tracing::{info, warn};

use super::{target_of, Payment, ProcessPayment, RESERVATION_EXPIRED};

/// The window's margin is a tenth of the provider's key retention (its clock and its pruning
/// are not ours), plus the charge key's lock: the longest a delivery can still run between
/// asking the provider and its charge reaching it.
const MARGIN_DIVISOR: i32 = 10;

/// The outcome of the charge, and whether the order moved with its settlement.
pub(super) type Settled = (ChargeOutcome, bool);

/// What claiming the charge key found.
enum Held {
    /// The key is completed: the stored outcome, nothing to charge.
    Done(ChargeOutcome),
    /// Held now, and no earlier delivery attempted a charge.
    Fresh,
    /// Held now; an earlier delivery first attempted a charge at this time.
    AfterAttempt(DateTime<Utc>),
}

/// What an earlier attempt left.
enum Earlier {
    /// The order's ledger entry: the charge was settled at least that far.
    Ledger(ChargeRecord),
    /// The provider's charge under the key.
    Charged(ChargeOutcome),
    /// Neither.
    Nothing,
}

impl<O, L, K, G, E> ProcessPayment<O, L, K, G, E>
where
    O: OrderRepository,
    L: PaymentLedger,
    K: AttemptStore,
    G: PaymentGateway,
    E: EventPublisher,
{
    /// `InventoryReserved`: charges the order at most once.
    pub(super) async fn pay(&self, e: &InventoryReserved) -> Result<Settled, RecordError> {
        let p = Payment::from(e);
        match self.claim(&p, Intent::Attempt).await? {
            Held::Done(outcome) => Ok((outcome, false)),
            Held::Fresh => self.charge(e).await,
            Held::AfterAttempt(first) => match self.earlier(&p).await? {
                Earlier::Ledger(entry) => self.complete_with(&p, entry.outcome).await,
                Earlier::Charged(outcome) => self.settle(&p, outcome).await,
                Earlier::Nothing if self.within_window(first) => {
                    info!(%first, "the earlier attempt charged nothing; charging");
                    self.charge(e).await
                }
                Earlier::Nothing => Err(self.unknown(&p, first).await),
            },
        }
    }

    /// `ReservationExpired`: declines the order unless it was charged; never charges.
    pub(super) async fn expire(&self, e: &ReservationExpired) -> Result<Settled, RecordError> {
        let p = Payment::from(e);
        let expired = ChargeOutcome::Declined {
            reason: RESERVATION_EXPIRED.to_owned(),
        };
        match self.claim(&p, Intent::Settle).await? {
            Held::Done(outcome) => Ok((outcome, false)),
            Held::Fresh => self.settle(&p, expired).await,
            Held::AfterAttempt(first) => match self.earlier(&p).await? {
                Earlier::Ledger(entry) => self.complete_with(&p, entry.outcome).await,
                Earlier::Charged(outcome) => self.settle(&p, outcome).await,
                Earlier::Nothing if self.within_window(first) => self.settle(&p, expired).await,
                Earlier::Nothing => Err(self.unknown(&p, first).await),
            },
        }
    }

    /// Claims the charge key.
    async fn claim(&self, p: &Payment<'_>, intent: Intent) -> Result<Held, RecordError> {
        let (key, payload) = (p.key(), p.payload());
        let now = self.clock.now();
        let claimed = claim_attempt(
            &self.keys,
            &key,
            payload.as_bytes(),
            self.policy,
            now,
            intent,
        );
        match claimed.await {
            Ok(AttemptClaim {
                claim: Claim::Acquired,
                earlier_attempt,
            }) => Ok(earlier_attempt.map_or(Held::Fresh, Held::AfterAttempt)),
            Ok(AttemptClaim {
                claim: Claim::Completed(result),
                ..
            }) => {
                info!("order was charged before; not charging again");
                serde_json::from_str(&result)
                    .map(Held::Done)
                    .map_err(RecordError::permanent)
            }
            Ok(AttemptClaim {
                claim: Claim::InProgress,
                ..
            }) => {
                warn!("another delivery is charging this order; will retry");
                Err(RecordError::Transient(
                    "charge in progress elsewhere".into(),
                ))
            }
            Err(ClaimError::PayloadMismatch) => Err(RecordError::Permanent(format!(
                "order {} was charged before with a different amount",
                p.order_id
            ))),
            Err(ClaimError::Store(err)) => Err(RecordError::transient(err)),
        }
    }

    /// Asks the provider to charge (the order id is its idempotency key), then settles.
    async fn charge(&self, e: &InventoryReserved) -> Result<Settled, RecordError> {
        let p = Payment::from(e);
        let request = ChargeRequest {
            order_id: e.order_id.clone(),
            amount: e.total,
            token: e.payment_token.clone(),
            idempotency_key: e.order_id.to_string(),
        };
        match self.gateway.charge(&request).await {
            Ok(outcome) => self.settle(&p, outcome).await,
            Err(err @ GatewayError::Transient(_)) => {
                metrics::charge(metrics::Charge::Unknown);
                self.unlock(&p).await;
                Err(RecordError::Transient(format!(
                    "{err}; the retry asks the provider what this attempt did"
                )))
            }
            Err(err @ GatewayError::Refused(_)) => {
                self.unlock(&p).await;
                Err(RecordError::permanent(err))
            }
        }
    }

    /// What an earlier attempt left: the ledger's entry, else the provider's charge.
    async fn earlier(&self, p: &Payment<'_>) -> Result<Earlier, RecordError> {
        match self.ledger.charge_for(p.order_id).await {
            Ok(Some(entry)) => return Ok(Earlier::Ledger(entry)),
            Ok(None) => {}
            Err(err) => return Err(self.failed(p, err).await),
        }
        match self.gateway.find(p.order_id.as_str()).await {
            Ok(Some(outcome)) => {
                info!("the provider has the earlier attempt's charge; settling it");
                Ok(Earlier::Charged(outcome))
            }
            Ok(None) => Ok(Earlier::Nothing),
            Err(err) => Err(self.failed(p, err).await),
        }
    }

    /// Whether the provider still remembers any key used since `first`, with a margin.
    fn within_window(&self, first: DateTime<Utc>) -> bool {
        let window = charge_window(self.gateway.key_retention(), self.policy.lock_for);
        self.clock.now() - first < window
    }

    /// Past the window with nothing found: whether the earlier attempt charged is unknown.
    async fn unknown(&self, p: &Payment<'_>, first: DateTime<Utc>) -> RecordError {
        metrics::charge(metrics::Charge::Unknown);
        self.unlock(p).await;
        let retention = self.gateway.key_retention();
        RecordError::Permanent(format!(
            "charge outcome unknown past the provider's idempotency window; reconcile by hand \
             (order {}: a charge was first attempted at {first}, the provider remembers keys \
             for {} s and finds none now)",
            p.order_id,
            retention.num_seconds()
        ))
    }

    /// Writes what follows from the charge at once (the ledger entry, the key's completion,
    /// the order's move); step by step when that is refused (an earlier delivery got part of
    /// the way).
    async fn settle(
        &self,
        p: &Payment<'_>,
        outcome: ChargeOutcome,
    ) -> Result<Settled, RecordError> {
        let now = self.clock.now();
        let settlement = Settlement {
            record: ChargeRecord {
                order_id: p.order_id.clone(),
                amount: p.total,
                outcome: outcome.clone(),
                at: now,
            },
            result: serde_json::to_string(&outcome).map_err(RecordError::permanent)?,
            key: p.key(),
            to: target_of(&outcome),
        };
        match self.ledger.settle(&settlement, now).await {
            Ok(()) => Ok((outcome, true)),
            Err(SettleError::Refused(why)) => {
                info!(%why, "settling step by step");
                self.settle_step_by_step(p, settlement.record).await
            }
            // Nothing was written; the key keeps its note, so the retry asks the provider.
            Err(SettleError::Store(err)) => Err(self.failed(p, err).await),
        }
    }

    /// The ledger is the truth: its entry (ours, or an earlier delivery's) is the outcome.
    async fn settle_step_by_step(
        &self,
        p: &Payment<'_>,
        record: ChargeRecord,
    ) -> Result<Settled, RecordError> {
        let recorded = match self.ledger.record(&record).await {
            Ok(recorded) => recorded,
            Err(err) => return Err(self.failed(p, err).await),
        };
        let stored = match recorded {
            Recorded::New => record,
            Recorded::Existing(existing) => {
                info!("order already has a ledger entry; keeping it");
                existing
            }
        };
        self.complete_with(p, stored.outcome).await
    }

    /// Completes the key with the ledger's outcome; the order moves after.
    async fn complete_with(
        &self,
        p: &Payment<'_>,
        outcome: ChargeOutcome,
    ) -> Result<Settled, RecordError> {
        let result = serde_json::to_string(&outcome).map_err(RecordError::permanent)?;
        match self.keys.complete(&p.key(), &result).await {
            Ok(()) | Err(IdempotencyError::NotHeld) => Ok((outcome, false)),
            Err(err) => Err(self.failed(p, err).await),
        }
    }

    /// A transient failure while holding the key: unlocked first, so the retry need not wait
    /// out the lock.
    async fn failed(&self, p: &Payment<'_>, err: impl std::fmt::Display) -> RecordError {
        self.unlock(p).await;
        RecordError::transient(err)
    }

    /// Ends the key's lock after a failure, keeping its note, so a retry can claim it at once.
    async fn unlock(&self, p: &Payment<'_>) {
        if let Err(err) = self.keys.unlock(&p.key()).await {
            warn!(key = %p.key(), error = %err, "lock not ended; it expires on its own");
        }
    }
}

/// How long after a first attempt a retry may still charge when the provider finds nothing:
/// the provider's key retention less the margin.
pub(super) fn charge_window(retention: Duration, lock_for: Duration) -> Duration {
    retention - (retention / MARGIN_DIVISOR + lock_for)
}
