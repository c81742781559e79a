//! Sharded stock's reads and moves (`domain::shards` decides, this does): how many shards a
//! SKU has, kept in the process for a while; every shard of a SKU read at one instant; units
//! moved between shards in one transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Get, TransactGetItem, TransactWriteItem, Update};

use super::item::{n, s, shard_key, shards_from_item, stock_from_item};
use super::retry::{cancellation_contention, contention, retrying, POLICY};
use super::table::{build_error, unavailable, Table};
use super::transaction::{transact, TransactError};
use crate::domain::shards::Rebalance;
use crate::domain::{ShardCount, Sku};
use crate::ports::StoreError;

/// How long a process trusts a sharded SKU's count. The count changes only when the catalog
/// is seeded again, and correctness never rests on it (every take is conditional, and a count
/// found stale on a refused take is read again); this only bounds how long a re-sharded SKU
/// keeps its old spread in a warm function.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// The shard counts this process has learned, of sharded SKUs only. Nothing is read to fill
/// it: a SKU not in it is taken from shard 0 on the condition that its product item states no
/// shard count (`attribute_not_exists(shards)`), which a one-shard SKU meets — its
/// reservation is the same single transaction as before shards existed — and a sharded SKU
/// fails, returning its product item and so its count.
#[derive(Debug, Clone, Default)]
pub(super) struct ShardCounts {
    known: Arc<Mutex<HashMap<Sku, (ShardCount, Instant)>>>,
}

impl ShardCounts {
    /// The count learned for `sku`, or one when none is (or it is stale).
    pub(super) fn of(&self, sku: &Sku) -> ShardCount {
        match self.lock().get(sku) {
            Some((count, at)) if at.elapsed() < FRESH_FOR => *count,
            _ => ShardCount::ONE,
        }
    }

    /// Keeps a count just read (a product item returned by a refused take, or a snapshot).
    pub(super) fn learn(&self, sku: &Sku, count: ShardCount) {
        let mut known = self.lock();
        if count == ShardCount::ONE {
            known.remove(sku);
        } else {
            known.insert(sku.clone(), (count, Instant::now()));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Sku, (ShardCount, Instant)>> {
        // A poisoned lock only means another task panicked while holding plain data.
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every shard of a SKU at one instant, and the shard count its product item states then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Snapshot {
    pub(super) stocks: Vec<u32>,
    pub(super) shards: ShardCount,
}

/// Reads shards `0..shards` of `sku` in one `TransactGetItems`: serializable with every
/// transaction, so it sees a reservation or a move wholly or not at all. Reads one at a time
/// could see a unit leave one shard and not yet arrive in another, and refuse a buyer while
/// the total would serve them. A missing shard holds nothing; a missing product item means a
/// SKU not in the catalog (stock 0).
pub(super) async fn snapshot(
    inventory: &Table,
    sku: &Sku,
    shards: ShardCount,
) -> Result<Snapshot, StoreError> {
    let mut request = inventory.client.transact_get_items();
    for shard in shards.indexes() {
        let get = Get::builder()
            .table_name(&inventory.name)
            .key("pk", s(shard_key(sku, shard)))
            .projection_expression("pk, stock, shards")
            .build()
            .map_err(build_error)?;
        request = request.transact_items(TransactGetItem::builder().get(get).build());
    }
    let out = retrying("TransactGetItems", POLICY, contended_read, || {
        request.clone().send()
    })
    .await
    .map_err(|e| match e {
        SdkError::ServiceError(context) => StoreError::Unavailable(format!(
            "DynamoDB TransactGetItems (stock shards): {}; retry",
            DisplayErrorContext(context.into_err())
        )),
        other => unavailable("TransactGetItems (stock shards)", other),
    })?;
    let mut stocks = Vec::with_capacity(usize::from(shards.get()));
    let mut stated = ShardCount::ONE;
    for (shard, response) in shards.indexes().zip(out.responses()) {
        match response.item() {
            Some(item) => {
                if shard == 0 {
                    stated = shards_from_item(item)?;
                }
                stocks.push(stock_from_item(item)?);
            }
            None => stocks.push(0),
        }
    }
    stocks.resize(usize::from(shards.get()), 0);
    Ok(Snapshot {
        stocks,
        shards: stated,
    })
}

/// A read refused for contention (cancelled because a transaction held an item), and why.
fn contended_read<R>(err: &SdkError<TransactGetItemsError, R>) -> Option<&'static str> {
    match err.as_service_error() {
        Some(TransactGetItemsError::TransactionCanceledException(e)) => {
            cancellation_contention(e.cancellation_reasons())
        }
        _ => contention(err),
    }
}

/// Moves units into `r.target` from its donors in one `TransactWriteItems`: each donor's take
/// is conditional on its stock (never below zero), the target must exist, so the units are in
/// exactly one shard at every instant. `tag` (unique per caller and attempt) is written on the
/// target so that two moves of the same units at different times are two requests, not a
/// replay of one under the same derived `ClientRequestToken`. `Ok(false)`: a condition failed
/// (the stock moved meanwhile) and nothing was written; read again.
pub(super) async fn rebalance(
    inventory: &Table,
    sku: &Sku,
    r: &Rebalance,
    tag: &str,
) -> Result<bool, StoreError> {
    let mut items = Vec::with_capacity(r.donors.len() + 1);
    for (donor, units) in &r.donors {
        let update = Update::builder()
            .table_name(&inventory.name)
            .key("pk", s(shard_key(sku, *donor)))
            .update_expression("SET stock = stock - :u")
            .condition_expression("attribute_exists(pk) AND stock >= :u")
            .expression_attribute_values(":u", n(units))
            .build()
            .map_err(build_error)?;
        items.push(TransactWriteItem::builder().update(update).build());
    }
    let target = Update::builder()
        .table_name(&inventory.name)
        .key("pk", s(shard_key(sku, r.target)))
        .update_expression("SET stock = stock + :u, lastMove = :tag")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":u", n(r.units()))
        .expression_attribute_values(":tag", AttributeValue::S(tag.to_owned()))
        .build()
        .map_err(build_error)?;
    items.push(TransactWriteItem::builder().update(target).build());
    match transact(&inventory.client, items).await {
        Ok(()) => Ok(true),
        Err(TransactError::Store(e)) => Err(e),
        Err(TransactError::Cancelled(reasons)) => {
            let any_condition = (0..=r.donors.len()).any(|i| reasons.condition_failed(i).is_some());
            if any_condition {
                Ok(false)
            } else {
                Err(reasons.into_unavailable("stock rebalance cancelled"))
            }
        }
    }
}
