//! What the API answers with: `POST /orders`'s `202` body, an order as its customer reads it,
//! the catalog.

use serde::{Deserialize, Serialize};

use crate::domain::{Money, Order, OrderStatus};
use crate::ports::Product;

/// The `202` body of `POST /orders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderAccepted {
    pub order_id: String,
    pub status: OrderStatus,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineView {
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub status: OrderStatus,
    pub at: String,
}

/// `GET /orders/{orderId}`: no e-mail address and no payment token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_id: String,
    pub customer_id: String,
    pub status: OrderStatus,
    pub items: Vec<LineView>,
    pub total: Money,
    pub history: Vec<HistoryView>,
    pub created_at: String,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        OrderView {
            order_id: o.order_id.to_string(),
            customer_id: o.customer_id.to_string(),
            status: o.status,
            items: o
                .lines
                .iter()
                .map(|l| LineView {
                    sku: l.sku.to_string(),
                    quantity: l.quantity.get(),
                    unit_price: l.unit_price,
                })
                .collect(),
            total: o.total,
            history: o
                .history
                .iter()
                .map(|h| HistoryView {
                    status: h.status,
                    at: h.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                })
                .collect(),
            created_at: o
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductView {
    pub sku: String,
    pub name: String,
    pub price: Money,
    pub stock: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductList {
    pub products: Vec<ProductView>,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> Self {
        ProductView {
            sku: p.sku.to_string(),
            name: p.name.clone(),
            price: p.price,
            stock: p.stock,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Currency, CustomerId, Email, OrderId, OrderLine, PaymentToken, Quantity, Sku,
    };

    #[test]
    fn an_order_view_leaves_out_the_email_and_the_payment_token() {
        let order = Order::place(
            OrderId::new(),
            CustomerId::parse("c").unwrap(),
            Email::parse("secret@example.com").unwrap(),
            PaymentToken::parse("tok_secret").unwrap(),
            vec![OrderLine {
                sku: Sku::parse("SKU-A").unwrap(),
                quantity: Quantity::new(1).unwrap(),
                unit_price: Money::new(5, Currency::EUR),
            }],
            chrono::Utc::now(),
        )
        .unwrap();
        let json = serde_json::to_string(&OrderView::from(&order)).unwrap();
        assert!(!json.contains("secret"));
        assert!(json.contains("\"unitPrice\":{\"amount\":5,\"currency\":\"EUR\"}"));
    }
}
