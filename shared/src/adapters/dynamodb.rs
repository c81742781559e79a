//! DynamoDB adapters: orders, catalog and stock, reservations, the payments ledger and the
//! idempotency store, with the semantics of [`MemoryStore`](super::memory::MemoryStore).
//!
//! Every state change is a conditional write; the reservation and its release are each one
//! `TransactWriteItems`, and a cancelled transaction is turned into a domain error from its
//! cancellation reasons (by item index), never from a message string.

mod item;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use self::item::{
    charge_from_item, charge_to_item, idempotency_from_item, n, order_from_item, order_to_item,
    product_from_item, product_key, product_to_item, reservation_from_item, reservation_key,
    reservation_to_item, s, status_change_to_av, status_from_item, stock_from_item,
    IdempotencyRecord, Item, COMPLETED, HELD, IN_PROGRESS, PRODUCT_PREFIX, RELEASED,
};
use super::memory::Reservation;
use crate::domain::{Order, OrderId, OrderLine, OrderStatus, Sku};
use crate::events::Shortage;
use crate::ports::{
    Catalog, ChargeRecord, Claim, ClaimTimes, IdempotencyError, IdempotencyStore, Inventory,
    OrderRepository, OrderWriteError, PaymentLedger, Product, Recorded, ReleaseError, ReserveError,
    SettleError, Settlement, StoreError,
};

/// DynamoDB's limit on the items of one `TransactWriteItems`.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// DynamoDB's limit on the keys of one `BatchGetItem`.
const MAX_BATCH_GET_KEYS: usize = 100;
/// How often unprocessed keys of a `BatchGetItem` are asked for again before giving up.
const BATCH_GET_ATTEMPTS: u32 = 5;
/// Attempts at an idempotency claim whose record changed between the write and the read.
const CLAIM_ATTEMPTS: u32 = 3;

const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailed";

/// The physical names of the four tables (from the function's environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub orders: String,
    pub inventory: String,
    pub payments: String,
    pub idempotency: String,
}

/// Every store port over DynamoDB: one client, four tables.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

impl DynamoStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        DynamoStore { client, tables }
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Writes a catalog entry, replacing any entry for the same SKU (seeding, tests).
    pub async fn put_product(&self, product: &Product) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.inventory)
            .set_item(Some(product_to_item(product)))
            .send()
            .await
            .map_err(|e| unavailable("PutItem (product)", e))?;
        Ok(())
    }

    /// The reservation recorded for an order, if any (consistent read).
    pub async fn reservation(&self, order_id: &OrderId) -> Result<Option<Reservation>, StoreError> {
        let item = self
            .get_item(
                &self.tables.inventory,
                "pk",
                reservation_key(order_id),
                "GetItem (reservation)",
            )
            .await?;
        item.map(|item| reservation_from_item(&item)).transpose()
    }

    async fn get_item(
        &self,
        table: &str,
        key_name: &str,
        key: String,
        op: &str,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key(key_name, AttributeValue::S(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(op, e))?;
        Ok(out.item)
    }

    async fn order_status(&self, id: &OrderId) -> Result<Option<OrderStatus>, StoreError> {
        let item = self
            .get_item(
                &self.tables.orders,
                "orderId",
                id.to_string(),
                "GetItem (order)",
            )
            .await?;
        item.map(|item| status_from_item(&item)).transpose()
    }

    /// The status in an item a failed condition returned, or else a fresh read of the order.
    async fn status_after_failure(
        &self,
        id: &OrderId,
        returned: Option<&Item>,
    ) -> Result<Option<OrderStatus>, StoreError> {
        match returned {
            Some(item) => status_from_item(item).map(Some),
            None => self.order_status(id).await,
        }
    }

    /// Current stock of a SKU; 0 when the SKU is not in the catalog.
    async fn stock_after_failure(
        &self,
        sku: &Sku,
        returned: Option<&Item>,
    ) -> Result<u32, StoreError> {
        let read;
        let item = match returned {
            Some(item) => Some(item),
            None => {
                read = self
                    .get_item(
                        &self.tables.inventory,
                        "pk",
                        product_key(sku),
                        "GetItem (product)",
                    )
                    .await?;
                read.as_ref()
            }
        };
        item.map_or(Ok(0), stock_from_item)
    }

    fn order_transition_update(
        &self,
        id: &OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
    ) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.tables.orders)
            .key("orderId", s(id.as_str()))
            .update_expression(TRANSITION_UPDATE)
            .condition_expression(TRANSITION_CONDITION)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(transition_values(from, to, at)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)
    }

    fn stock_update(&self, line: &OrderLine, take: bool) -> Result<Update, StoreError> {
        let builder = Update::builder()
            .table_name(&self.tables.inventory)
            .key("pk", s(product_key(&line.sku)))
            .expression_attribute_values(":q", n(line.quantity.get()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let builder = if take {
            builder
                .update_expression("SET stock = stock - :q")
                .condition_expression("attribute_exists(pk) AND stock >= :q")
        } else {
            builder
                .update_expression("SET stock = stock + :q")
                .condition_expression("attribute_exists(pk)")
        };
        builder.build().map_err(build_error)
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(context)) => match context.into_err() {
                TransactWriteItemsError::TransactionCanceledException(e) => Err(
                    TransactError::Cancelled(Reasons(e.cancellation_reasons.unwrap_or_default())),
                ),
                other => Err(TransactError::Store(StoreError::Unavailable(format!(
                    "DynamoDB TransactWriteItems: {}",
                    DisplayErrorContext(&other)
                )))),
            },
            Err(err) => Err(TransactError::Store(unavailable("TransactWriteItems", err))),
        }
    }
}

