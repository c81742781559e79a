//! DynamoDB adapters: orders, catalog and stock, reservations, the payments ledger and the
//! idempotency store, with the semantics of [`MemoryStore`](super::memory::MemoryStore).
//!
//! Every state change is a conditional write; the reservation and its release are each one
//! `TransactWriteItems`, and a cancelled transaction is turned into a domain error from its
//! cancellation reasons (by item index), never from a message string.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};

use super::memory::Reservation;
use crate::domain::{
    Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, OrderStatus, PaymentToken,
    Quantity, Sku, StatusChange,
};
use crate::events::Shortage;
use crate::ports::{
    Catalog, ChargeOutcome, ChargeRecord, Claim, ClaimTimes, IdempotencyError, IdempotencyStore,
    Inventory, OrderRepository, OrderWriteError, PaymentLedger, Product, Recorded, ReleaseError,
    ReserveError, StoreError,
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

const PRODUCT_PREFIX: &str = "SKU#";
const RESERVATION_PREFIX: &str = "RESERVATION#";
const HELD: &str = "HELD";
const RELEASED: &str = "RELEASED";
const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

type Item = HashMap<String, AttributeValue>;

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
        match item {
            Some(item) => Fields::top(item)
                .n::<u32>("stock")
                .map_err(|e| context(e, &product_key(sku))),
            None => Ok(0),
        }
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
            Err(err) => match err.as_service_error() {
                Some(service) if service.is_transaction_canceled_exception() => {
                    let reasons = match err.into_service_error() {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => {
                            e.cancellation_reasons
                        }
                        _ => None,
                    };
                    Err(TransactError::Cancelled(Reasons(
                        reasons.unwrap_or_default(),
                    )))
                }
                _ => Err(TransactError::Store(unavailable("TransactWriteItems", err))),
            },
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
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(OrderWriteError::AlreadyExists(order.order_id.clone()))
            }
            Err(e) => Err(unavailable("PutItem (order)", e).into()),
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
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        let returned = match err.as_service_error() {
            Some(service) if service.is_conditional_check_failed_exception() => {
                match err.into_service_error() {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(e) => e.item,
                    _ => None,
                }
            }
            _ => return Err(unavailable("UpdateItem (order)", err).into()),
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
        let err = match result {
            Ok(_) => return Ok(Recorded::New),
            Err(err) => err,
        };
        let returned = match err.as_service_error() {
            Some(service) if service.is_conditional_check_failed_exception() => {
                match err.into_service_error() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => e.item,
                    _ => None,
                }
            }
            _ => return Err(unavailable("PutItem (ledger)", err)),
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
}

/// An idempotency record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IdempotencyRecord {
    payload_hash: String,
    completed: Option<String>,
    lock_until_ms: i64,
    expires_at_secs: i64,
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
        let item = HashMap::from([
            ("id".to_owned(), s(key)),
            ("payloadHash".to_owned(), s(payload_hash)),
            ("status".to_owned(), s(IN_PROGRESS)),
            (
                "lockUntil".to_owned(),
                n(times.lock_until.timestamp_millis()),
            ),
            ("expiresAt".to_owned(), n(times.expires_at.timestamp())),
        ]);
        for _ in 0..CLAIM_ATTEMPTS {
            // Free, expired (TTL deletes lazily), or held past its lock by the same payload.
            let result = self
                .client
                .put_item()
                .table_name(&self.tables.idempotency)
                .set_item(Some(item.clone()))
                .condition_expression(
                    "attribute_not_exists(id) OR expiresAt < :now_secs \
                     OR (#status = :in_progress AND lockUntil < :now_ms AND payloadHash = :hash)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":now_secs", n(now_secs))
                .expression_attribute_values(":now_ms", n(now_ms))
                .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                .expression_attribute_values(":hash", s(payload_hash))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(Claim::Acquired),
                Err(err) => err,
            };
            let returned = match err.as_service_error() {
                Some(service) if service.is_conditional_check_failed_exception() => {
                    match err.into_service_error() {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => e.item,
                        _ => None,
                    }
                }
                _ => return Err(unavailable("PutItem (idempotency claim)", err).into()),
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
            .update_expression("SET #status = :completed, #result = :result")
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#result", "result")
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":result", s(result))
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(IdempotencyError::NotHeld)
            }
            Err(e) => Err(unavailable("UpdateItem (idempotency complete)", e).into()),
        }
    }

    async fn release(&self, key: &str) -> Result<(), IdempotencyError> {
        let outcome = self
            .client
            .delete_item()
            .table_name(&self.tables.idempotency)
            .key("id", s(key))
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(IdempotencyError::NotHeld)
            }
            Err(e) => Err(unavailable("DeleteItem (idempotency release)", e).into()),
        }
    }
}

