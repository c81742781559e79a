//! The edge steps: what each check answers, and that they answer in their documented order.

use super::*;
use crate::testing::{http_fixture, http_fixture_with};
use lambda_http::http::HeaderValue;
use serde_json::json;

fn slug(result: Result<impl std::fmt::Debug, Problem>) -> String {
    match result {
        Err(problem) => problem
            .problem_type
            .trim_start_matches("urn:orderflow:problem:")
            .to_owned(),
        Ok(command) => format!("accepted: {command:?}"),
    }
}

/// `apigw-post-order.json` with a body, a content type and an `Idempotency-Key`.
fn post(body: &str, content_type: &str, key: Option<&str>) -> Request {
    let mut request = http_fixture_with("apigw-post-order.json", |event| {
        event["body"] = json!(body);
        event["headers"]["content-type"] = json!(content_type);
    })
    .unwrap();
    if let Some(key) = key {
        request
            .headers_mut()
            .insert("idempotency-key", HeaderValue::from_str(key).unwrap());
    }
    request
}

const VALID: &str = r#"{"customerId":"cust-42","email":"ana@example.com","items":[{"sku":"SKU-MUG","quantity":1}],"paymentToken":"tok_visa"}"#;

#[test]
fn a_valid_post_becomes_a_command_with_its_caller_key_and_order() {
    let command =
        place_order(&post(VALID, "application/json", Some("k-1")), Access::Token).unwrap();
    assert_eq!(
        command.caller.as_ref().map(CustomerId::as_str),
        Some("cust-42")
    );
    assert_eq!(
        command.key.as_ref().map(IdempotencyKey::as_str),
        Some("k-1")
    );
    assert_eq!(command.order.customer_id.as_str(), "cust-42");
    assert_eq!(command.order.items.len(), 1);
}

#[test]
fn the_post_checks_answer_in_their_documented_order() {
    let bad_key = Some(" not visible ");
    let other = VALID.replace("cust-42", "cust-7");
    // Each request fails every check from its own on; the first one answers.
    let cases = [
        ("not-found", {
            let mut r = post("x", "text/plain", bad_key);
            *r.method_mut() = Method::PUT;
            r
        }),
        (
            "body-too-large",
            post(&"x".repeat(64 * 1024 + 1), "text/plain", bad_key),
        ),
        ("unauthorized", {
            http_fixture_with("apigw-post-order-no-token.json", |event| {
                event["body"] = json!("x");
                event["headers"]["content-type"] = json!("text/plain");
            })
            .unwrap()
        }),
        ("unsupported-media-type", post("x", "text/plain", bad_key)),
        ("malformed-json", post("x", "application/json", bad_key)),
        ("invalid-request", post("{}", "application/json", bad_key)),
        (
            "customer-mismatch",
            post(&other, "application/json", bad_key),
        ),
        (
            "invalid-idempotency-key",
            post(VALID, "application/json", bad_key),
        ),
    ];
    for (expected, request) in cases {
        assert_eq!(slug(place_order(&request, Access::Token)), expected);
    }
}

#[test]
fn a_body_naming_a_member_twice_is_an_invalid_request_naming_it() {
    let twice = VALID.replace(r#""quantity":1"#, r#""quantity":1,"quantity":2"#);
    let problem = place_order(&post(&twice, "application/json", None), Access::Token).unwrap_err();
    assert_eq!(problem.status, 400);
    let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["items[0].quantity"]);
}

#[test]
fn a_post_on_a_named_stage_is_read_like_one_on_the_default_stage() {
    let request = http_fixture_with("apigw-post-order.json", |event| {
        event["requestContext"]["stage"] = json!("prod");
        event["rawPath"] = json!("/prod/orders");
    })
    .unwrap();
    assert!(place_order(&request, Access::Token).is_ok());
}

#[test]
fn a_query_becomes_an_order_or_the_catalog() {
    let order = http_fixture("apigw-get-order.json").unwrap();
    let Ok(Query::Order { caller, id }) = query(&order, Access::Token) else {
        panic!("an order query")
    };
    assert_eq!(caller.as_ref().map(CustomerId::as_str), Some("cust-42"));
    assert_eq!(id.as_str(), "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b");
    let products = http_fixture("apigw-get-products.json").unwrap();
    assert_eq!(query(&products, Access::Token), Ok(Query::Products));
}

#[test]
fn the_query_checks_answer_in_their_documented_order() {
    let mut elsewhere = http_fixture("apigw-get-order-invalid-id.json").unwrap();
    *elsewhere.uri_mut() = "/nothing-here".parse().unwrap();
    *elsewhere.method_mut() = Method::POST;
    let mut posted = http_fixture("apigw-get-order-invalid-id.json").unwrap();
    *posted.method_mut() = Method::POST;
    let no_token = http_fixture_with("apigw-get-order-no-token.json", |event| {
        event["rawPath"] = json!("/orders/not-a-uuid");
        event["pathParameters"] = json!({"orderId": "not-a-uuid"});
    })
    .unwrap();
    let cases = [
        ("not-found", elsewhere),
        ("method-not-allowed", posted),
        ("unauthorized", no_token),
        (
            "invalid-order-id",
            http_fixture("apigw-get-order-invalid-id.json").unwrap(),
        ),
    ];
    for (expected, request) in cases {
        assert_eq!(slug(query(&request, Access::Token)), expected);
    }
    // The catalog is public: no caller needed.
    let products = http_fixture("apigw-get-products.json").unwrap();
    assert_eq!(query(&products, Access::Token), Ok(Query::Products));
}