enum TransactError {
    Cancelled(Reasons),
    Store(StoreError),
}

/// A cancelled transaction's reasons, one per item, in request order.
struct Reasons(Vec<CancellationReason>);

impl Reasons {
    /// The item the condition of item `index` failed on (`Some(None)`: failed, no item returned).
    fn condition_failed(&self, index: usize) -> Option<Option<&Item>> {
        self.0
            .get(index)
            .filter(|r| r.code() == Some(CONDITIONAL_CHECK_FAILED))
            .map(|r| r.item())
    }

    /// Why the transaction was cancelled when no condition explains it (conflict, throttling).
    fn into_unavailable(self, message: &str) -> StoreError {
        let codes: Vec<String> = self
            .0
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r.code() {
                None | Some("None") => None,
                Some(code) => Some(format!("item {i}: {code}")),
            })
            .collect();
        let detail = if codes.is_empty() {
            "no cancellation reasons given".to_owned()
        } else {
            codes.join(", ")
        };
        StoreError::Unavailable(format!("{message} ({detail}); retry"))
    }
}

#[async_trait]
impl OrderRepository for DynamoStore {
    async fn create(&self, order: &Order) -> Result<(), OrderWriteError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.orders)
            .set_item(Some(order_to_item(order)))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let returned = match result {
            Ok(_) => return Ok(()),
            Err(e) => failed_condition("PutItem (order)", e)?,
        };
        let existing = match returned {
            Some(item) => Some(order_from_item(&item)?),
            None => self.get(&order.order_id).await?,
        };
        match existing {
            Some(existing) => Err(OrderWriteError::AlreadyExists(Box::new(existing))),
            None => Err(StoreError::Unavailable(format!(
                "order {} was refused as existing but cannot be read; retry",
                order.order_id
            ))
            .into()),
        }
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let item = self
            .get_item(
                &self.tables.orders,
                "orderId",
                id.to_string(),
                "GetItem (order)",
            )
            .await?;
        item.map(|item| order_from_item(&item)).transpose()
    }

    async fn transition(
        &self,
        id: &OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
    ) -> Result<(), OrderWriteError> {
        from.transition(to)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.orders)
            .key("orderId", s(id.as_str()))
            .update_expression(TRANSITION_UPDATE)
            .condition_expression(TRANSITION_CONDITION)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(transition_values(from, to, at)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let returned = match result {
            Ok(_) => return Ok(()),
            Err(e) => failed_condition("UpdateItem (order)", e)?,
        };
        match self.status_after_failure(id, returned.as_ref()).await? {
            None => Err(OrderWriteError::NotFound(id.clone())),
            Some(actual) if actual != from => Err(OrderWriteError::Conflict {
                expected: from,
                actual,
            }),
            // The condition failed yet the order reads as `from`: a write raced with ours.
            Some(_) => Err(StoreError::Unavailable(format!(
                "order {id} changed during the transition; retry"
            ))
            .into()),
        }
    }
}

