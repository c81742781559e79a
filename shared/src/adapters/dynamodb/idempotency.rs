//! The Idempotency table as [`IdempotencyStore`]: a key is claimed with one conditional
//! `PutItem` (free, expired, or held past its lock by the same payload), completed or released
//! while it is still `IN_PROGRESS`; a batch's keys are claimed and completed in one transaction
//! when none is taken.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use super::item::{idempotency_from_item, n, s, IdempotencyRecord, Item, COMPLETED, IN_PROGRESS};
use super::table::{build_error, failed_condition, Table};
use super::transaction::all_at_once;
use crate::idempotency::{Claim, ClaimTimes, IdempotencyError, IdempotencyStore};
use crate::ports::StoreError;

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
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
        returned: Option<Item>,
    ) -> Result<Option<Claim>, IdempotencyError> {
        let existing = match returned {
            Some(item) => Some(idempotency_from_item(&item)?),
            None => self.record(key).await?,
        };
        let Some(existing) = existing else {
            return Ok(None);
        };
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
}

#[async_trait]
impl IdempotencyStore for DynamoIdempotency {
    async fn claim(
        &self,
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
    ) -> Result<Claim, IdempotencyError> {
        let item = claim_item(key, payload_hash, times);
        for _ in 0..CLAIM_ATTEMPTS {
            let result = self
                .keys
                .client
                .put_item()
                .table_name(&self.keys.name)
                .set_item(Some(item.clone()))
                .condition_expression(CLAIM_CONDITION)
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(claim_values(payload_hash, times)))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let returned = match result {
                Ok(_) => return Ok(Claim::Acquired),
                Err(e) => failed_condition("PutItem (idempotency claim)", e)?,
            };
            if let Some(found) = self
                .refused_claim(key, payload_hash, times, returned)
                .await?
            {
                return Ok(found);
            }
        }
        Err(StoreError::Unavailable(format!(
            "idempotency record {key:?} kept changing during {CLAIM_ATTEMPTS} claim attempts; retry"
        ))
        .into())
    }

    async fn complete(&self, key: &str, result: &str) -> Result<(), IdempotencyError> {
        let outcome = self
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
            .send()
            .await;
        match outcome.map_err(|e| failed_condition("UpdateItem (idempotency complete)", e)) {
            Ok(_) => Ok(()),
            Err(Ok(_)) => Err(IdempotencyError::NotHeld),
            Err(Err(e)) => Err(e.into()),
        }
    }

    /// One transaction claims every key when none is taken (the usual case: 1 call for the
    /// batch). If any condition fails, or the transaction cannot run (a key twice, a conflict,
    /// throttling), nothing was written and each key is claimed on its own instead.
    async fn claim_many(
        &self,
        claims: &[(String, String)],
        times: ClaimTimes,
    ) -> Vec<Result<Claim, IdempotencyError>> {
        let items = || {
            claims
                .iter()
                .map(|(key, hash)| {
                    let put = Put::builder()
                        .table_name(&self.keys.name)
                        .set_item(Some(claim_item(key, hash, times)))
                        .condition_expression(CLAIM_CONDITION)
                        .expression_attribute_names("#status", "status")
                        .set_expression_attribute_values(Some(claim_values(hash, times)))
                        .build()
                        .map_err(build_error)?;
                    Ok(TransactWriteItem::builder().put(put).build())
                })
                .collect()
        };
        if all_at_once(&self.keys.client, claims.len(), items).await {
            return claims.iter().map(|_| Ok(Claim::Acquired)).collect();
        }
        let mut answers = Vec::with_capacity(claims.len());
        for (key, hash) in claims {
            answers.push(self.claim(key, hash, times).await);
        }
        answers
    }

    /// One transaction completes every key while all are still held; otherwise each is
    /// completed on its own, so a key taken over meanwhile is reported as `NotHeld` alone.
    async fn complete_many(&self, done: &[(String, String)]) -> Vec<Result<(), IdempotencyError>> {
        let items = || {
            done.iter()
                .map(|(key, result)| {
                    Ok(TransactWriteItem::builder()
                        .update(complete_update(&self.keys, key, result)?)
                        .build())
                })
                .collect()
        };
        if all_at_once(&self.keys.client, done.len(), items).await {
            return done.iter().map(|_| Ok(())).collect();
        }
        let mut answers = Vec::with_capacity(done.len());
        for (key, result) in done {
            answers.push(self.complete(key, result).await);
        }
        answers
    }

    async fn release(&self, key: &str) -> Result<(), IdempotencyError> {
        let outcome = self
            .keys
            .client
            .delete_item()
            .table_name(&self.keys.name)
            .key("id", s(key))
            .condition_expression(HELD_CONDITION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        match outcome.map_err(|e| failed_condition("DeleteItem (idempotency release)", e)) {
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

fn claim_item(key: &str, payload_hash: &str, times: ClaimTimes) -> Item {
    HashMap::from([
        ("id".to_owned(), s(key)),
        ("payloadHash".to_owned(), s(payload_hash)),
        ("status".to_owned(), s(IN_PROGRESS)),
        (
            "lockUntil".to_owned(),
            n(times.lock_until.timestamp_millis()),
        ),
        ("expiresAt".to_owned(), n(times.expires_at.timestamp())),
    ])
}

fn claim_values(payload_hash: &str, times: ClaimTimes) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (":now_secs".to_owned(), n(times.now.timestamp())),
        (":now_ms".to_owned(), n(times.now.timestamp_millis())),
        (":in_progress".to_owned(), s(IN_PROGRESS)),
        (":hash".to_owned(), s(payload_hash)),
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
