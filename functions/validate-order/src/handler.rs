//! `POST /orders`: parse and validate the request, price it from the catalog, store the order
//! `PENDING`, publish `OrderPlaced`, answer `202`. Every refusal is a problem+json.

use chrono::Utc;
use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use orderflow_shared::api::{self, FieldIssue, OrderAccepted, RequestError};
use orderflow_shared::domain::{DomainError, Order, OrderId, OrderLine};
use orderflow_shared::events::{DomainEvent, Envelope, OrderPlaced};
use orderflow_shared::http::{json_response, Problem};
use orderflow_shared::ports::{Catalog, EventPublisher, OrderRepository};
use tracing::{error, info, warn};

/// The ports this function uses, lent to every invocation.
pub struct ValidateOrder<S, E> {
    pub store: S,
    pub events: E,
}

impl<S, E> ValidateOrder<S, E>
where
    S: OrderRepository + Catalog,
    E: EventPublisher,
{
    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self.place(request).await {
            Ok(response) => response,
            Err(problem) => problem.into_response(),
        }
    }

    async fn place(&self, request: Request) -> Result<Response<Body>, Problem> {
        if request.method() != Method::POST
            || request.uri().path().trim_end_matches('/') != "/orders"
        {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("no route for {} {}", request.method(), request.uri().path()),
            ));
        }
        let body = body_bytes(request.body());
        if body.len() > api::MAX_BODY_BYTES {
            return Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                format!(
                    "the body is {} bytes; the limit is {} bytes",
                    body.len(),
                    api::MAX_BODY_BYTES
                ),
            ));
        }
        check_content_type(&request)?;
        let parsed = api::parse_place_order(body).map_err(|e| match e {
            RequestError::Malformed(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "malformed-json", detail)
            }
            RequestError::Invalid(issues) => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                format!("{} field(s) are missing or invalid", issues.len()),
            )
            .with_errors(issues),
        })?;

        let skus: Vec<_> = parsed.items.iter().map(|l| l.sku.clone()).collect();
        let products = self.store.products(&skus).await.map_err(unavailable)?;
        let mut lines = Vec::with_capacity(parsed.items.len());
        let mut unknown = Vec::new();
        for (i, item) in parsed.items.iter().enumerate() {
            match products.iter().find(|p| p.sku == item.sku) {
                Some(p) => lines.push(OrderLine {
                    sku: item.sku.clone(),
                    quantity: item.quantity,
                    unit_price: p.price,
                }),
                None => unknown.push(FieldIssue {
                    field: format!("items[{i}].sku"),
                    message: format!("unknown SKU {}; GET /products lists the catalog", item.sku),
                }),
            }
        }
        if !unknown.is_empty() {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown-sku",
                format!("{} SKU(s) are not in the catalog", unknown.len()),
            )
            .with_errors(unknown));
        }

        let order = Order::place(
            OrderId::new(),
            parsed.customer_id,
            parsed.email,
            parsed.payment_token,
            lines,
            Utc::now(),
        )
        .map_err(|e| match e {
            DomainError::CurrencyMismatch { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "mixed-currencies",
                format!(
                    "the items are priced in different currencies ({e}); order them separately"
                ),
            ),
            other => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable-order",
                other.to_string(),
            ),
        })?;

        self.store.create(&order).await.map_err(|e| {
            error!(error = %e, "order could not be stored");
            unavailable(e)
        })?;
        let placed = Envelope::new(
            DomainEvent::OrderPlaced(OrderPlaced {
                order_id: order.order_id.clone(),
                customer_id: order.customer_id.clone(),
                email: order.email.clone(),
                lines: order.lines.clone(),
                total: order.total,
                payment_token: order.payment_token.clone(),
            }),
            None,
        );
        if let Err(e) = self.events.publish(std::slice::from_ref(&placed)).await {
            // The order is stored but nothing will process it: say so, so the client retries.
            error!(order_id = %order.order_id, error = %e, "OrderPlaced could not be published");
            return Err(unavailable(e));
        }
        info!(order_id = %order.order_id, total = %order.total, lines = order.lines.len(), "order accepted");

        let mut response = json_response(
            StatusCode::ACCEPTED,
            &OrderAccepted {
                order_id: order.order_id.to_string(),
                status: order.status,
                total: order.total,
            },
        );
        if let Ok(location) = HeaderValue::from_str(&format!("/orders/{}", order.order_id)) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Ok(response)
    }
}

fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// `application/json`, `application/*+json`, with or without parameters such as charset.
fn check_content_type(request: &Request) -> Result<(), Problem> {
    let raw = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        let found = if raw.is_empty() {
            "none".to_owned()
        } else {
            format!("{raw:?}")
        };
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send the order as JSON with Content-Type: application/json (found {found})"),
        ))
    }
}

fn unavailable(e: impl std::fmt::Display) -> Problem {
    warn!(error = %e, "dependency unavailable");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the order could not be accepted right now; retry shortly",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_shared::adapters::memory::{MemoryEvents, MemoryStore};
    use orderflow_shared::domain::{Currency, Money, OrderStatus, Sku};
    use orderflow_shared::ports::Product;
    use serde_json::Value;

    fn catalog() -> MemoryStore {
        MemoryStore::with_products([
            Product {
                sku: Sku::parse("SKU-TSHIRT-M").unwrap(),
                name: "T-shirt M".into(),
                price: Money::new(1999, Currency::EUR),
                stock: 50,
            },
            Product {
                sku: Sku::parse("SKU-MUG").unwrap(),
                name: "Mug".into(),
                price: Money::new(1250, Currency::EUR),
                stock: 10,
            },
        ])
    }

    fn function() -> ValidateOrder<MemoryStore, MemoryEvents> {
        ValidateOrder {
            store: catalog(),
            events: MemoryEvents::new(),
        }
    }

    fn fixture(name: &str) -> Request {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn body_json(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("expected a text body, got {other:?}"),
        }
    }

    fn assert_problem(response: &Response<Body>, status: u16, slug: &str) -> Value {
        assert_eq!(response.status(), status);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = body_json(response);
        assert_eq!(body["status"], status);
        assert_eq!(body["type"], format!("urn:orderflow:problem:{slug}"));
        body
    }

    fn error_fields(body: &Value) -> Vec<String> {
        let mut fields: Vec<String> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect();
        fields.sort();
        fields
    }

    #[tokio::test]
    async fn a_valid_order_is_stored_pending_published_and_accepted() {
        let f = function();
        let response = f.handle(fixture("apigw-post-order.json")).await;
        assert_eq!(response.status(), 202);
        let body = body_json(&response);
        assert_eq!(body["status"], "PENDING");
        // 2 × 19.99 + 1 × 12.50, from the catalog.
        assert_eq!(
            body["total"],
            serde_json::json!({"amount": 5248, "currency": "EUR"})
        );
        let order_id = body["orderId"].as_str().unwrap();
        assert_eq!(
            response.headers()[header::LOCATION],
            format!("/orders/{order_id}").as_str()
        );

        let stored = f.store.order(&OrderId::parse(order_id).unwrap()).unwrap();
        assert_eq!(stored.status, OrderStatus::Pending);
        let published = f.events.published();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].metadata.correlation_id.as_str(), order_id);
        assert!(
            matches!(&published[0].event, DomainEvent::OrderPlaced(e) if e.total.amount == 5248)
        );
    }

    #[tokio::test]
    async fn prices_come_from_the_catalog_even_when_the_client_sends_one() {
        let f = function();
        let response = f
            .handle(fixture("apigw-post-order-client-price.json"))
            .await;
        let body = assert_problem(&response, 400, "invalid-request");
        assert_eq!(error_fields(&body), ["items[0].unitPrice"]);
        assert!(f.store.orders().is_empty());
    }

    #[tokio::test]
    async fn malformed_json_is_a_400_problem() {
        let f = function();
        let body = assert_problem(
            &f.handle(fixture("apigw-post-order-malformed-json.json"))
                .await,
            400,
            "malformed-json",
        );
        assert!(body["detail"].as_str().unwrap().contains("line 1"));
        assert!(f.events.published().is_empty());
    }

    #[tokio::test]
    async fn missing_fields_are_each_listed_in_a_400_problem() {
        let f = function();
        let body = assert_problem(
            &f.handle(fixture("apigw-post-order-missing-fields.json"))
                .await,
            400,
            "invalid-request",
        );
        assert_eq!(error_fields(&body), ["email", "paymentToken"]);
    }

    #[tokio::test]
    async fn invalid_fields_and_wrong_types_are_each_listed_in_a_400_problem() {
        let f = function();
        let body = assert_problem(
            &f.handle(fixture("apigw-post-order-invalid-fields.json"))
                .await,
            400,
            "invalid-request",
        );
        assert_eq!(
            error_fields(&body),
            [
                "customerId",
                "email",
                "items[0].quantity",
                "items[1].sku",
                "paymentToken"
            ]
        );
    }

    #[tokio::test]
    async fn duplicate_sku_lines_are_a_400_problem() {
        let f = function();
        let body = assert_problem(
            &f.handle(fixture("apigw-post-order-duplicate-sku.json"))
                .await,
            400,
            "invalid-request",
        );
        assert_eq!(error_fields(&body), ["items[1].sku"]);
    }

    #[tokio::test]
    async fn empty_items_are_a_400_problem() {
        let f = function();
        let body = assert_problem(
            &f.handle(fixture("apigw-post-order-empty-items.json")).await,
            400,
            "invalid-request",
        );
        assert_eq!(error_fields(&body), ["items"]);
    }

    #[tokio::test]
    async fn more_than_fifty_lines_are_a_400_problem() {
        let f = function();
        let body = assert_problem(
            &f.handle(fixture("apigw-post-order-too-many-lines.json"))
                .await,
            400,
            "invalid-request",
        );
        assert_eq!(error_fields(&body), ["items"]);
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 50"));
    }

    #[tokio::test]
    async fn a_body_over_64_kib_is_a_413_problem() {
        let f = function();
        assert_problem(
            &f.handle(fixture("apigw-post-order-too-large.json")).await,
            413,
            "body-too-large",
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_a_415_problem() {
        let f = function();
        let body = assert_problem(
            &f.handle(fixture("apigw-post-order-not-json.json")).await,
            415,
            "unsupported-media-type",
        );
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .contains("application/json"));
    }

    #[tokio::test]
    async fn an_unknown_sku_is_a_422_problem_naming_the_line() {
        let f = function();
        let body = assert_problem(
            &f.handle(fixture("apigw-post-order-unknown-sku.json")).await,
            422,
            "unknown-sku",
        );
        assert_eq!(error_fields(&body), ["items[1].sku"]);
        assert!(f.store.orders().is_empty());
    }

    #[tokio::test]
    async fn a_store_outage_is_a_503_problem_and_publishes_nothing() {
        let f = function();
        f.store.fail_next(1);
        assert_problem(
            &f.handle(fixture("apigw-post-order.json")).await,
            503,
            "unavailable",
        );
        assert!(f.events.published().is_empty());
    }

    #[tokio::test]
    async fn an_event_bus_outage_is_a_503_problem_so_the_client_retries() {
        let f = function();
        f.events.fail_next(1);
        assert_problem(
            &f.handle(fixture("apigw-post-order.json")).await,
            503,
            "unavailable",
        );
    }

    #[tokio::test]
    async fn a_base64_encoded_json_body_is_accepted() {
        let f = function();
        let response = f.handle(fixture("apigw-post-order-base64.json")).await;
        assert_eq!(response.status(), 202);
    }
}
