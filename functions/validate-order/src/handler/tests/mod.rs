//! The handler against in-memory ports, driven by the events/ fixtures; every answer checked against the API contract.

use super::*;
use orderflow_shared::adapters::memory::{MemoryEvents, MemoryStore};
use orderflow_shared::domain::{Currency, Money, OrderStatus, Sku};
use orderflow_shared::ports::Product;
use orderflow_shared::testing::openapi::contract;
use orderflow_shared::testing::WithStore;
use serde_json::Value;

mod idempotency;
mod lost_answer;

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

type Function = WithStore<ValidateOrder<MemoryStore, MemoryStore, MemoryEvents>>;

fn function() -> Function {
    let store = catalog();
    WithStore {
        function: ValidateOrder {
            orders: store.clone(),
            catalog: store.clone(),
            events: MemoryEvents::new(),
            access: Access::Token,
        },
        store,
    }
}

fn fixture(name: &str) -> Request {
    orderflow_shared::testing::http_fixture(name).unwrap()
}

/// Runs the handler and checks its answer against the API contract (infra/openapi.yaml):
/// every response of these tests is one the contract declares for `POST /orders`.
async fn call(f: &Function, request: Request) -> Response<Body> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let response = f.handle(request).await;
    contract()
        .unwrap()
        .check_response(&method, &path, &response)
        .unwrap_or_else(|e| panic!("the answer breaks the API contract: {e}"));
    response
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
    let response = call(&f, fixture("apigw-post-order.json")).await;
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
    assert!(matches!(&published[0].event, DomainEvent::OrderPlaced(e) if e.total.amount == 5248));
}

#[tokio::test]
async fn order_placed_starts_in_the_invocation_s_x_ray_trace() {
    let f = function();
    let mut context = lambda_http::Context::default();
    context.xray_trace_id =
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into());
    let request = fixture("apigw-post-order.json").with_lambda_context(context);
    assert_eq!(call(&f, request).await.status(), 202);
    let published = f.events.published();
    let trace = published[0].trace().unwrap();
    assert_eq!(trace.trace_id(), "5759e988bd862e3fe1be46a994272793");
    assert_ne!(trace.parent_id(), "53995c3f42cd8ad8", "a span of its own");
}

