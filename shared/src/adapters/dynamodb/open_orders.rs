//! The Orders table's sparse open-orders index as [`OpenOrders`]: partition `openShard`, sort
//! `updatedAt`, every attribute projected (the reconciler republishes from the whole order).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::item::{order_from_item, s, Item, OPEN_SHARD, UPDATED_AT};
use super::table::{unavailable, Table};
use crate::domain::OrderId;
use crate::ports::{
    index_time, OpenOrders, OpenOrdersCursor, OpenOrdersPage, OpenOrdersQuery, StoreError,
};

/// Open orders over DynamoDB: one index of the Orders table.
#[derive(Debug, Clone)]
pub struct DynamoOpenOrders {
    orders: Table,
    index: String,
}

impl DynamoOpenOrders {
    pub fn new(client: Client, orders_table: impl Into<String>, index: impl Into<String>) -> Self {
        DynamoOpenOrders {
            orders: Table::new(client, orders_table),
            index: index.into(),
        }
    }
}

#[async_trait]
impl OpenOrders for DynamoOpenOrders {
    async fn open_orders(&self, query: &OpenOrdersQuery) -> Result<OpenOrdersPage, StoreError> {
        let shard = query.shard.to_string();
        let out = self
            .orders
            .client
            .query()
            .table_name(&self.orders.name)
            .index_name(&self.index)
            .key_condition_expression("#shard = :shard AND #updated < :before")
            .expression_attribute_names("#shard", OPEN_SHARD)
            .expression_attribute_names("#updated", UPDATED_AT)
            .expression_attribute_values(":shard", s(&shard))
            .expression_attribute_values(":before", s(index_time(query.changed_before)))
            .limit(i32::try_from(query.limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(query.after.as_ref().map(|c| start_key(&shard, c)))
            .send()
            .await
            .map_err(|e| unavailable("Query (open orders)", e))?;
        let orders = out
            .items()
            .iter()
            .map(order_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = out.last_evaluated_key().map(cursor).transpose()?;
        Ok(OpenOrdersPage { orders, next })
    }
}

/// An index position: the index's keys and the table's.
fn start_key(shard: &str, cursor: &OpenOrdersCursor) -> Item {
    HashMap::from([
        (OPEN_SHARD.to_owned(), s(shard)),
        (UPDATED_AT.to_owned(), s(&cursor.updated_at)),
        ("orderId".to_owned(), s(cursor.order_id.as_str())),
    ])
}

fn cursor(key: &Item) -> Result<OpenOrdersCursor, StoreError> {
    let text = |name: &str| match key.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "the open-orders index's LastEvaluatedKey has no string `{name}`"
        ))),
    };
    Ok(OpenOrdersCursor {
        updated_at: text(UPDATED_AT)?,
        order_id: OrderId::parse(&text("orderId")?)
            .map_err(|e| StoreError::Corrupt(format!("LastEvaluatedKey orderId: {e}")))?,
    })
}