#[async_trait]
impl Catalog for DynamoStore {
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let unique: Vec<&Sku> = {
            let mut seen = HashSet::new();
            skus.iter().filter(|s| seen.insert(*s)).collect()
        };
        let mut found: HashMap<Sku, Product> = HashMap::new();
        for chunk in unique.chunks(MAX_BATCH_GET_KEYS) {
            let keys = chunk
                .iter()
                .map(|sku| HashMap::from([("pk".to_owned(), s(product_key(sku)))]))
                .collect();
            for item in self.batch_get(keys).await? {
                let product = product_from_item(&item)?;
                found.insert(product.sku.clone(), product);
            }
        }
        Ok(skus.iter().filter_map(|s| found.get(s).cloned()).collect())
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        let mut products = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.tables.inventory)
                .filter_expression("begins_with(pk, :prefix)")
                .expression_attribute_values(":prefix", s(PRODUCT_PREFIX))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| unavailable("Scan (catalog)", e))?;
            for item in out.items() {
                products.push(product_from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => break,
            }
        }
        products.sort_by(|a, b| a.sku.cmp(&b.sku));
        Ok(products)
    }
}

impl DynamoStore {
    /// One chunk of keys through `BatchGetItem`, asking again for unprocessed keys.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let table = &self.tables.inventory;
        let mut items = Vec::new();
        let mut pending = keys;
        for attempt in 0..BATCH_GET_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .build()
                .map_err(build_error)?;
            let out = self
                .client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| unavailable("BatchGetItem (catalog)", e))?;
            if let Some(mut responses) = out.responses {
                items.extend(responses.remove(table).unwrap_or_default());
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(items);
            }
        }
        Err(StoreError::Unavailable(format!(
            "BatchGetItem (catalog): {} key(s) still unprocessed after {BATCH_GET_ATTEMPTS} attempts (throttled); retry",
            pending.len()
        )))
    }
}

/// Refuses lines that name one SKU twice: one transaction may touch an item only once.
fn distinct_skus(lines: &[OrderLine]) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    match lines.iter().find(|l| !seen.insert(&l.sku)) {
        Some(dup) => Err(StoreError::Corrupt(format!(
            "order lines name SKU {} more than once",
            dup.sku
        ))),
        None => Ok(()),
    }
}

fn fits_one_transaction(lines: &[OrderLine]) -> Result<(), StoreError> {
    // The lines, plus the reservation and the order.
    if lines.len() + 2 > MAX_TRANSACTION_ITEMS {
        return Err(StoreError::Corrupt(format!(
            "{} order lines exceed the {} a single transaction can reserve",
            lines.len(),
            MAX_TRANSACTION_ITEMS - 2
        )));
    }
    Ok(())
}

/// An order's move `from → to`, recorded in its history; used alone and inside transactions.
const TRANSITION_UPDATE: &str = "SET #status = :to, history = list_append(history, :h)";
const TRANSITION_CONDITION: &str = "#status = :from";

fn transition_values(
    from: OrderStatus,
    to: OrderStatus,
    at: DateTime<Utc>,
) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (":from".to_owned(), s(from.as_str())),
        (":to".to_owned(), s(to.as_str())),
        (
            ":h".to_owned(),
            AttributeValue::L(vec![status_change_to_av(to, at)]),
        ),
    ])
}

// Item order of the reservation and release transactions; the cancellation reasons follow it.
const TX_RESERVATION: usize = 0;
const TX_ORDER: usize = 1;
const TX_FIRST_LINE: usize = 2;