impl DynamoStore {
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

fn build_error(err: BuildError) -> StoreError {
    // Only reachable through a bug in this module: every required field is always set.
    StoreError::Corrupt(format!("invalid DynamoDB request: {err}"))
}

/// Prefixes a conversion error with the item it came from.
fn context(err: StoreError, item: &str) -> StoreError {
    match err {
        StoreError::Corrupt(msg) => StoreError::Corrupt(format!("item {item}: {msg}")),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Item <-> domain

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn time_to_av(at: DateTime<Utc>) -> AttributeValue {
    s(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn product_key(sku: &Sku) -> String {
    format!("{PRODUCT_PREFIX}{sku}")
}

fn reservation_key(order_id: &OrderId) -> String {
    format!("{RESERVATION_PREFIX}{order_id}")
}

/// Reads attributes of one item (or nested map), naming the attribute's path on failure.
struct Fields<'a> {
    map: &'a Item,
    path: String,
}

impl<'a> Fields<'a> {
    fn top(map: &'a Item) -> Self {
        Fields {
            map,
            path: String::new(),
        }
    }

    fn corrupt(&self, name: &str, problem: impl Display) -> StoreError {
        StoreError::Corrupt(format!("attribute `{}{name}` {problem}", self.path))
    }

    fn get(&self, name: &str) -> Result<&'a AttributeValue, StoreError> {
        self.map
            .get(name)
            .ok_or_else(|| self.corrupt(name, "is missing"))
    }

    fn s(&self, name: &str) -> Result<&'a str, StoreError> {
        match self.get(name)? {
            AttributeValue::S(v) => Ok(v),
            _ => Err(self.corrupt(name, "is not a string (S)")),
        }
    }

    fn n<T: FromStr>(&self, name: &str) -> Result<T, StoreError> {
        match self.get(name)? {
            AttributeValue::N(v) => v
                .parse()
                .map_err(|_| self.corrupt(name, format!("is not a valid number here: {v}"))),
            _ => Err(self.corrupt(name, "is not a number (N)")),
        }
    }

    fn parse<T, E: Display>(
        &self,
        name: &str,
        parser: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        let raw = self.s(name)?;
        parser(raw).map_err(|e| self.corrupt(name, format!("is invalid: {e}")))
    }

    fn time(&self, name: &str) -> Result<DateTime<Utc>, StoreError> {
        self.parse(name, |raw| {
            DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc))
        })
    }

    fn m(&self, name: &str) -> Result<Fields<'a>, StoreError> {
        match self.get(name)? {
            AttributeValue::M(map) => Ok(Fields {
                map,
                path: format!("{}{name}.", self.path),
            }),
            _ => Err(self.corrupt(name, "is not a map (M)")),
        }
    }

    /// A list of maps.
    fn l(&self, name: &str) -> Result<Vec<Fields<'a>>, StoreError> {
        let AttributeValue::L(list) = self.get(name)? else {
            return Err(self.corrupt(name, "is not a list (L)"));
        };
        list.iter()
            .enumerate()
            .map(|(i, v)| match v {
                AttributeValue::M(map) => Ok(Fields {
                    map,
                    path: format!("{}{name}[{i}].", self.path),
                }),
                _ => Err(self.corrupt(&format!("{name}[{i}]"), "is not a map (M)")),
            })
            .collect()
    }
}

