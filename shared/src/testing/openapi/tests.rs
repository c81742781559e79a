//! The contract checker against responses that keep and break the contract.

use super::*;

fn answer(status: u16, content_type: &str, body: &str) -> Answer {
    Answer {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body: body.as_bytes().to_vec(),
    }
}

const PRODUCTS: &str = r#"{"products":[{"sku":"SKU-MUG","name":"Mug","price":{"amount":1250,"currency":"EUR"},"stock":9}]}"#;
const NOT_FOUND: &str = r#"{"type":"urn:orderflow:problem:order-not-found","title":"Not Found","status":404,"detail":"no order"}"#;

#[test]
fn the_workspace_contract_loads_with_its_three_operations() {
    let c = contract().unwrap();
    assert_eq!(
        c.operations(),
        [
            ("POST".to_owned(), "/orders".to_owned()),
            ("GET".to_owned(), "/orders/{orderId}".to_owned()),
            ("GET".to_owned(), "/products".to_owned()),
        ]
    );
    assert_eq!(
        c.route("GET", "/orders/6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b")
            .as_deref(),
        Some("/orders/{orderId}")
    );
    assert_eq!(c.route("POST", "/products"), None);
    assert_eq!(c.route("GET", "/orders/"), None);
}

#[test]
fn a_conforming_answer_passes() {
    let c = contract().unwrap();
    c.check(
        "GET",
        "/products",
        &answer(200, "application/json", PRODUCTS),
    )
    .unwrap();
    c.check(
        "GET",
        "/orders/6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        &answer(404, "application/problem+json", NOT_FOUND),
    )
    .unwrap();
}

#[test]
fn an_undeclared_status_fails() {
    let c = contract().unwrap();
    let e = c
        .check("GET", "/products", &answer(418, "application/json", "{}"))
        .unwrap_err();
    assert!(e.contains("418 is not declared"), "{e}");
}

#[test]
fn an_undeclared_content_type_fails() {
    let c = contract().unwrap();
    let e = c
        .check("GET", "/products", &answer(200, "text/plain", PRODUCTS))
        .unwrap_err();
    assert!(e.contains("content type"), "{e}");
}

#[test]
fn a_body_off_the_schema_fails_naming_the_place() {
    let c = contract().unwrap();
    let extra = PRODUCTS.replace(r#""stock":9"#, r#""stock":9,"cost":1"#);
    let e = c
        .check("GET", "/products", &answer(200, "application/json", &extra))
        .unwrap_err();
    assert!(e.contains("/products/0"), "{e}");
    let float = PRODUCTS.replace("1250", "12.5");
    assert!(c
        .check("GET", "/products", &answer(200, "application/json", &float))
        .is_err());
    let wrong_slug = NOT_FOUND.replace("order-not-found", "not-found");
    assert!(c
        .check(
            "GET",
            "/orders/6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b",
            &answer(404, "application/problem+json", &wrong_slug)
        )
        .is_err());
}

#[test]
fn a_missing_required_header_fails() {
    let c = contract().unwrap();
    let accepted = r#"{"orderId":"6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b","status":"PENDING","total":{"amount":1,"currency":"EUR"}}"#;
    let e = c
        .check(
            "POST",
            "/orders",
            &answer(202, "application/json", accepted),
        )
        .unwrap_err();
    assert!(e.contains("Location"), "{e}");
    let mut with_location = answer(202, "application/json", accepted);
    with_location.headers.push((
        "location".into(),
        "/orders/6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b".into(),
    ));
    c.check("POST", "/orders", &with_location).unwrap();
}

#[test]
fn an_unrouted_request_must_still_be_refused_as_a_problem() {
    let c = contract().unwrap();
    let problem = r#"{"type":"urn:orderflow:problem:method-not-allowed","title":"Method Not Allowed","status":405,"detail":"use GET"}"#;
    c.check_unrouted(
        "POST",
        "/products",
        &answer(405, "application/problem+json", problem),
    )
    .unwrap();
    assert!(c
        .check_unrouted("POST", "/products", &answer(405, "application/json", "{}"))
        .is_err());
    assert!(c
        .check_unrouted(
            "GET",
            "/products",
            &answer(200, "application/json", PRODUCTS)
        )
        .is_err());
}

#[test]
fn function_statuses_leave_out_what_only_the_gateway_answers() {
    let c = contract().unwrap();
    let statuses = c.function_statuses("GET", "/products").unwrap();
    assert_eq!(statuses.into_iter().collect::<Vec<_>>(), [200, 503]);
}

#[test]
fn refs_are_inlined_and_nullable_becomes_a_null_type() {
    let c = Contract::from_yaml(
        "openapi: 3.0.3\ncomponents:\n  schemas:\n    N: {type: string, nullable: true}\n",
    )
    .unwrap();
    let resolved = c
        .resolve(&serde_json::json!({"$ref": "#/components/schemas/N"}), 0)
        .unwrap();
    assert_eq!(resolved, serde_json::json!({"type": ["string", "null"]}));
    assert!(c
        .resolve(
            &serde_json::json!({"$ref": "#/components/schemas/Missing"}),
            0
        )
        .is_err());
    assert!(Contract::from_yaml("swagger: '2.0'").is_err());
}
