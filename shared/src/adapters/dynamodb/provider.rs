//! The simulated payment provider (`adapters::simulated_provider`'s rules) with its state in
//! its own table (`ProviderTable`, hash key `pk`), reached through the same endpoint as every
//! store, so the faults between the functions and AWS (lost responses, throttles) hit it too.
//!
//! A charge is one `TransactWriteItems` of two puts: the key item `key#<idempotency key>`,
//! written only if absent or forgotten (`forgetAt`, ms, checked on every read and write, since
//! TTL deletion on `expiresAt` is lazy and moto has none), and the permanent charge record
//! `charge#<charge id>`. A refused key item means the key holds a charge: ours when it carries
//! the charge id this call chose (the transaction applied and its answer was lost, so the SDK's
//! resend met it), else an earlier one, whose outcome is the answer.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::Duration;

use super::item::{charge_from_item, charge_to_item, n, s, Item};
use super::table::{build_error, Table};
use super::transaction::{transact, TransactError};
use crate::adapters::simulated_provider::ProviderCharge;
use crate::clock::Clock;
use crate::ports::{ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway, StoreError};

const KEY_PREFIX: &str = "key#";
const CHARGE_PREFIX: &str = "charge#";

/// The simulated provider over DynamoDB: its own table only.
#[derive(Debug, Clone)]
pub struct DynamoProvider {
    table: Table,
    /// How long a key is remembered after its charge.
    retention: Duration,
    clock: Clock,
}

impl DynamoProvider {
    pub fn new(
        client: Client,
        provider_table: impl Into<String>,
        retention: Duration,
        clock: Clock,
    ) -> Self {
        DynamoProvider {
            table: Table::new(client, provider_table),
            retention,
            clock,
        }
    }

    /// The charge `key` holds, if it is remembered now.
    async fn remembered(&self, key: &str) -> Result<Option<ProviderCharge>, StoreError> {
        let Some(item) = self
            .table
            .get_item("pk", format!("{KEY_PREFIX}{key}"), "GetItem (provider key)")
            .await?
        else {
            return Ok(None);
        };
        let forget_at: i64 = number(&item, "forgetAt")?;
        if forget_at <= self.clock.now().timestamp_millis() {
            return Ok(None);
        }
        charge_from(&item).map(Some)
    }

    /// The two puts of a new charge.
    fn charge_items(&self, charge: &ProviderCharge) -> Result<Vec<TransactWriteItem>, StoreError> {
        let forget_at = charge.record.at + self.retention;
        let mut key_item = charge_item(charge);
        key_item.insert(
            "pk".to_owned(),
            s(format!("{KEY_PREFIX}{}", charge.idempotency_key)),
        );
        key_item.insert("forgetAt".to_owned(), n(forget_at.timestamp_millis()));
        key_item.insert("expiresAt".to_owned(), n(forget_at.timestamp()));
        let key = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(key_item))
            .condition_expression("attribute_not_exists(pk) OR forgetAt <= :now")
            .expression_attribute_values(":now", n(charge.record.at.timestamp_millis()))
            .build()
            .map_err(build_error)?;
        let mut record = charge_item(charge);
        record.insert(
            "pk".to_owned(),
            s(format!("{CHARGE_PREFIX}{}", charge.charge_id)),
        );
        let record = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_error)?;
        Ok(vec![
            TransactWriteItem::builder().put(key).build(),
            TransactWriteItem::builder().put(record).build(),
        ])
    }

    /// The answer when the key item was refused: the key holds a charge, ours or an earlier one.
    async fn held(
        &self,
        request: &ChargeRequest,
        ours: &ProviderCharge,
    ) -> Result<ChargeOutcome, GatewayError> {
        match self.remembered(&request.idempotency_key).await {
            Ok(Some(found)) if found.charge_id == ours.charge_id => {
                // Our transaction applied; its answer was lost and the resend met it.
                found.log_new();
                Ok(found.record.outcome)
            }
            Ok(Some(earlier)) => earlier.answer(request),
            Ok(None) => Err(GatewayError::Transient(format!(
                "idempotency key {:?} was forgotten while being charged; retry",
                request.idempotency_key
            ))),
            Err(e) => Err(transient(e)),
        }
    }

    /// Every charge record (tool and test code: a scan).
    #[cfg(feature = "testing")]
    pub async fn charges(&self) -> Result<Vec<ProviderCharge>, StoreError> {
        let mut charges = Vec::new();
        let mut start_key = None;
        loop {
            let out = self
                .table
                .client
                .scan()
                .table_name(&self.table.name)
                .filter_expression("begins_with(pk, :prefix)")
                .expression_attribute_values(":prefix", s(CHARGE_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| super::table::unavailable("Scan (provider charges)", e))?;
            for item in out.items() {
                charges.push(charge_from(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(charges),
            }
        }
    }
}

#[async_trait]
impl PaymentGateway for DynamoProvider {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        let charge = ProviderCharge::new(request, self.clock.now())?;
        let items = self.charge_items(&charge).map_err(transient)?;
        match transact(&self.table.client, items).await {
            Ok(()) => {
                charge.log_new();
                Ok(charge.record.outcome)
            }
            Err(TransactError::Cancelled(reasons)) if reasons.condition_failed(0).is_some() => {
                self.held(request, &charge).await
            }
            Err(TransactError::Cancelled(reasons)) => Err(transient(
                reasons.into_unavailable("provider charge cancelled"),
            )),
            Err(TransactError::Store(e)) => Err(transient(e)),
        }
    }

    async fn find(&self, idempotency_key: &str) -> Result<Option<ChargeOutcome>, GatewayError> {
        let found = self.remembered(idempotency_key).await.map_err(transient)?;
        Ok(found.map(|c| c.record.outcome))
    }

    fn key_retention(&self) -> Duration {
        self.retention
    }
}

fn transient(e: StoreError) -> GatewayError {
    GatewayError::Transient(format!("simulated provider: {e}"))
}

/// The attributes a key item and a charge record share: the ledger's shape of a charge, plus
/// the charge id (a declined charge has one too) and the key.
fn charge_item(charge: &ProviderCharge) -> Item {
    let mut item = charge_to_item(&charge.record);
    item.insert("chargeId".to_owned(), s(&charge.charge_id));
    item.insert("idempotencyKey".to_owned(), s(&charge.idempotency_key));
    item
}

fn charge_from(item: &Item) -> Result<ProviderCharge, StoreError> {
    Ok(ProviderCharge {
        charge_id: text(item, "chargeId")?,
        idempotency_key: text(item, "idempotencyKey")?,
        record: charge_from_item(item)?,
    })
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "provider item: attribute `{name}` is missing or not a string (S)"
        ))),
    }
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| {
            StoreError::Corrupt(format!(
                "provider item: attribute `{name}` is not an integer: {v}"
            ))
        }),
        _ => Err(StoreError::Corrupt(format!(
            "provider item: attribute `{name}` is missing or not a number (N)"
        ))),
    }
}
