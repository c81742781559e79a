//! Every order the Orders table holds, accepted or not: a POST the client saw fail may have
//! stored one, a keyless retry another. A scan gives each order's id, status and payment token
//! (cheap enough to repeat while waiting); for the count, each order is read in full through the
//! production adapter, so it is parsed as the functions parse it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use orderflow_shared::adapters::dynamodb::DynamoStore;
use orderflow_shared::domain::{Order, OrderId, OrderStatus};
use orderflow_shared::ports::OrderRepository;

use super::ChaosError;

/// What a scan says of one stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glimpse {
    pub id: OrderId,
    pub status: OrderStatus,
    pub payment_token: String,
}

/// The attributes a scan reads, as the adapter writes them.
const ATTRIBUTES: [&str; 3] = ["orderId", "status", "paymentToken"];

/// Every stored order's id, status and payment token.
pub async fn glimpse(
    dynamodb: &aws_sdk_dynamodb::Client,
    store: &DynamoStore,
) -> Result<Vec<Glimpse>, ChaosError> {
    let table = &store.tables().orders;
    let items = crate::harness::scan::attributes(dynamodb, table, &ATTRIBUTES)
        .await
        .map_err(ChaosError::Setup)?;
    items
        .iter()
        .map(|item| {
            read(item).ok_or_else(|| {
                ChaosError::Setup(format!(
                    "{table} holds an item that is not an order: {item:?}"
                ))
            })
        })
        .collect()
}

fn read(item: &HashMap<String, AttributeValue>) -> Option<Glimpse> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    Some(Glimpse {
        id: OrderId::parse(text(ATTRIBUTES[0])?).ok()?,
        status: text(ATTRIBUTES[1])?.parse().ok()?,
        payment_token: text(ATTRIBUTES[2])?.to_owned(),
    })
}

/// Every stored order, read in full.
pub async fn stored_orders(
    dynamodb: &aws_sdk_dynamodb::Client,
    store: &DynamoStore,
) -> Result<Vec<Order>, ChaosError> {
    let mut orders = Vec::new();
    for g in glimpse(dynamodb, store).await? {
        let order = store
            .get(&g.id)
            .await
            .map_err(|e| ChaosError::Setup(format!("reading stored order {}: {e}", g.id)))?;
        // Nothing deletes orders; one gone between the scan and the read is not counted.
        if let Some(order) = order {
            orders.push(order);
        }
    }
    Ok(orders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scanned_item_is_read_by_the_attributes_the_adapter_writes() {
        let id = OrderId::new();
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let item = HashMap::from([
            ("orderId".to_owned(), s(id.as_str())),
            ("status".to_owned(), s("PAYMENT_FAILED")),
            ("paymentToken".to_owned(), s("tok_visa")),
        ]);
        assert_eq!(
            read(&item),
            Some(Glimpse {
                id,
                status: OrderStatus::PaymentFailed,
                payment_token: "tok_visa".into()
            })
        );
        let mut no_status = item.clone();
        no_status.remove("status");
        assert_eq!(read(&no_status), None);
    }
}