fn money_to_av(money: Money) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("amount".to_owned(), n(money.amount)),
        ("currency".to_owned(), s(money.currency.as_str())),
    ]))
}

fn money_from(fields: &Fields<'_>, name: &str) -> Result<Money, StoreError> {
    let m = fields.m(name)?;
    Ok(Money::new(
        m.n("amount")?,
        m.parse("currency", Currency::parse)?,
    ))
}

fn lines_to_av(lines: &[OrderLine]) -> AttributeValue {
    AttributeValue::L(
        lines
            .iter()
            .map(|line| {
                AttributeValue::M(HashMap::from([
                    ("sku".to_owned(), s(line.sku.as_str())),
                    ("quantity".to_owned(), n(line.quantity.get())),
                    ("unitPrice".to_owned(), money_to_av(line.unit_price)),
                ]))
            })
            .collect(),
    )
}

fn lines_from(fields: &Fields<'_>, name: &str) -> Result<Vec<OrderLine>, StoreError> {
    fields
        .l(name)?
        .iter()
        .map(|line| {
            let quantity: u32 = line.n("quantity")?;
            Ok(OrderLine {
                sku: line.parse("sku", Sku::parse)?,
                quantity: Quantity::new(quantity)
                    .map_err(|e| line.corrupt("quantity", format!("is invalid: {e}")))?,
                unit_price: money_from(line, "unitPrice")?,
            })
        })
        .collect()
}

fn status_change_to_av(status: OrderStatus, at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("status".to_owned(), s(status.as_str())),
        ("at".to_owned(), time_to_av(at)),
    ]))
}

fn order_to_item(order: &Order) -> Item {
    HashMap::from([
        ("orderId".to_owned(), s(order.order_id.as_str())),
        ("customerId".to_owned(), s(order.customer_id.as_str())),
        ("email".to_owned(), s(order.email.as_str())),
        ("paymentToken".to_owned(), s(order.payment_token.as_str())),
        ("lines".to_owned(), lines_to_av(&order.lines)),
        ("total".to_owned(), money_to_av(order.total)),
        ("status".to_owned(), s(order.status.as_str())),
        (
            "history".to_owned(),
            AttributeValue::L(
                order
                    .history
                    .iter()
                    .map(|h| status_change_to_av(h.status, h.at))
                    .collect(),
            ),
        ),
        ("createdAt".to_owned(), time_to_av(order.created_at)),
    ])
}

fn order_from_item(item: &Item) -> Result<Order, StoreError> {
    let f = Fields::top(item);
    let parse = || -> Result<Order, StoreError> {
        Ok(Order {
            order_id: f.parse("orderId", OrderId::parse)?,
            customer_id: f.parse("customerId", CustomerId::parse)?,
            email: f.parse("email", Email::parse)?,
            payment_token: f.parse("paymentToken", PaymentToken::parse)?,
            lines: lines_from(&f, "lines")?,
            total: money_from(&f, "total")?,
            status: f.parse("status", OrderStatus::from_str)?,
            history: f
                .l("history")?
                .iter()
                .map(|h| {
                    Ok(StatusChange {
                        status: h.parse("status", OrderStatus::from_str)?,
                        at: h.time("at")?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            created_at: f.time("createdAt")?,
        })
    };
    parse().map_err(|e| context(e, &order_label(item)))
}

fn status_from_item(item: &Item) -> Result<OrderStatus, StoreError> {
    Fields::top(item)
        .parse("status", OrderStatus::from_str)
        .map_err(|e| context(e, &order_label(item)))
}

fn order_label(item: &Item) -> String {
    match item.get("orderId") {
        Some(AttributeValue::S(id)) => format!("order {id}"),
        _ => "order (no orderId)".to_owned(),
    }
}

fn pk_label(item: &Item) -> String {
    match item.get("pk") {
        Some(AttributeValue::S(pk)) => pk.clone(),
        _ => "(no pk)".to_owned(),
    }
}

fn product_to_item(product: &Product) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(product_key(&product.sku))),
        ("sku".to_owned(), s(product.sku.as_str())),
        ("name".to_owned(), s(&product.name)),
        ("price".to_owned(), money_to_av(product.price)),
        ("stock".to_owned(), n(product.stock)),
    ])
}

