//! Stock in the Inventory table as [`Inventory`] (and [`Catalog`], to read what is left): a
//! reservation and its release are each one `TransactWriteItems` over every line's stock, the
//! reservation item and the order, so stock is never taken twice nor below zero.
//!
//! Sharded stock (`domain::shards`): each line first tries the shard its order hashes to, in
//! the one transaction, without reading anything (a SKU of one shard: today's transaction,
//! exactly). Only when a line's take is refused are that SKU's shards read at one instant
//! (`shards::snapshot`), and the line moves to the next shard that serves it, or units are
//! moved into one first (`shards::rebalance`), or the buyer is refused because the total is
//! short; then the transaction is sent again.

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::catalog::DynamoCatalog;
use super::item::{
    n, product_key, reservation_from_item, reservation_key, reservation_to_item, s, shard_key,
    shards_from_item, stock_from_item, Item, HELD, RELEASED,
};
use super::orders::{status_after_failure, transition_update};
use super::shards::{rebalance, snapshot, ShardCounts};
use super::table::{build_error, Table};
use super::transaction::{transact, Reasons, TransactError, MAX_TRANSACTION_ITEMS};
use crate::domain::shards::{first_shard, pick, Pick};
use crate::domain::{OrderId, OrderLine, OrderStatus, ShardCount, Sku};
use crate::events::Shortage;
use crate::ports::{
    Catalog, Inventory, Listing, Product, ReleaseError, Reservation, ReserveError, ReservedLine,
    StoreError,
};

/// The tables a reservation touches: stock and reservations live in Inventory, and the order
/// moves in Orders within the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockTables {
    pub inventory: String,
    pub orders: String,
}

/// Stock over DynamoDB: the Inventory table, and the Orders table for the order's move.
#[derive(Debug, Clone)]
pub struct DynamoStock {
    catalog: DynamoCatalog,
    orders: Table,
    counts: ShardCounts,
}

// Item order of the reservation and release transactions; the cancellation reasons follow it.
const TX_RESERVATION: usize = 0;
const TX_ORDER: usize = 1;
const TX_FIRST_LINE: usize = 2;

/// How often one reservation re-plans after a take was refused. Each refusal means stock
/// moved (another buyer took it, or units were moved), so this bounds a buyer that keeps
/// losing races; past it the record fails and is retried later, never refused.
const MAX_ROUNDS: u32 = 32;

/// Where one line takes its units: its SKU's shard count, where its scan starts, the shard.
#[derive(Debug, Clone, Copy)]
struct Plan {
    shards: ShardCount,
    start: u16,
    shard: u16,
}

impl Plan {
    fn first(order_id: &OrderId, sku: &Sku, shards: ShardCount) -> Plan {
        let start = first_shard(order_id, sku, shards);
        Plan {
            shards,
            start,
            shard: start,
        }
    }
}

impl DynamoStock {
    pub fn new(client: Client, tables: StockTables) -> Self {
        DynamoStock {
            catalog: DynamoCatalog::new(client.clone(), tables.inventory),
            orders: Table::new(client, tables.orders),
            counts: ShardCounts::default(),
        }
    }

    fn inventory(&self) -> &Table {
        &self.catalog.inventory
    }

    /// The reservation recorded for an order, if any (consistent read).
    pub async fn reservation(&self, order_id: &OrderId) -> Result<Option<Reservation>, StoreError> {
        let item = self
            .inventory()
            .get_item("pk", reservation_key(order_id), "GetItem (reservation)")
            .await?;
        item.map(|item| reservation_from_item(&item)).transpose()
    }

