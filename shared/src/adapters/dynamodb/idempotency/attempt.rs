//! [`AttemptStore`] over the Idempotency table: the claim is one conditional `UpdateItem` (the
//! same condition as the plain claim's `PutItem`), so the attributes it does not set survive
//! it: `attemptedAt` (ms) and `attemptedBy` (the owner token of the claim that first
//! attempted), each written with `if_not_exists` by a claim that attempts. The record after the
//! write (`ALL_NEW`) says whether an earlier claim attempted: an `attemptedBy` other than ours.
//! A claim whose answer was lost is read back as ours by its owner token, its note with it.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, TimeZone, Utc};

use super::{
    claim_values, new_owner, Claimant, DynamoIdempotency, CLAIM_ATTEMPTS, CLAIM_CONDITION,
    HELD_CONDITION,
};
use crate::adapters::dynamodb::item::{n, s, Item, IN_PROGRESS};
use crate::adapters::dynamodb::retry::send;
use crate::adapters::dynamodb::table::failed_condition;
use crate::idempotency::{AttemptClaim, AttemptStore, Claim, ClaimTimes, IdempotencyError, Intent};
use crate::ports::StoreError;

/// What every claim sets (as the plain claim's item has it); a noting claim adds
/// [`NOTE_ATTEMPT`] to it, then the stale result of an expired record goes.
const CLAIM_SET: &str = "SET payloadHash = :hash, #status = :in_progress, \
     lockUntil = :lock_until, expiresAt = :expires_at, #owner = :owner";
const NOTE_ATTEMPT: &str = ", attemptedAt = if_not_exists(attemptedAt, :now_ms), \
     attemptedBy = if_not_exists(attemptedBy, :owner)";

impl DynamoIdempotency {
    /// The claim's conditional update, noting an attempt with [`Intent::Attempt`].
    fn noting_claim(&self, claimant: &Claimant<'_>, intent: Intent) -> UpdateItemFluentBuilder {
        let note = match intent {
            Intent::Attempt => NOTE_ATTEMPT,
            Intent::Settle => "",
        };
        let times = claimant.times;
        let mut values = claim_values(claimant);
        values.insert(
            ":lock_until".to_owned(),
            n(times.lock_until.timestamp_millis()),
        );
        values.insert(":expires_at".to_owned(), n(times.expires_at.timestamp()));
        values.insert(":owner".to_owned(), s(claimant.owner));
        self.keys
            .client
            .update_item()
            .table_name(&self.keys.name)
            .key("id", s(claimant.key))
            .update_expression(format!("{CLAIM_SET}{note} REMOVE #result"))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#result", "result")
            .expression_attribute_names("#owner", "owner")
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }
}

#[async_trait]
impl AttemptStore for DynamoIdempotency {
    async fn claim_attempt(
        &self,
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
        intent: Intent,
    ) -> Result<AttemptClaim, IdempotencyError> {
        let owner = new_owner();
        let claimant = Claimant {
            key,
            payload_hash,
            times,
            owner: &owner,
        };
        let request = self.noting_claim(&claimant, intent);
        let op = "UpdateItem (idempotency claim, attempts noted)";
        for _ in 0..CLAIM_ATTEMPTS {
            let returned = match send(op, || request.clone().send()).await {
                Ok(out) => {
                    // Without the record, an earlier attempt could pass unseen: fail instead
                    // (the retry's claim is refused as ours, and reads the record).
                    let record = out.attributes.ok_or_else(|| {
                        StoreError::Unavailable(format!(
                            "{op} on {key:?} answered without the record; retry"
                        ))
                    })?;
                    let earlier = earlier_attempt(&record, &owner)?;
                    return Ok(AttemptClaim::new(Claim::Acquired, earlier));
                }
                Err(e) => failed_condition(op, e)?,
            };
            let found = match returned {
                Some(item) => Some(item),
                None => {
                    self.keys
                        .get_item("id", key.to_owned(), "GetItem (idempotency)")
                        .await?
                }
            };
            let Some(item) = found else {
                continue;
            };
            let earlier = earlier_attempt(&item, &owner)?;
            if let Some(claim) = self.refused_claim(&claimant, Some(item)).await? {
                return Ok(AttemptClaim::new(claim, earlier));
            }
        }
        Err(StoreError::Unavailable(format!(
            "idempotency record {key:?} kept changing during {CLAIM_ATTEMPTS} claim attempts; retry"
        ))
        .into())
    }

    async fn unlock(&self, key: &str) -> Result<(), IdempotencyError> {
        let request = self
            .keys
            .client
            .update_item()
            .table_name(&self.keys.name)
            .key("id", s(key))
            .update_expression("SET lockUntil = :unlocked")
            .condition_expression(HELD_CONDITION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":unlocked", n(0));
        let op = "UpdateItem (idempotency unlock)";
        match send(op, || request.clone().send())
            .await
            .map_err(|e| failed_condition(op, e))
        {
            Ok(_) => Ok(()),
            Err(Ok(_)) => Err(IdempotencyError::NotHeld),
            Err(Err(e)) => Err(e.into()),
        }
    }
}

/// The first attempt an earlier claim noted in `item`: `None` when nothing is noted or the
/// note is `owner`'s own.
fn earlier_attempt(item: &Item, owner: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    match item.get("attemptedBy") {
        None => return Ok(None),
        Some(AttributeValue::S(by)) if by == owner => return Ok(None),
        Some(AttributeValue::S(_)) => {}
        Some(_) => return Err(corrupt("attemptedBy", "is not a string (S)")),
    }
    let ms: i64 = match item.get("attemptedAt") {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| corrupt("attemptedAt", "is not an integer"))?,
        _ => return Err(corrupt("attemptedAt", "is missing or not a number (N)")),
    };
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(Some)
        .ok_or_else(|| corrupt("attemptedAt", "is not a time"))
}

fn corrupt(name: &str, problem: &str) -> StoreError {
    StoreError::Corrupt(format!("idempotency record: attribute `{name}` {problem}"))
}