fn product_from_item(item: &Item) -> Result<Product, StoreError> {
    let f = Fields::top(item);
    let parse = || -> Result<Product, StoreError> {
        Ok(Product {
            sku: f.parse("sku", Sku::parse)?,
            name: f.s("name")?.to_owned(),
            price: money_from(&f, "price")?,
            stock: f.n("stock")?,
        })
    };
    parse().map_err(|e| context(e, &pk_label(item)))
}

fn reservation_to_item(
    order_id: &OrderId,
    lines: &[OrderLine],
    status: &str,
    at: DateTime<Utc>,
) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(reservation_key(order_id))),
        ("orderId".to_owned(), s(order_id.as_str())),
        ("lines".to_owned(), lines_to_av(lines)),
        ("status".to_owned(), s(status)),
        ("at".to_owned(), time_to_av(at)),
    ])
}

fn reservation_from_item(item: &Item) -> Result<Reservation, StoreError> {
    let f = Fields::top(item);
    let parse = || -> Result<Reservation, StoreError> {
        let released = match f.s("status")? {
            HELD => false,
            RELEASED => true,
            other => {
                return Err(f.corrupt("status", format!("is neither HELD nor RELEASED: {other}")))
            }
        };
        Ok(Reservation {
            lines: lines_from(&f, "lines")?,
            released,
        })
    };
    parse().map_err(|e| context(e, &pk_label(item)))
}

fn charge_to_item(record: &ChargeRecord) -> Item {
    let mut item = HashMap::from([
        ("orderId".to_owned(), s(record.order_id.as_str())),
        ("amount".to_owned(), money_to_av(record.amount)),
        ("at".to_owned(), time_to_av(record.at)),
    ]);
    match &record.outcome {
        ChargeOutcome::Approved { charge_id } => {
            item.insert("result".to_owned(), s("APPROVED"));
            item.insert("chargeId".to_owned(), s(charge_id));
        }
        ChargeOutcome::Declined { reason } => {
            item.insert("result".to_owned(), s("DECLINED"));
            item.insert("reason".to_owned(), s(reason));
        }
    }
    item
}

fn charge_from_item(item: &Item) -> Result<ChargeRecord, StoreError> {
    let f = Fields::top(item);
    let parse = || -> Result<ChargeRecord, StoreError> {
        let outcome = match f.s("result")? {
            "APPROVED" => ChargeOutcome::Approved {
                charge_id: f.s("chargeId")?.to_owned(),
            },
            "DECLINED" => ChargeOutcome::Declined {
                reason: f.s("reason")?.to_owned(),
            },
            other => {
                return Err(f.corrupt(
                    "result",
                    format!("is neither APPROVED nor DECLINED: {other}"),
                ))
            }
        };
        Ok(ChargeRecord {
            order_id: f.parse("orderId", OrderId::parse)?,
            amount: money_from(&f, "amount")?,
            outcome,
            at: f.time("at")?,
        })
    };
    parse().map_err(|e| context(e, &format!("ledger entry {}", order_label(item))))
}