    /// One shard's stock taken (never below zero) or put back, as a transaction item. A take
    /// from a SKU believed to have one shard also requires that its product item states no
    /// shard count (`ShardCounts`).
    fn stock_update(
        &self,
        line: &OrderLine,
        shard: u16,
        take: Option<ShardCount>,
    ) -> Result<TransactWriteItem, StoreError> {
        let builder = Update::builder()
            .table_name(&self.inventory().name)
            .key("pk", s(shard_key(&line.sku, shard)))
            .expression_attribute_values(":q", n(line.quantity.get()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let builder = match take {
            Some(ShardCount::ONE) => builder
                .update_expression("SET stock = stock - :q")
                .condition_expression(
                    "attribute_exists(pk) AND stock >= :q \
                     AND (attribute_not_exists(shards) OR shards = :one)",
                )
                .expression_attribute_values(":one", n(1)),
            Some(_) => builder
                .update_expression("SET stock = stock - :q")
                .condition_expression("attribute_exists(pk) AND stock >= :q"),
            None => builder
                .update_expression("SET stock = stock + :q")
                .condition_expression("attribute_exists(pk)"),
        };
        let update = builder.build().map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The order's move, as a transaction item.
    fn order_move(
        &self,
        order_id: &OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = transition_update(&self.orders, order_id, from, to, at)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The reservation, the order's `PENDING → RESERVED` and each line's take from its shard.
    fn reserve_items(
        &self,
        order_id: &OrderId,
        lines: &[ReservedLine],
        plans: &[Plan],
        at: DateTime<Utc>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let reservation = Put::builder()
            .table_name(&self.inventory().name)
            .set_item(Some(reservation_to_item(order_id, lines, HELD, at)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_error)?;
        let mut items = vec![
            TransactWriteItem::builder().put(reservation).build(),
            self.order_move(order_id, OrderStatus::Pending, OrderStatus::Reserved, at)?,
        ];
        for (reserved, plan) in lines.iter().zip(plans) {
            items.push(self.stock_update(&reserved.line, reserved.shard, Some(plan.shards))?);
        }
        Ok(items)
    }

    /// The first plan: each line on the shard its order hashes to, among the shards this
    /// process knows its SKU to have (one when it knows of none).
    fn first_plans(&self, order_id: &OrderId, lines: &[OrderLine]) -> Vec<Plan> {
        lines
            .iter()
            .map(|l| Plan::first(order_id, &l.sku, self.counts.of(&l.sku)))
            .collect()
    }

    /// After a refused reservation: why, with the same precedence as the in-memory store
    /// (reservation, order, stock). `Ok` when every refused line found another way (another
    /// shard, or units moved into one) and the reservation is worth sending again.
    async fn replan(
        &self,
        order_id: &OrderId,
        lines: &[OrderLine],
        plans: &mut [Plan],
        reasons: Reasons,
        round: u32,
    ) -> Result<(), ReserveError> {
        if reasons.condition_failed(TX_RESERVATION).is_some() {
            return Err(ReserveError::AlreadyReserved);
        }
        if let Some(returned) = reasons.condition_failed(TX_ORDER) {
            return match status_after_failure(&self.orders, order_id, returned).await {
                Ok(actual) => Err(ReserveError::OrderNotPending { actual }),
                Err(e) => Err(e.into()),
            };
        }
        let mut refused = false;
        let mut shortages = Vec::new();
        let mut moves = Vec::new();
        for (i, (line, plan)) in lines.iter().zip(plans.iter_mut()).enumerate() {
            let Some(returned) = reasons.condition_failed(TX_FIRST_LINE + i) else {
                continue;
            };
            refused = true;
            let stocks = self
                .shard_stocks(order_id, &line.sku, plan, returned)
                .await?;
            match pick(&stocks, plan.start, line.quantity.get()) {
                Pick::Take(shard) => plan.shard = shard,
                Pick::Rebalance(r) => {
                    plan.shard = r.target;
                    moves.push((&line.sku, r));
                }
                Pick::Short { available } => shortages.push(Shortage {
                    sku: line.sku.clone(),
                    requested: line.quantity,
                    available,
                }),
            }
        }
        if !shortages.is_empty() {
            return Err(ReserveError::InsufficientStock(shortages));
        }
        if !refused {
            return Err(reasons
                .into_unavailable("stock reservation cancelled")
                .into());
        }
        for (sku, r) in moves {
            // A move refused by its conditions is fine: the next round reads again.
            rebalance(self.inventory(), sku, &r, &format!("{order_id}/{round}")).await?;
        }
        Ok(())
    }

    /// Every shard's stock of a line's SKU now. Believed one shard: the item the refused take
    /// returned (read if none came back), as before shards — unless it states a shard count,
    /// which is then learned. Several: one snapshot. A count found to differ from the plan's
    /// (the catalog was seeded again) replaces it.
    async fn shard_stocks(
        &self,
        order_id: &OrderId,
        sku: &Sku,
        plan: &mut Plan,
        returned: Option<&Item>,
    ) -> Result<Vec<u32>, StoreError> {
        if plan.shards == ShardCount::ONE {
            let read;
            let item = match returned {
                Some(item) => Some(item),
                None => {
                    read = self
                        .inventory()
                        .get_item("pk", product_key(sku), "GetItem (product)")
                        .await?;
                    read.as_ref()
                }
            };
            let Some(item) = item else {
                return Ok(vec![0]);
            };
            let stated = shards_from_item(item)?;
            if stated == ShardCount::ONE {
                return Ok(vec![stock_from_item(item)?]);
            }
            self.counts.learn(sku, stated);
            *plan = Plan::first(order_id, sku, stated);
        }
        let mut taken = snapshot(self.inventory(), sku, plan.shards).await?;
        if taken.shards != plan.shards {
            self.counts.learn(sku, taken.shards);
            *plan = Plan::first(order_id, sku, taken.shards);
            taken = snapshot(self.inventory(), sku, plan.shards).await?;
        }
        Ok(taken.stocks)
    }

    /// The reservation `HELD → RELEASED`, the order's `PAYMENT_FAILED → CANCELLED` and each
    /// line's units put back into the shard they came from.
    fn release_items(
        &self,
        order_id: &OrderId,
        lines: &[ReservedLine],
        at: DateTime<Utc>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let reservation = Update::builder()
            .table_name(&self.inventory().name)
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
            self.order_move(
                order_id,
                OrderStatus::PaymentFailed,
                OrderStatus::Cancelled,
                at,
            )?,
        ];
        for reserved in lines {
            items.push(self.stock_update(&reserved.line, reserved.shard, None)?);
        }
        Ok(items)
    }

    /// Why a release was refused.
    async fn release_refused(
        &self,
        order_id: &OrderId,
        lines: &[ReservedLine],
        reasons: Reasons,
    ) -> ReleaseError {
        if reasons.condition_failed(TX_RESERVATION).is_some() {
            // Released by a concurrent call between our read and our write.
            return ReleaseError::NotHeld;
        }
        if let Some(returned) = reasons.condition_failed(TX_ORDER) {
            return match status_after_failure(&self.orders, order_id, returned).await {
                Ok(actual) => ReleaseError::OrderNotPaymentFailed { actual },
                Err(e) => e.into(),
            };
        }
        if let Some(reserved) = lines
            .iter()
            .enumerate()
            .find(|(i, _)| reasons.condition_failed(TX_FIRST_LINE + i).is_some())
            .map(|(_, line)| line)
        {
            return StoreError::Corrupt(format!(
                "reservation of order {order_id} names shard {} of SKU {}, which is not in the catalog",
                reserved.shard, reserved.line.sku
            ))
            .into();
        }
        reasons.into_unavailable("stock release cancelled").into()
    }
}

#[async_trait]
impl Inventory for DynamoStock {
    async fn reserve_stock(
        &self,
        order_id: &OrderId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> Result<(), ReserveError> {
        distinct_skus(lines)?;
        fits_one_transaction(lines)?;
        let mut plans = self.first_plans(order_id, lines);
        for round in 0..MAX_ROUNDS {
            let reserved: Vec<ReservedLine> = lines
                .iter()
                .zip(&plans)
                .map(|(line, plan)| ReservedLine {
                    line: line.clone(),
                    shard: plan.shard,
                })
                .collect();
            let items = self.reserve_items(order_id, &reserved, &plans, at)?;
            match transact(&self.orders.client, items).await {
                Ok(()) => return Ok(()),
                Err(TransactError::Store(e)) => return Err(e.into()),
                Err(TransactError::Cancelled(reasons)) => {
                    self.replan(order_id, lines, &mut plans, reasons, round)
                        .await?
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "the stock of order {order_id}'s SKUs moved under each of {MAX_ROUNDS} attempts; retry"
        ))
        .into())
    }

    async fn release_stock(
        &self,
        order_id: &OrderId,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderLine>, ReleaseError> {
        let reserved = match self.reservation(order_id).await? {
            Some(r) if !r.released => r,
            _ => return Err(ReleaseError::NotHeld),
        };
        let lines = reserved.order_lines();
        distinct_skus(&lines)?;
        fits_one_transaction(&lines)?;
        let items = self.release_items(order_id, &reserved.lines, at)?;
        match transact(&self.orders.client, items).await {
            Ok(()) => Ok(lines),
            Err(TransactError::Store(e)) => Err(e.into()),
            Err(TransactError::Cancelled(reasons)) => Err(self
                .release_refused(order_id, &reserved.lines, reasons)
                .await),
        }
    }
}

/// The catalog in the same table: what is left, for a rejection re-published later.
#[async_trait]
impl Catalog for DynamoStock {
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        self.catalog.products(skus).await
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        self.catalog.all_products().await
    }

    async fn listings(&self, skus: &[Sku]) -> Result<Vec<Listing>, StoreError> {
        self.catalog.listings(skus).await
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
}
