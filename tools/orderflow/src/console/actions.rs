//! The console's actions. A test order and a flash sale go through the local HTTP API exactly
//! as `curl` would send them (with a token of the local issuer when the API checks one); a
//! redrive is `orderflow dlq redrive`'s.

use serde::Deserialize;
use serde_json::{json, Value};

use super::Console;
use crate::local::auth::TokenKind;

/// Buyers a flash sale may have at most: a demonstration, not a load test (`orderflow load`).
pub const MAX_BUYERS: u32 = 100;

/// The customer the console orders as.
pub const CUSTOMER: &str = "console";

/// The place-an-order form.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestOrder {
    pub sku: String,
    pub quantity: u32,
    pub email: String,
    pub payment_token: String,
}

/// What the API answered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// Why an action failed before the API answered.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("the API at {url} did not answer: {source}")]
    Api { url: String, source: reqwest::Error },
    #[error("cannot sign a token for the API: {0}")]
    Token(String),
    #[error("{0}")]
    Redrive(#[from] crate::dlq::DlqError),
    #[error("a flash sale has 1 to {MAX_BUYERS} buyers, not {0}")]
    Buyers(u32),
}

/// `POST /orders` with `body`, as the storefront (or curl) sends it.
async fn post_order(console: &Console, body: &Value) -> Result<Answer, ActionError> {
    let url = format!("{}/orders", console.sources.api_url);
    let mut request = console.http.post(&url).json(body);
    if let Some(issuer) = &console.sources.issuer {
        let token = issuer
            .token_of(
                TokenKind::Access,
                CUSTOMER,
                chrono::Utc::now().timestamp(),
                300,
            )
            .map_err(|e| ActionError::Token(e.to_string()))?;
        request = request.bearer_auth(token);
    }
    let api = |source| ActionError::Api {
        url: url.clone(),
        source,
    };
    let response = request.send().await.map_err(api)?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(api)?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer { status, body })
}

fn order_body(sku: &str, quantity: u32, email: &str, payment_token: &str) -> Value {
    json!({
        "customerId": CUSTOMER,
        "email": email,
        "items": [{"sku": sku, "quantity": quantity}],
        "paymentToken": payment_token,
    })
}

pub async fn place(console: &Console, order: &TestOrder) -> Result<Answer, ActionError> {
    let body = order_body(
        &order.sku,
        order.quantity,
        &order.email,
        &order.payment_token,
    );
    post_order(console, &body).await
}

/// `buyers` customers each ordering one `sku` at once; how many the API accepted and refused.
pub async fn flash_sale(console: &Console, sku: &str, buyers: u32) -> Result<Value, ActionError> {
    if buyers == 0 || buyers > MAX_BUYERS {
        return Err(ActionError::Buyers(buyers));
    }
    let orders = (0..buyers).map(|i| {
        let body = order_body(sku, 1, &format!("buyer{i}@example.com"), "tok_visa");
        async move { post_order(console, &body).await }
    });
    let answers = futures_util::future::join_all(orders).await;
    let mut accepted = 0u32;
    let mut refused = 0u32;
    let mut failed = Vec::new();
    for a in answers {
        match a {
            Ok(a) if a.status == 202 => accepted += 1,
            Ok(_) => refused += 1,
            Err(e) => failed.push(e.to_string()),
        }
    }
    Ok(
        json!({"sku": sku, "buyers": buyers, "accepted": accepted, "refused": refused, "failed": failed}),
    )
}

/// `orderflow dlq redrive QUEUE`: what it says.
pub async fn redrive(console: &Console, queue: &str) -> Result<String, ActionError> {
    let mut listed = console.dead_letters.lock().await;
    let said = crate::dlq::command::redrive(&console.sqs, &console.events, queue).await?;
    // What was listed has gone back: the next look lists again.
    listed.clear();
    Ok(said)
}

/// The catalog, as `GET /products` gives it (the form's choices).
pub async fn products(console: &Console) -> Result<Answer, ActionError> {
    let url = format!("{}/products", console.sources.api_url);
    let api = |source| ActionError::Api {
        url: url.clone(),
        source,
    };
    let response = console.http.get(&url).send().await.map_err(api)?;
    let status = response.status().as_u16();
    let body = response.json().await.map_err(api)?;
    Ok(Answer { status, body })
}