#[async_trait]
impl Inventory for DynamoStore {
    async fn reserve_stock(
        &self,
        order_id: &OrderId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> Result<(), ReserveError> {
        distinct_skus(lines)?;
        fits_one_transaction(lines)?;
        let reservation = Put::builder()
            .table_name(&self.tables.inventory)
            .set_item(Some(reservation_to_item(order_id, lines, HELD, at)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_error)?;
        let mut items = vec![
            TransactWriteItem::builder().put(reservation).build(),
            TransactWriteItem::builder()
                .update(self.order_transition_update(
                    order_id,
                    OrderStatus::Pending,
                    OrderStatus::Reserved,
                    at,
                )?)
                .build(),
        ];
        for line in lines {
            items.push(
                TransactWriteItem::builder()
                    .update(self.stock_update(line, true)?)
                    .build(),
            );
        }
        let reasons = match self.transact(items).await {
            Ok(()) => return Ok(()),
            Err(TransactError::Store(e)) => return Err(e.into()),
            Err(TransactError::Cancelled(reasons)) => reasons,
        };
        // The same precedence as the in-memory store: reservation, order, stock.
        if reasons.condition_failed(TX_RESERVATION).is_some() {
            return Err(ReserveError::AlreadyReserved);
        }
        if let Some(returned) = reasons.condition_failed(TX_ORDER) {
            let actual = self.status_after_failure(order_id, returned).await?;
            return Err(ReserveError::OrderNotPending { actual });
        }
        let mut shortages = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if let Some(returned) = reasons.condition_failed(TX_FIRST_LINE + i) {
                shortages.push(Shortage {
                    sku: line.sku.clone(),
                    requested: line.quantity,
                    available: self.stock_after_failure(&line.sku, returned).await?,
                });
            }
        }
        if !shortages.is_empty() {
            return Err(ReserveError::InsufficientStock(shortages));
        }
        Err(reasons
            .into_unavailable("stock reservation cancelled")
            .into())
    }

    async fn release_stock(
        &self,
        order_id: &OrderId,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderLine>, ReleaseError> {
        let lines = match self.reservation(order_id).await? {
            Some(r) if !r.released => r.lines,
            _ => return Err(ReleaseError::NotHeld),
        };
        distinct_skus(&lines)?;
        fits_one_transaction(&lines)?;
        let reservation = Update::builder()
            .table_name(&self.tables.inventory)
            .key("pk", s(reservation_key(order_id)))
            .update_expression("SET #status = :released")
            .condition_expression("#status = :held")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":released", s(RELEASED))
            .expression_attribute_values(":held", s(HELD))
            .build()
            .map_err(build_error)?;
        let mut items = vec![
            TransactWriteItem::builder().update(reservation).build(),
            TransactWriteItem::builder()
                .update(self.order_transition_update(
                    order_id,
                    OrderStatus::PaymentFailed,
                    OrderStatus::Cancelled,
                    at,
                )?)
                .build(),
        ];
        for line in &lines {
            items.push(
                TransactWriteItem::builder()
                    .update(self.stock_update(line, false)?)
                    .build(),
            );
        }
        let reasons = match self.transact(items).await {
            Ok(()) => return Ok(lines),
            Err(TransactError::Store(e)) => return Err(e.into()),
            Err(TransactError::Cancelled(reasons)) => reasons,
        };
        if reasons.condition_failed(TX_RESERVATION).is_some() {
            // Released by a concurrent call between our read and our write.
            return Err(ReleaseError::NotHeld);
        }
        if let Some(returned) = reasons.condition_failed(TX_ORDER) {
            let actual = self.status_after_failure(order_id, returned).await?;
            return Err(ReleaseError::OrderNotPaymentFailed { actual });
        }
        if let Some(line) = lines
            .iter()
            .enumerate()
            .find(|(i, _)| reasons.condition_failed(TX_FIRST_LINE + i).is_some())
            .map(|(_, line)| line)
        {
            return Err(StoreError::Corrupt(format!(
                "reservation of order {order_id} names SKU {}, which is not in the catalog",
                line.sku
            ))
            .into());
        }
        Err(reasons.into_unavailable("stock release cancelled").into())
    }
}

#[async_trait]
impl PaymentLedger for DynamoStore {
    async fn record(&self, record: &ChargeRecord) -> Result<Recorded, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.payments)
            .set_item(Some(charge_to_item(record)))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let returned = match result {
            Ok(_) => return Ok(Recorded::New),
            Err(e) => failed_condition("PutItem (ledger)", e)?,
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
            .get_item(
                &self.tables.payments,
                "orderId",
                order_id.to_string(),
                "GetItem (ledger)",
            )
            .await?;
        item.map(|item| charge_from_item(&item)).transpose()
    }