#[tokio::test]
async fn without_an_invocation_trace_the_caller_s_traceparent_or_a_new_trace_is_used() {
    let f = function();
    let caller = orderflow_shared::testing::http_fixture_with("apigw-post-order.json", |e| {
        e["headers"]["traceparent"] =
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into();
    })
    .unwrap();
    assert_eq!(call(&f, caller).await.status(), 202);
    assert_eq!(
        call(&f, fixture("apigw-post-order.json")).await.status(),
        202
    );
    let published = f.events.published();
    assert_eq!(
        published[0].trace().unwrap().trace_id(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let fresh = published[1].trace().unwrap().trace_id();
    assert_ne!(fresh, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(fresh.len(), 32);
}

#[tokio::test]
async fn prices_come_from_the_catalog_even_when_the_client_sends_one() {
    let f = function();
    let response = call(&f, fixture("apigw-post-order-client-price.json")).await;
    let body = assert_problem(&response, 400, "invalid-request");
    assert_eq!(error_fields(&body), ["items[0].unitPrice"]);
    assert!(f.store.orders().is_empty());
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let f = function();
    let body = assert_problem(
        &call(&f, fixture("apigw-post-order-malformed-json.json")).await,
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
        &call(&f, fixture("apigw-post-order-missing-fields.json")).await,
        400,
        "invalid-request",
    );
    assert_eq!(error_fields(&body), ["email", "paymentToken"]);
}

#[tokio::test]
async fn invalid_fields_and_wrong_types_are_each_listed_in_a_400_problem() {
    let f = function();
    let body = assert_problem(
        &call(&f, fixture("apigw-post-order-invalid-fields.json")).await,
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
        &call(&f, fixture("apigw-post-order-duplicate-sku.json")).await,
        400,
        "invalid-request",
    );
    assert_eq!(error_fields(&body), ["items[1].sku"]);
}

#[tokio::test]
async fn empty_items_are_a_400_problem() {
    let f = function();
    let body = assert_problem(
        &call(&f, fixture("apigw-post-order-empty-items.json")).await,
        400,
        "invalid-request",
    );
    assert_eq!(error_fields(&body), ["items"]);
}

#[tokio::test]
async fn more_than_fifty_lines_are_a_400_problem() {
    let f = function();
    let body = assert_problem(
        &call(&f, fixture("apigw-post-order-too-many-lines.json")).await,
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
        &call(&f, fixture("apigw-post-order-too-large.json")).await,
        413,
        "body-too-large",
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let f = function();
    let body = assert_problem(
        &call(&f, fixture("apigw-post-order-not-json.json")).await,
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
        &call(&f, fixture("apigw-post-order-unknown-sku.json")).await,
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
        &call(&f, fixture("apigw-post-order.json")).await,
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
        &call(&f, fixture("apigw-post-order.json")).await,
        503,
        "unavailable",
    );
}

#[tokio::test]
async fn a_base64_encoded_json_body_is_accepted() {
    let f = function();
    let response = call(&f, fixture("apigw-post-order-base64.json")).await;
    assert_eq!(response.status(), 202);
}

fn with_key(mut request: Request, key: &str) -> Request {
    request
        .headers_mut()
        .insert("idempotency-key", HeaderValue::from_str(key).unwrap());
    request
}

#[tokio::test]
async fn items_priced_in_different_currencies_are_a_422_problem() {
    let f = function();
    f.store.put_products([Product {
        sku: Sku::parse("SKU-MUG").unwrap(),
        name: "Mug".into(),
        price: Money::new(1400, Currency::parse("USD").unwrap()),
        stock: 10,
    }]);
    assert_problem(
        &call(&f, fixture("apigw-post-order.json")).await,
        422,
        "mixed-currencies",
    );
    assert!(f.store.orders().is_empty());
}

#[tokio::test]
async fn a_total_out_of_range_is_a_422_problem() {
    let f = function();
    f.store.put_products([Product {
        sku: Sku::parse("SKU-TSHIRT-M").unwrap(),
        name: "T-shirt M".into(),
        price: Money::new(i64::MAX, Currency::EUR),
        stock: 50,
    }]);
    assert_problem(
        &call(&f, fixture("apigw-post-order.json")).await,
        422,
        "unprocessable-order",
    );
}

#[tokio::test]
async fn a_request_without_the_authorizers_claims_is_a_401_problem_when_tokens_are_required() {
    let f = function();
    assert_problem(
        &call(&f, fixture("apigw-post-order-no-token.json")).await,
        401,
        "unauthorized",
    );
    assert!(f.events.published().is_empty());
}

#[tokio::test]
async fn a_body_naming_another_customer_than_the_token_is_a_403_problem() {
    let f = function();
    let body = assert_problem(
        &call(&f, fixture("apigw-post-order-other-customer.json")).await,
        403,
        "customer-mismatch",
    );
    assert!(body["detail"].as_str().unwrap().contains("cust-42"));
    assert!(f.events.published().is_empty());
}

#[tokio::test]
async fn the_tokens_customer_places_the_order_when_the_body_leaves_it_out() {
    let f = function();
    let mut request = fixture("apigw-post-order-other-customer.json");
    let mut body: Value = serde_json::from_slice(edge::body_bytes(request.body())).unwrap();
    body.as_object_mut().unwrap().remove("customerId");
    *request.body_mut() = Body::Text(body.to_string());
    let response = call(&f, request).await;
    assert_eq!(response.status(), 202);
    let id = OrderId::parse(body_json(&response)["orderId"].as_str().unwrap()).unwrap();
    let order = f.store.order(&id).unwrap();
    assert_eq!(order.customer_id.as_str(), "cust-7");
}

#[tokio::test]
async fn an_open_api_takes_the_customer_from_the_body() {
    let mut f = function();
    f.access = Access::Open;
    let response = call(&f, fixture("apigw-post-order-no-token.json")).await;
    assert_eq!(response.status(), 202);
}

/// A request the function answers with `status`, for each status the contract says the
/// function answers `POST /orders` with.
async fn answer_with(status: u16) -> Option<Response<Body>> {
    let f = function();
    let response = match status {
        202 => call(&f, fixture("apigw-post-order.json")).await,
        400 => call(&f, fixture("apigw-post-order-missing-fields.json")).await,
        409 => {
            call(&f, with_key(fixture("apigw-post-order.json"), "k")).await;
            let mut other = fixture("apigw-post-order.json");
            *other.body_mut() = Body::Text(
                r#"{"customerId":"cust-42","email":"ana@example.com","items":[{"sku":"SKU-MUG","quantity":1}],"paymentToken":"tok_visa"}"#.into(),
            );
            call(&f, with_key(other, "k")).await
        }
        401 => call(&f, fixture("apigw-post-order-no-token.json")).await,
        403 => call(&f, fixture("apigw-post-order-other-customer.json")).await,
        413 => call(&f, fixture("apigw-post-order-too-large.json")).await,
        415 => call(&f, fixture("apigw-post-order-not-json.json")).await,
        422 => call(&f, fixture("apigw-post-order-unknown-sku.json")).await,
        503 => {
            f.store.fail_next(1);
            call(&f, fixture("apigw-post-order.json")).await
        }
        _ => return None,
    };
    Some(response)
}

#[tokio::test]
async fn every_status_the_contract_declares_for_post_orders_is_produced_here() {
    let declared = contract()
        .unwrap()
        .function_statuses("POST", "/orders")
        .unwrap();
    assert!(declared.contains(&202), "{declared:?}");
    for status in declared {
        let response = answer_with(status).await.unwrap_or_else(|| {
            panic!("the contract declares {status} for POST /orders, but no test produces it")
        });
        assert_eq!(response.status(), status);
    }
}

#[tokio::test]
async fn an_order_is_accepted_the_same_on_a_named_stage_and_behind_a_base_path() {
    for (stage, raw_path) in [
        ("$default", "/orders"),
        ("prod", "/prod/orders"),
        ("prod", "/orders"),
        ("$default", "/shop/v1/orders"),
    ] {
        let f = function();
        let request =
            orderflow_shared::testing::http_fixture_with("apigw-post-order.json", |event| {
                event["requestContext"]["stage"] = serde_json::json!(stage);
                event["rawPath"] = serde_json::json!(raw_path);
            })
            .unwrap();
        let response = f.handle(request).await;
        assert_eq!(response.status(), 202, "{stage} {raw_path}");
        assert_eq!(f.store.orders().len(), 1);
    }
}

#[tokio::test]
async fn a_body_that_names_a_member_twice_is_a_400_problem_naming_it() {
    let f = function();
    let mut request = fixture("apigw-post-order.json");
    *request.body_mut() = Body::Text(
        r#"{"customerId":"cust-42","email":"ana@example.com","items":[{"sku":"SKU-MUG","quantity":1}],"paymentToken":"tok_visa","paymentToken":"tok_declined"}"#.into(),
    );
    let body = assert_problem(&call(&f, request).await, 400, "invalid-request");
    assert_eq!(error_fields(&body), ["paymentToken"]);
    assert!(f.store.orders().is_empty());
}
