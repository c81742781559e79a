//! The Payments table as [`PaymentLedger`]: at most one entry per order (a conditional
//! `PutItem`), and the settlement of a charge in one transaction: the entry, the charge key's
//! completion (Idempotency table) and the order's move out of `RESERVED` (Orders table).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::idempotency::complete_update;
use super::item::{charge_from_item, charge_to_item};
use super::orders::transition_update;
use super::retry::send;
use super::table::{build_error, failed_condition, Table};
use super::transaction::{transact, TransactError};
use crate::domain::{OrderId, OrderStatus};
use crate::ports::{ChargeRecord, PaymentLedger, Recorded, SettleError, Settlement, StoreError};

/// The tables a settlement touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTables {
    pub payments: String,
    pub idempotency: String,
    pub orders: String,
}

/// The payments ledger over DynamoDB: the Payments table, and the Idempotency and Orders
/// tables for the settlement.
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    payments: Table,
    keys: Table,
    orders: Table,
}

impl DynamoLedger {
    pub fn new(client: Client, tables: LedgerTables) -> Self {
        DynamoLedger {
            payments: Table::new(client.clone(), tables.payments),
            keys: Table::new(client.clone(), tables.idempotency),
            orders: Table::new(client, tables.orders),
        }
    }

    /// The entry, the key's completion and the order's move, in this order (the refusal
    /// reasons follow it).
    fn settle_items(
        &self,
        settlement: &Settlement,
        at: DateTime<Utc>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let ledger = Put::builder()
            .table_name(&self.payments.name)
            .set_item(Some(charge_to_item(&settlement.record)))
            .condition_expression("attribute_not_exists(orderId)")
            .build()
            .map_err(build_error)?;
        let complete = complete_update(&self.keys, &settlement.key, &settlement.result)?;
        let order = transition_update(
            &self.orders,
            &settlement.record.order_id,
            OrderStatus::Reserved,
            settlement.to,
            at,
        )?;
        Ok(vec![
            TransactWriteItem::builder().put(ledger).build(),
            TransactWriteItem::builder().update(complete).build(),
            TransactWriteItem::builder().update(order).build(),
        ])
    }
}

#[async_trait]
impl PaymentLedger for DynamoLedger {
    async fn record(&self, record: &ChargeRecord) -> Result<Recorded, StoreError> {
        let request = self
            .payments
            .client
            .put_item()
            .table_name(&self.payments.name)
            .set_item(Some(charge_to_item(record)))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let op = "PutItem (ledger)";
        let returned = match send(op, || request.clone().send()).await {
            Ok(_) => return Ok(Recorded::New),
            Err(e) => failed_condition(op, e)?,
        };
        let existing = match returned {
            Some(item) => Some(charge_from_item(&item)?),
            None => self.charge_for(&record.order_id).await?,
        };
        existing.map(Recorded::Existing).ok_or_else(|| {
            StoreError::Unavailable(format!(
                "ledger entry of order {} was refused as existing but cannot be read; retry",
                record.order_id
            ))
        })
    }

    async fn charge_for(&self, order_id: &OrderId) -> Result<Option<ChargeRecord>, StoreError> {
        let item = self
            .payments
            .get_item("orderId", order_id.to_string(), "GetItem (ledger)")
            .await?;
        item.map(|item| charge_from_item(&item)).transpose()
    }

    async fn settle(&self, settlement: &Settlement, at: DateTime<Utc>) -> Result<(), SettleError> {
        settlement.check()?;
        let items = self.settle_items(settlement, at)?;
        let reasons = match transact(&self.payments.client, items).await {
            Ok(()) => return Ok(()),
            Err(TransactError::Store(e)) => return Err(e.into()),
            Err(TransactError::Cancelled(reasons)) => reasons,
        };
        let refused: Vec<&str> = [
            "the order has a ledger entry",
            "the key is not held",
            "the order is not RESERVED",
        ]
        .into_iter()
        .enumerate()
        .filter(|(i, _)| reasons.condition_failed(*i).is_some())
        .map(|(_, why)| why)
        .collect();
        if refused.is_empty() {
            return Err(reasons.into_unavailable("settlement cancelled").into());
        }
        Err(SettleError::Refused(refused.join("; ")))
    }
}