    async fn settle(&self, settlement: &Settlement, at: DateTime<Utc>) -> Result<(), SettleError> {
        let order_id = &settlement.record.order_id;
        settlement.check()?;
        let ledger = Put::builder()
            .table_name(&self.tables.payments)
            .set_item(Some(charge_to_item(&settlement.record)))
            .condition_expression("attribute_not_exists(orderId)")
            .build()
            .map_err(build_error)?;
        let complete = self.complete_update(&settlement.key, &settlement.result)?;
        let items = vec![
            TransactWriteItem::builder().put(ledger).build(),
            TransactWriteItem::builder().update(complete).build(),
            TransactWriteItem::builder()
                .update(self.order_transition_update(
                    order_id,
                    OrderStatus::Reserved,
                    settlement.to,
                    at,
                )?)
                .build(),
        ];
        let reasons = match self.transact(items).await {
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

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim(
        &self,
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
    ) -> Result<Claim, IdempotencyError> {
        let now_secs = times.now.timestamp();
        let now_ms = times.now.timestamp_millis();
        let item = claim_item(key, payload_hash, times);
        for _ in 0..CLAIM_ATTEMPTS {
            let result = self
                .client
                .put_item()
                .table_name(&self.tables.idempotency)
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
            let existing = match returned {
                Some(item) => Some(idempotency_from_item(&item)?),
                None => self.idempotency_record(key).await?,
            };
            let Some(existing) = existing else {
                continue; // released or deleted meanwhile: try again
            };
            if existing.expires_at_secs < now_secs {
                continue;
            }
            if existing.payload_hash != payload_hash {
                return Err(IdempotencyError::PayloadMismatch);
            }
            if let Some(result) = existing.completed {
                return Ok(Claim::Completed(result));
            }
            if existing.lock_until_ms >= now_ms {
                return Ok(Claim::InProgress);
            }
            // The lock expired between our write and our read: try again.
        }
        Err(StoreError::Unavailable(format!(
            "idempotency record {key:?} kept changing during {CLAIM_ATTEMPTS} claim attempts; retry"
        ))
        .into())
    }

    async fn complete(&self, key: &str, result: &str) -> Result<(), IdempotencyError> {
        let outcome = self
            .client
            .update_item()
            .table_name(&self.tables.idempotency)
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
                        .table_name(&self.tables.idempotency)
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
        if self.all_at_once(claims.len(), items).await {
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
                        .update(self.complete_update(key, result)?)
                        .build())
                })
                .collect()
        };
        if self.all_at_once(done.len(), items).await {
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
            .client
            .delete_item()
            .table_name(&self.tables.idempotency)
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

impl DynamoStore {
    /// Writes `count` items (built by `items`) in one transaction when there are several and
    /// they fit one; `false` when nothing was written (the caller goes one by one).
    async fn all_at_once(
        &self,
        count: usize,
        items: impl FnOnce() -> Result<Vec<TransactWriteItem>, StoreError>,
    ) -> bool {
        if !(2..=MAX_TRANSACTION_ITEMS).contains(&count) {
            return false;
        }
        match items() {
            Ok(items) => self.transact(items).await.is_ok(),
            Err(_) => false,
        }
    }

    /// An idempotency key's completion with `result`, while it is still `IN_PROGRESS`.
    fn complete_update(&self, key: &str, result: &str) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.tables.idempotency)
            .key("id", s(key))
            .update_expression(COMPLETE_UPDATE)
            .condition_expression(HELD_CONDITION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#result", "result")
            .set_expression_attribute_values(Some(complete_values(result)))
            .build()
            .map_err(build_error)
    }

    async fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let item = self
            .get_item(
                &self.tables.idempotency,
                "id",
                key.to_owned(),
                "GetItem (idempotency)",
            )
            .await?;
        item.map(|item| idempotency_from_item(&item)).transpose()
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

fn unavailable<E, R>(op: &str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(format!("DynamoDB {op}: {}", DisplayErrorContext(&err)))
}

/// The errors of the single-item writes, which fail in a known way when their condition fails.
trait ConditionalWriteError: std::error::Error + Sized + 'static {
    /// The item DynamoDB returned for a failed condition (`ALL_OLD`), or the error itself.
    fn into_condition_failure(self) -> Result<Option<Item>, Self>;
}

impl ConditionalWriteError for PutItemError {
    fn into_condition_failure(self) -> Result<Option<Item>, Self> {
        match self {
            PutItemError::ConditionalCheckFailedException(e) => Ok(e.item),
            other => Err(other),
        }
    }
}

impl ConditionalWriteError for UpdateItemError {
    fn into_condition_failure(self) -> Result<Option<Item>, Self> {
        match self {
            UpdateItemError::ConditionalCheckFailedException(e) => Ok(e.item),
            other => Err(other),
        }
    }
}

impl ConditionalWriteError for DeleteItemError {
    fn into_condition_failure(self) -> Result<Option<Item>, Self> {
        match self {
            DeleteItemError::ConditionalCheckFailedException(e) => Ok(e.item),
            other => Err(other),
        }
    }
}

/// `Ok(returned item)` when the write's condition failed; any other failure as a store error.
fn failed_condition<E, R>(op: &str, err: SdkError<E, R>) -> Result<Option<Item>, StoreError>
where
    E: ConditionalWriteError,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(context) => {
            context
                .into_err()
                .into_condition_failure()
                .map_err(|other| {
                    StoreError::Unavailable(format!(
                        "DynamoDB {op}: {}",
                        DisplayErrorContext(&other)
                    ))
                })
        }
        other => Err(unavailable(op, other)),
    }
}

