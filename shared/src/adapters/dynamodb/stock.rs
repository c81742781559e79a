//! Stock in the Inventory table as [`Inventory`] (and [`Catalog`], to read what is left): a
//! reservation and its release are each one `TransactWriteItems` over every line's stock, the
//! reservation item and the order, so stock is never taken twice nor below zero.

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::catalog::DynamoCatalog;
use super::item::{
    n, product_key, reservation_from_item, reservation_key, reservation_to_item, s,
    stock_from_item, Item, HELD, RELEASED,
};
use super::orders::{status_after_failure, transition_update};
use super::table::{build_error, Table};
use super::transaction::{transact, Reasons, TransactError, MAX_TRANSACTION_ITEMS};
use crate::domain::{OrderId, OrderLine, OrderStatus, Sku};
use crate::events::Shortage;
use crate::ports::{
    Catalog, Inventory, Product, ReleaseError, Reservation, ReserveError, StoreError,
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
}

// Item order of the reservation and release transactions; the cancellation reasons follow it.
const TX_RESERVATION: usize = 0;
const TX_ORDER: usize = 1;
const TX_FIRST_LINE: usize = 2;

impl DynamoStock {
    pub fn new(client: Client, tables: StockTables) -> Self {
        DynamoStock {
            catalog: DynamoCatalog::new(client.clone(), tables.inventory),
            orders: Table::new(client, tables.orders),
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

    /// One line's stock taken (never below zero) or put back, as a transaction item.
    fn stock_update(&self, line: &OrderLine, take: bool) -> Result<TransactWriteItem, StoreError> {
        let builder = Update::builder()
            .table_name(&self.inventory().name)
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

    /// The reservation, the order's `PENDING → RESERVED` and each line's stock taken.
    fn reserve_items(
        &self,
        order_id: &OrderId,
        lines: &[OrderLine],
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
        for line in lines {
            items.push(self.stock_update(line, true)?);
        }
        Ok(items)
    }

    /// Why a reservation was refused, with the same precedence as the in-memory store:
    /// reservation, order, stock.
    async fn reserve_refused(
        &self,
        order_id: &OrderId,
        lines: &[OrderLine],
        reasons: Reasons,
    ) -> ReserveError {
        if reasons.condition_failed(TX_RESERVATION).is_some() {
            return ReserveError::AlreadyReserved;
        }
        if let Some(returned) = reasons.condition_failed(TX_ORDER) {
            return match status_after_failure(&self.orders, order_id, returned).await {
                Ok(actual) => ReserveError::OrderNotPending { actual },
                Err(e) => e.into(),
            };
        }
        let mut shortages = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if let Some(returned) = reasons.condition_failed(TX_FIRST_LINE + i) {
                let available = match self.stock_after_failure(&line.sku, returned).await {
                    Ok(available) => available,
                    Err(e) => return e.into(),
                };
                shortages.push(Shortage {
                    sku: line.sku.clone(),
                    requested: line.quantity,
                    available,
                });
            }
        }
        if !shortages.is_empty() {
            return ReserveError::InsufficientStock(shortages);
        }
        reasons
            .into_unavailable("stock reservation cancelled")
            .into()
    }

    /// The reservation `HELD → RELEASED`, the order's `PAYMENT_FAILED → CANCELLED` and each
    /// line's stock put back.
    fn release_items(
        &self,
        order_id: &OrderId,
        lines: &[OrderLine],
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
        for line in lines {
            items.push(self.stock_update(line, false)?);
        }
        Ok(items)
    }

    /// Why a release was refused.
    async fn release_refused(
        &self,
        order_id: &OrderId,
        lines: &[OrderLine],
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
        if let Some(line) = lines
            .iter()
            .enumerate()
            .find(|(i, _)| reasons.condition_failed(TX_FIRST_LINE + i).is_some())
            .map(|(_, line)| line)
        {
            return StoreError::Corrupt(format!(
                "reservation of order {order_id} names SKU {}, which is not in the catalog",
                line.sku
            ))
            .into();
        }
        reasons.into_unavailable("stock release cancelled").into()
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
                    .inventory()
                    .get_item("pk", product_key(sku), "GetItem (product)")
                    .await?;
                read.as_ref()
            }
        };
        item.map_or(Ok(0), stock_from_item)
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
        let items = self.reserve_items(order_id, lines, at)?;
        match transact(&self.orders.client, items).await {
            Ok(()) => Ok(()),
            Err(TransactError::Store(e)) => Err(e.into()),
            Err(TransactError::Cancelled(reasons)) => {
                Err(self.reserve_refused(order_id, lines, reasons).await)
            }
        }
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
        let items = self.release_items(order_id, &lines, at)?;
        match transact(&self.orders.client, items).await {
            Ok(()) => Ok(lines),
            Err(TransactError::Store(e)) => Err(e.into()),
            Err(TransactError::Cancelled(reasons)) => {
                Err(self.release_refused(order_id, &lines, reasons).await)
            }
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
