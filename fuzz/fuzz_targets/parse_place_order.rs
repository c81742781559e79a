//! `POST /orders` bodies through the edge step validate-order runs on every request once
//! lambda_http has handed it over (the body decoded from base64 when API Gateway sent it so):
//! `shared::http::edge::place_order`, with its size limit, its JSON reading (a member named
//! twice refused) and its field checks, then the problem the handler answers with. The
//! property: any body becomes an order or a 4xx `application/problem+json`, never a panic.
#![no_main]
// A panic is how a fuzz target reports a broken property.
#![allow(clippy::panic)]

use lambda_http::http::header;
use lambda_http::{Body, Request};
use libfuzzer_sys::fuzz_target;
use orderflow_shared::api::{self, PlaceOrderRequest};
use orderflow_shared::http::edge;
use orderflow_shared::http::{Access, Problem, PROBLEM_JSON};
use serde_json::{json, Value};

fuzz_target!(|body: &[u8]| {
    match place_order(body) {
        Ok(request) => check_request(&request),
        Err(problem) => check_problem(&problem),
    }
});

/// What validate-order does with a JSON `POST /orders` before it asks the catalog: the edge
/// step its handler calls (on an open API, so the body names the customer).
fn place_order(body: &[u8]) -> Result<PlaceOrderRequest, Problem> {
    let request = Request::new(Body::Binary(body.to_vec()));
    let (mut parts, body) = request.into_parts();
    parts.method = lambda_http::http::Method::POST;
    parts.uri = lambda_http::http::Uri::from_static("/orders");
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    let request = Request::from_parts(parts, body);
    edge::place_order(&request, Access::Open).map(|command| command.order)
}

/// An accepted body keeps the rules, and the request written back as JSON parses to itself.
fn check_request(request: &PlaceOrderRequest) {
    let lines = request.items.len();
    if lines == 0 || lines > api::MAX_LINES {
        panic!("accepted an order with {lines} lines");
    }
    for (i, line) in request.items.iter().enumerate() {
        if request.items[..i].iter().any(|l| l.sku == line.sku) {
            panic!("accepted SKU {} on two lines", line.sku);
        }
    }
    let again = json!({
        "customerId": request.customer_id.as_str(),
        "email": request.email.as_str(),
        "items": request.items.iter()
            .map(|l| json!({"sku": l.sku.as_str(), "quantity": l.quantity.get()}))
            .collect::<Vec<_>>(),
        "paymentToken": request.payment_token.as_str(),
    });
    match api::parse_place_order(again.to_string().as_bytes()) {
        Ok(reparsed) if &reparsed == request => {}
        other => panic!("an accepted request does not parse back to itself: {other:?}"),
    }
}

/// A refusal is a 4xx problem+json that names its type, and a 400 for invalid fields lists them.
fn check_problem(problem: &Problem) {
    if !(400..500).contains(&problem.status) {
        panic!("a bad body got status {}: {problem:?}", problem.status);
    }
    if problem.problem_type.ends_with(":invalid-request") && problem.errors.is_empty() {
        panic!("an invalid-request problem lists no field: {problem:?}");
    }
    if let Some(issue) = problem.errors.iter().find(|i| i.message.is_empty()) {
        panic!("a field issue without a message: {issue:?}");
    }
    let response = problem.clone().into_response();
    if response.status().as_u16() != problem.status {
        panic!(
            "the response status {} is not the problem's",
            response.status()
        );
    }
    let content_type = response.headers().get(header::CONTENT_TYPE);
    if content_type.and_then(|v| v.to_str().ok()) != Some(PROBLEM_JSON) {
        panic!("a problem answered with content-type {content_type:?}");
    }
    let Body::Text(text) = response.body() else {
        panic!("a problem without a text body");
    };
    let rendered: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => panic!("the problem body is not JSON ({e}): {text}"),
    };
    let type_ok = rendered["type"]
        .as_str()
        .is_some_and(|t| t.starts_with("urn:orderflow:problem:"));
    let title_ok = rendered["title"].as_str().is_some_and(|t| !t.is_empty());
    if !type_ok || !title_ok || rendered["status"] != json!(problem.status) {
        panic!("the problem body misses its type, title or status: {text}");
    }
}
