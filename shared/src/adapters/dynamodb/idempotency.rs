//! The Idempotency table as [`IdempotencyStore`]: a key is claimed with one conditional
//! `PutItem` (free, expired, or held past its lock by the same payload), completed or released
//! while it is still `IN_PROGRESS`; a batch's keys are claimed and completed in one transaction
//! when none is taken. Each claim writes a random owner token into the record, so a claim whose
//! response was lost, found by its own retry, is told apart from someone else's: the same owner
//! is `Acquired`, never `InProgress`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, Update};
use aws_sdk_dynamodb::Client;
use futures_util::future::join_all;

use super::item::{idempotency_from_item, n, s, IdempotencyRecord, Item, COMPLETED, IN_PROGRESS};
use super::retry::send;
use super::table::{build_error, failed_condition, Table};
use crate::idempotency::{Claim, ClaimTimes, IdempotencyError, IdempotencyStore};
use crate::ports::StoreError;

/// Keys of effects whose outcome can be unknown: the claim keeps the record's note of the first
/// attempt (`AttemptStore`).
mod attempt;

/// Attempts at a claim whose record changed between the write and the read.
const CLAIM_ATTEMPTS: u32 = 3;

/// Idempotency keys over DynamoDB: the Idempotency table only.
#[derive(Debug, Clone)]
pub struct DynamoIdempotency {
    keys: Table,
}

impl DynamoIdempotency {
    pub fn new(client: Client, idempotency_table: impl Into<String>) -> Self {
        DynamoIdempotency {
            keys: Table::new(client, idempotency_table),
        }
    }

    async fn record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let item = self
            .keys
            .get_item("id", key.to_owned(), "GetItem (idempotency)")
            .await?;
        item.map(|item| idempotency_from_item(&item)).transpose()
    }

    /// What a refused claim found: the record the write returned, or a fresh read. `None` when
    /// the record changed meanwhile (released, expired, its lock ended) and a retry may win.
    async fn refused_claim(
        &self,
        claim: &Claimant<'_>,
        returned: Option<Item>,
    ) -> Result<Option<Claim>, IdempotencyError> {
        let Claimant {
            key,
            payload_hash,
            times,
            owner,
        } = *claim;
        let existing = match returned {
            Some(item) => Some(idempotency_from_item(&item)?),
            None => self.record(key).await?,
        };
        let Some(existing) = existing else {
            return Ok(None);
        };
        if existing.owner.as_deref() == Some(owner) && existing.completed.is_none() {
            // Our own claim: its response was lost and the SDK's retry found it.
            return Ok(Some(Claim::Acquired));
        }
        if existing.expires_at_secs < times.now.timestamp() {
            return Ok(None);
        }
        if existing.payload_hash != payload_hash {
            return Err(IdempotencyError::PayloadMismatch);
        }
        if let Some(result) = existing.completed {
            return Ok(Some(Claim::Completed(result)));
        }
        if existing.lock_until_ms >= times.now.timestamp_millis() {
            return Ok(Some(Claim::InProgress));
        }
        Ok(None)
    }

    /// Claims a key for `claim`'s owner: the conditional write, and what a refusal found.
    async fn claim_as(&self, claim: &Claimant<'_>) -> Result<Claim, IdempotencyError> {
        let request = self
            .keys
            .client
            .put_item()
            .table_name(&self.keys.name)
            .set_item(Some(claim_item(claim)))
            .condition_expression(CLAIM_CONDITION)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(claim_values(claim)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let op = "PutItem (idempotency claim)";
        for _ in 0..CLAIM_ATTEMPTS {
            let returned = match send(op, || request.clone().send()).await {
                Ok(_) => return Ok(Claim::Acquired),
                Err(e) => failed_condition(op, e)?,
            };
            if let Some(found) = self.refused_claim(claim, returned).await? {
                return Ok(found);
            }
        }
        Err(StoreError::Unavailable(format!(
            "idempotency record {:?} kept changing during {CLAIM_ATTEMPTS} claim attempts; retry",
            claim.key
        ))
        .into())
    }
}

#[async_trait]
impl IdempotencyStore for DynamoIdempotency {
    async fn claim(
        &self,
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
    ) -> Result<Claim, IdempotencyError> {
        let owner = new_owner();
        self.claim_as(&Claimant {
            key,
            payload_hash,
            times,
            owner: &owner,
        })
        .await
    }