fn idempotency_from_item(item: &Item) -> Result<IdempotencyRecord, StoreError> {
    let f = Fields::top(item);
    let parse = || -> Result<IdempotencyRecord, StoreError> {
        let completed = match f.s("status")? {
            IN_PROGRESS => None,
            COMPLETED => Some(f.s("result")?.to_owned()),
            other => {
                return Err(f.corrupt(
                    "status",
                    format!("is neither IN_PROGRESS nor COMPLETED: {other}"),
                ))
            }
        };
        Ok(IdempotencyRecord {
            payload_hash: f.s("payloadHash")?.to_owned(),
            completed,
            lock_until_ms: f.n("lockUntil")?,
            expires_at_secs: f.n("expiresAt")?,
        })
    };
    let label = match item.get("id") {
        Some(AttributeValue::S(id)) => format!("idempotency record {id:?}"),
        _ => "idempotency record (no id)".to_owned(),
    };
    parse().map_err(|e| context(e, &label))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: &str, qty: u32, cents: i64) -> OrderLine {
        OrderLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(qty).unwrap(),
            unit_price: Money::new(cents, Currency::EUR),
        }
    }

    fn order() -> Order {
        let mut order = Order::place(
            OrderId::new(),
            CustomerId::parse("cust-1").unwrap(),
            Email::parse("ana@example.com").unwrap(),
            PaymentToken::parse("tok_visa").unwrap(),
            vec![line("SKU-A", 2, 1999), line("SKU-B", 1, 500)],
            "2026-03-01T10:00:00.123456789Z".parse().unwrap(),
        )
        .unwrap();
        order
            .apply(
                OrderStatus::Reserved,
                "2026-03-01T10:00:01Z".parse().unwrap(),
            )
            .unwrap();
        order
    }

    #[test]
    fn an_order_round_trips_through_its_item_to_the_nanosecond() {
        let order = order();
        let item = order_to_item(&order);
        assert_eq!(order_from_item(&item).unwrap(), order);
        assert_eq!(item["status"], s("RESERVED"));
        assert_eq!(item["createdAt"], s("2026-03-01T10:00:00.123456789Z"));
        let AttributeValue::L(lines) = &item["lines"] else {
            panic!("lines is a list")
        };
        let AttributeValue::M(first) = &lines[0] else {
            panic!("a line is a map")
        };
        assert_eq!(first["quantity"], n(2));
        assert_eq!(
            first["unitPrice"],
            AttributeValue::M(HashMap::from([
                ("amount".to_owned(), n(1999)),
                ("currency".to_owned(), s("EUR")),
            ]))
        );
    }

    #[test]
    fn an_order_item_that_does_not_parse_names_the_attribute() {
        let order = order();
        let mut item = order_to_item(&order);
        item.remove("email");
        let err = order_from_item(&item).unwrap_err();
        assert_eq!(
            err,
            StoreError::Corrupt(format!(
                "item order {}: attribute `email` is missing",
                order.order_id
            ))
        );

        let mut item = order_to_item(&order);
        let AttributeValue::L(lines) = item.get_mut("lines").unwrap() else {
            panic!("lines is a list")
        };
        let AttributeValue::M(second) = &mut lines[1] else {
            panic!("a line is a map")
        };
        second.insert("quantity".into(), n(0));
        let StoreError::Corrupt(msg) = order_from_item(&item).unwrap_err() else {
            panic!("corrupt")
        };
        assert!(msg.contains("`lines[1].quantity`"), "{msg}");

        let mut item = order_to_item(&order);
        item.insert("total".into(), s("4498"));
        let StoreError::Corrupt(msg) = order_from_item(&item).unwrap_err() else {
            panic!("corrupt")
        };
        assert!(msg.contains("`total` is not a map (M)"), "{msg}");

        let mut item = order_to_item(&order);
        item.insert("status".into(), s("SHIPPED"));
        let StoreError::Corrupt(msg) = order_from_item(&item).unwrap_err() else {
            panic!("corrupt")
        };
        assert!(msg.contains("`status` is invalid"), "{msg}");
    }

    #[test]
    fn a_product_round_trips_and_is_keyed_by_its_sku() {
        let product = Product {
            sku: Sku::parse("SKU-MUG").unwrap(),
            name: "Mug".into(),
            price: Money::new(1250, Currency::EUR),
            stock: 7,
        };
        let item = product_to_item(&product);
        assert_eq!(item["pk"], s("SKU#SKU-MUG"));
        assert_eq!(product_from_item(&item).unwrap(), product);
        let mut negative = item.clone();
        negative.insert("stock".into(), n(-1));
        let StoreError::Corrupt(msg) = product_from_item(&negative).unwrap_err() else {
            panic!("corrupt")
        };
        assert!(
            msg.starts_with("item SKU#SKU-MUG: attribute `stock`"),
            "{msg}"
        );
        let mut float_price = item;
        float_price.insert(
            "price".into(),
            AttributeValue::M(HashMap::from([
                ("amount".to_owned(), n("12.5")),
                ("currency".to_owned(), s("EUR")),
            ])),
        );
        let StoreError::Corrupt(msg) = product_from_item(&float_price).unwrap_err() else {
            panic!("corrupt")
        };
        assert!(msg.contains("`price.amount`"), "{msg}");
    }

    #[test]
    fn a_reservation_round_trips_held_and_released() {
        let id = OrderId::new();
        let lines = vec![line("SKU-A", 3, 100)];
        let at = Utc::now();
        let held = reservation_to_item(&id, &lines, HELD, at);
        assert_eq!(held["pk"], s(format!("RESERVATION#{id}")));
        assert_eq!(
            reservation_from_item(&held).unwrap(),
            Reservation {
                lines: lines.clone(),
                released: false
            }
        );
        let released = reservation_to_item(&id, &lines, RELEASED, at);
        assert!(reservation_from_item(&released).unwrap().released);
        let odd = reservation_to_item(&id, &lines, "LOST", at);
        assert!(reservation_from_item(&odd).is_err());
    }

    #[test]
    fn a_ledger_entry_round_trips_approved_and_declined() {
        for outcome in [
            ChargeOutcome::Approved {
                charge_id: "ch_1".into(),
            },
            ChargeOutcome::Declined {
                reason: "card declined".into(),
            },
        ] {
            let record = ChargeRecord {
                order_id: OrderId::new(),
                amount: Money::new(4498, Currency::EUR),
                outcome,
                at: Utc::now(),
            };
            let item = charge_to_item(&record);
            assert_eq!(charge_from_item(&item).unwrap(), record);
        }
        let mut item = charge_to_item(&ChargeRecord {
            order_id: OrderId::new(),
            amount: Money::new(1, Currency::EUR),
            outcome: ChargeOutcome::Approved {
                charge_id: "ch_1".into(),
            },
            at: Utc::now(),
        });
        item.remove("chargeId");
        let StoreError::Corrupt(msg) = charge_from_item(&item).unwrap_err() else {
            panic!("corrupt")
        };
        assert!(msg.contains("`chargeId` is missing"), "{msg}");
    }

    #[test]
    fn an_idempotency_record_reads_its_lock_and_expiry_and_needs_a_result_when_completed() {
        let mut item = HashMap::from([
            ("id".to_owned(), s("k")),
            ("payloadHash".to_owned(), s("h")),
            ("status".to_owned(), s(IN_PROGRESS)),
            ("lockUntil".to_owned(), n(1_700_000_000_123_i64)),
            ("expiresAt".to_owned(), n(1_700_086_400_i64)),
        ]);
        assert_eq!(
            idempotency_from_item(&item).unwrap(),
            IdempotencyRecord {
                payload_hash: "h".into(),
                completed: None,
                lock_until_ms: 1_700_000_000_123,
                expires_at_secs: 1_700_086_400,
            }
        );
        item.insert("status".into(), s(COMPLETED));
        assert!(idempotency_from_item(&item).is_err());
        item.insert("result".into(), s("{\"ok\":true}"));
        assert_eq!(
            idempotency_from_item(&item).unwrap().completed.as_deref(),
            Some("{\"ok\":true}")
        );
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
