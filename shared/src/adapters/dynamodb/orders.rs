//! The Orders table as [`OrderRepository`], and the order's conditional move `from → to` that
//! the stock and ledger transactions include.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::item::{order_from_item, order_to_item, s, status_change_to_av, status_from_item, Item};
use super::retry::send;
use super::table::{build_error, failed_condition, Table};
use crate::domain::{Order, OrderId, OrderStatus};
use crate::ports::{index_time, OpenShard, OrderRepository, OrderWriteError, StoreError};

/// Orders over DynamoDB: the Orders table only.
#[derive(Debug, Clone)]
pub struct DynamoOrders {
    orders: Table,
}

impl DynamoOrders {
    pub fn new(client: Client, orders_table: impl Into<String>) -> Self {
        DynamoOrders {
            orders: Table::new(client, orders_table),
        }
    }
}

#[async_trait]
impl OrderRepository for DynamoOrders {
    async fn create(&self, order: &Order) -> Result<(), OrderWriteError> {
        let request = self
            .orders
            .client
            .put_item()
            .table_name(&self.orders.name)
            .set_item(Some(order_to_item(order)))
            .condition_expression("attribute_not_exists(orderId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let op = "PutItem (order)";
        let returned = match send(op, || request.clone().send()).await {
            Ok(_) => return Ok(()),
            Err(e) => failed_condition(op, e)?,
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
            .orders
            .get_item("orderId", id.to_string(), "GetItem (order)")
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
        let request = self
            .orders
            .client
            .update_item()
            .table_name(&self.orders.name)
            .key("orderId", s(id.as_str()))
            .update_expression(transition_update_expression(to))
            .condition_expression(TRANSITION_CONDITION)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(transition_values(id, from, to, at)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let op = "UpdateItem (order)";
        let returned = match send(op, || request.clone().send()).await {
            Ok(_) => return Ok(()),
            Err(e) => failed_condition(op, e)?,
        };
        let order = match returned {
            Some(item) => Some(order_from_item(&item)?),
            None => self.get(id).await?,
        };
        match order {
            None => Err(OrderWriteError::NotFound(id.clone())),
            // Our own move (the same step at the same instant), its response lost: done.
            Some(order) if moved_by(&order, to, at) => Ok(()),
            Some(order) if order.status != from => Err(OrderWriteError::Conflict {
                expected: from,
                actual: order.status,
            }),
            // The condition failed yet the order reads as `from`: a write raced with ours.
            Some(_) => Err(StoreError::Unavailable(format!(
                "order {id} changed during the transition; retry"
            ))
            .into()),
        }
    }
}

/// Whether the order's last move is to `to` at `at`: the one a transition at `at` writes.
fn moved_by(order: &Order, to: OrderStatus, at: DateTime<Utc>) -> bool {
    order.status == to
        && order
            .history
            .last()
            .is_some_and(|h| h.status == to && h.at == at)
}

/// An order's move `from → to`, recorded in its history; used alone and inside transactions.
/// It keeps the open-orders index's attributes as `order_to_item` writes them: the time of the
/// move, and the shard while `to` is open (a final state removes it, so the order leaves the
/// sparse index).
fn transition_update_expression(to: OrderStatus) -> &'static str {
    if to.is_terminal() {
        "SET #status = :to, history = list_append(history, :h), updatedAt = :at REMOVE openShard"
    } else {
        "SET #status = :to, history = list_append(history, :h), updatedAt = :at, openShard = :shard"
    }
}
const TRANSITION_CONDITION: &str = "#status = :from";

fn transition_values(
    id: &OrderId,
    from: OrderStatus,
    to: OrderStatus,
    at: DateTime<Utc>,
) -> HashMap<String, AttributeValue> {
    let mut values = HashMap::from([
        (":from".to_owned(), s(from.as_str())),
        (":to".to_owned(), s(to.as_str())),
        (
            ":h".to_owned(),
            AttributeValue::L(vec![status_change_to_av(to, at)]),
        ),
        (":at".to_owned(), s(index_time(at))),
    ]);
    if !to.is_terminal() {
        values.insert(":shard".to_owned(), s(OpenShard::of(id).to_string()));
    }
    values
}

/// The order's move `from → to` as one item of a transaction on `orders`.
pub(super) fn transition_update(
    orders: &Table,
    id: &OrderId,
    from: OrderStatus,
    to: OrderStatus,
    at: DateTime<Utc>,
) -> Result<Update, StoreError> {
    Update::builder()
        .table_name(&orders.name)
        .key("orderId", s(id.as_str()))
        .update_expression(transition_update_expression(to))
        .condition_expression(TRANSITION_CONDITION)
        .expression_attribute_names("#status", "status")
        .set_expression_attribute_values(Some(transition_values(id, from, to, at)))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(build_error)
}

/// The status in an item a failed condition returned, or else a fresh read of the order.
pub(super) async fn status_after_failure(
    orders: &Table,
    id: &OrderId,
    returned: Option<&Item>,
) -> Result<Option<OrderStatus>, StoreError> {
    match returned {
        Some(item) => status_from_item(item).map(Some),
        None => {
            let item = orders
                .get_item("orderId", id.to_string(), "GetItem (order)")
                .await?;
            item.map(|item| status_from_item(&item)).transpose()
        }
    }
}