fn build_error(err: BuildError) -> StoreError {
    // Only reachable through a bug in this module: every required field is always set.
    StoreError::Corrupt(format!("invalid DynamoDB request: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, Money, Quantity};

    fn line(sku: &str, qty: u32, cents: i64) -> OrderLine {
        OrderLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(qty).unwrap(),
            unit_price: Money::new(cents, Currency::EUR),
        }
    }

    #[test]
    fn lines_naming_one_sku_twice_are_refused_before_any_call() {
        assert!(distinct_skus(&[line("SKU-A", 1, 1), line("SKU-B", 1, 1)]).is_ok());
        assert_eq!(
            distinct_skus(&[line("SKU-A", 1, 1), line("SKU-A", 2, 1)]),
            Err(StoreError::Corrupt(
                "order lines name SKU SKU-A more than once".into()
            ))
        );
        let many: Vec<OrderLine> = (0..99).map(|i| line(&format!("SKU-{i}"), 1, 1)).collect();
        assert!(fits_one_transaction(&many[..98]).is_ok());
        assert!(fits_one_transaction(&many).is_err());
    }

    #[test]
    fn cancellation_reasons_are_read_by_item_index() {
        let stock = HashMap::from([("stock".to_owned(), n(1))]);
        let reasons = Reasons(vec![
            CancellationReason::builder().code("None").build(),
            CancellationReason::builder()
                .code("ConditionalCheckFailed")
                .build(),
            CancellationReason::builder()
                .code("ConditionalCheckFailed")
                .set_item(Some(stock.clone()))
                .build(),
            CancellationReason::builder()
                .code("TransactionConflict")
                .build(),
        ]);
        assert_eq!(reasons.condition_failed(0), None);
        assert_eq!(reasons.condition_failed(1), Some(None));
        assert_eq!(reasons.condition_failed(2), Some(Some(&stock)));
        assert_eq!(reasons.condition_failed(3), None);
        assert_eq!(reasons.condition_failed(9), None);
        let StoreError::Unavailable(msg) = reasons.into_unavailable("cancelled") else {
            panic!("unavailable")
        };
        assert!(msg.contains("item 3: TransactionConflict"), "{msg}");
    }
}