    async fn complete(&self, key: &str, result: &str) -> Result<(), IdempotencyError> {
        let request = self
            .keys
            .client
            .update_item()
            .table_name(&self.keys.name)
            .key("id", s(key))
            .update_expression(COMPLETE_UPDATE)
            .condition_expression(HELD_CONDITION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#result", "result")
            .set_expression_attribute_values(Some(complete_values(result)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let op = "UpdateItem (idempotency complete)";
        let returned = match send(op, || request.clone().send()).await {
            Ok(_) => return Ok(()),
            Err(e) => failed_condition(op, e)?,
        };
        let existing = match returned {
            Some(item) => Some(idempotency_from_item(&item)?),
            None => self.record(key).await?,
        };
        match existing {
            // Already completed with this result: our own completion, its response lost.
            Some(record) if record.completed.as_deref() == Some(result) => Ok(()),
            _ => Err(IdempotencyError::NotHeld),
        }
    }

    /// Every key claimed on its own conditional write, all at once: a write costs one unit
    /// where the same item inside a transaction costs two, and DynamoDB bills units, not calls
    /// (one transaction for the batch made send-notification a fifth of the chain's write
    /// units). A key named twice is claimed by its first occurrence; the repeats ask after it and
    /// find it in progress, as a second delivery would.
    async fn claim_many(
        &self,
        claims: &[(String, String)],
        times: ClaimTimes,
    ) -> Vec<Result<Claim, IdempotencyError>> {
        let owners: Vec<String> = claims.iter().map(|_| new_owner()).collect();
        let claimants: Vec<Claimant<'_>> = claims
            .iter()
            .zip(&owners)
            .map(|((key, payload_hash), owner)| Claimant {
                key,
                payload_hash,
                times,
                owner,
            })
            .collect();
        let first = |i: usize| claims.iter().position(|(k, _)| *k == claims[i].0) == Some(i);
        let firsts: Vec<usize> = (0..claims.len()).filter(|&i| first(i)).collect();
        let claimed = join_all(firsts.iter().map(|&i| self.claim_as(&claimants[i]))).await;
        let mut answers: Vec<Option<Result<Claim, IdempotencyError>>> =
            claims.iter().map(|_| None).collect();
        for (i, answer) in firsts.into_iter().zip(claimed) {
            answers[i] = Some(answer);
        }
        let mut out = Vec::with_capacity(claims.len());
        for (i, answer) in answers.into_iter().enumerate() {
            out.push(match answer {
                Some(answer) => answer,
                None => self.claim_as(&claimants[i]).await,
            });
        }
        out
    }

    /// Every key completed on its own conditional write, all at once (a unit each, see
    /// [`claim_many`](Self::claim_many)); a key taken over meanwhile is reported as `NotHeld`
    /// alone.
    async fn complete_many(&self, done: &[(String, String)]) -> Vec<Result<(), IdempotencyError>> {
        join_all(done.iter().map(|(key, result)| self.complete(key, result))).await
    }

    /// A release whose response was lost finds no record on its retry and answers `NotHeld`,
    /// as for a key never claimed: the key is free either way, which is what a release is for.
    async fn release(&self, key: &str) -> Result<(), IdempotencyError> {
        let request = self
            .keys
            .client
            .delete_item()
            .table_name(&self.keys.name)
            .key("id", s(key))
            .condition_expression(HELD_CONDITION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS));
        let op = "DeleteItem (idempotency release)";
        let outcome = send(op, || request.clone().send()).await;
        match outcome.map_err(|e| failed_condition(op, e)) {
            Ok(_) => Ok(()),
            Err(Ok(_)) => Err(IdempotencyError::NotHeld),
            Err(Err(e)) => Err(e.into()),
        }
    }
}

/// A key may be claimed when free, expired (TTL deletes lazily), or held past its lock by the
/// same payload.
const CLAIM_CONDITION: &str = "attribute_not_exists(id) OR expiresAt < :now_secs \
     OR (#status = :in_progress AND lockUntil < :now_ms AND payloadHash = :hash)";

/// One claim: the key, its payload, its times, and the random token of this claimant.
#[derive(Debug, Clone, Copy)]
struct Claimant<'a> {
    key: &'a str,
    payload_hash: &'a str,
    times: ClaimTimes,
    owner: &'a str,
}

fn new_owner() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn claim_item(c: &Claimant<'_>) -> Item {
    HashMap::from([
        ("id".to_owned(), s(c.key)),
        ("payloadHash".to_owned(), s(c.payload_hash)),
        ("status".to_owned(), s(IN_PROGRESS)),
        (
            "lockUntil".to_owned(),
            n(c.times.lock_until.timestamp_millis()),
        ),
        ("expiresAt".to_owned(), n(c.times.expires_at.timestamp())),
        ("owner".to_owned(), s(c.owner)),
    ])
}

fn claim_values(c: &Claimant<'_>) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (":now_secs".to_owned(), n(c.times.now.timestamp())),
        (":now_ms".to_owned(), n(c.times.now.timestamp_millis())),
        (":in_progress".to_owned(), s(IN_PROGRESS)),
        (":hash".to_owned(), s(c.payload_hash)),
    ])
}

const COMPLETE_UPDATE: &str = "SET #status = :completed, #result = :result";
/// Completing or releasing a key needs it still `IN_PROGRESS`.
const HELD_CONDITION: &str = "#status = :in_progress";

fn complete_values(result: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (":completed".to_owned(), s(COMPLETED)),
        (":in_progress".to_owned(), s(IN_PROGRESS)),
        (":result".to_owned(), s(result)),
    ])
}

/// A key's completion with `result` while it is still `IN_PROGRESS`, as one item of a
/// transaction on `keys` (the ledger's settlement includes it).
pub(super) fn complete_update(keys: &Table, key: &str, result: &str) -> Result<Update, StoreError> {
    Update::builder()
        .table_name(&keys.name)
        .key("id", s(key))
        .update_expression(COMPLETE_UPDATE)
        .condition_expression(HELD_CONDITION)
        .expression_attribute_names("#status", "status")
        .expression_attribute_names("#result", "result")
        .set_expression_attribute_values(Some(complete_values(result)))
        .build()
        .map_err(build_error)
}
