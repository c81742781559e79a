//! Read-only API: `GET /orders/{orderId}` and `GET /products`. The edge step reads the request
//! (route, method, caller, order id: `shared::http::edge::query`); this handler reads the store.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use orderflow_shared::api::{OrderView, ProductList, ProductView};
use orderflow_shared::domain::{CustomerId, OrderId};
use orderflow_shared::http::edge::{self, Query};
use orderflow_shared::http::{json_response, Access, Problem};
use orderflow_shared::ports::{Catalog, OrderRepository};
use orderflow_shared::telemetry::metrics;
use tracing::warn;

/// The ports this function uses, lent to every invocation.
pub struct QueryApi<O, C> {
    pub orders: O,
    pub catalog: C,
    /// Whether orders are read as the token's customer (deployed) or by anyone (open API).
    pub access: Access,
}

impl<O: OrderRepository, C: Catalog> QueryApi<O, C> {
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let answered = match edge::query(&request, self.access) {
            Ok(Query::Products) => self.products().await,
            Ok(Query::Order { caller, id }) => self.order(&id, caller.as_ref()).await,
            Err(problem) => Err(problem),
        };
        answered.unwrap_or_else(|problem| {
            metrics::request_refused(problem.slug());
            problem.into_response()
        })
    }

    /// An order, to its own customer only: anyone else is told it does not exist, exactly as
    /// for an unknown id, so ids cannot be probed.
    async fn order(
        &self,
        id: &OrderId,
        caller: Option<&CustomerId>,
    ) -> Result<Response<Body>, Problem> {
        let found = self.orders.get(id).await.map_err(unavailable)?;
        match found.filter(|order| caller.is_none_or(|c| order.customer_id == *c)) {
            Some(order) => Ok(json_response(StatusCode::OK, &OrderView::from(&order))),
            None => Err(Problem::new(
                StatusCode::NOT_FOUND,
                "order-not-found",
                format!("no order {id}"),
            )),
        }
    }

    async fn products(&self) -> Result<Response<Body>, Problem> {
        let products = self.catalog.all_products().await.map_err(unavailable)?;
        Ok(json_response(
            StatusCode::OK,
            &ProductList {
                products: products.iter().map(ProductView::from).collect(),
            },
        ))
    }
}

fn unavailable(e: impl std::fmt::Display) -> Problem {
    warn!(error = %e, "store unavailable");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the data could not be read right now; retry shortly",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use lambda_http::http::{header, Method};
    use orderflow_shared::adapters::memory::MemoryStore;
    use orderflow_shared::domain::{
        Currency, CustomerId, Email, Money, Order, OrderLine, OrderStatus, PaymentToken, Quantity,
        Sku,
    };
    use orderflow_shared::ports::Product;
    use orderflow_shared::testing::openapi::contract;
    use orderflow_shared::testing::WithStore;
    use serde_json::{json, Value};

    const ORDER_ID: &str = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";

    fn fixture(name: &str) -> Request {
        orderflow_shared::testing::http_fixture(name).unwrap()
    }

    /// Runs the handler and checks its answer against the API contract (infra/openapi.yaml).
    type Api = WithStore<QueryApi<MemoryStore, MemoryStore>>;

    async fn call(api: &Api, request: Request) -> Response<Body> {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let response = api.handle(request).await;
        contract()
            .unwrap()
            .check_response(&method, &path, &response)
            .unwrap_or_else(|e| panic!("the answer breaks the API contract: {e}"));
        response
    }

    /// For a request no operation of the contract matches: still a problem+json refusal.
    async fn call_unrouted(api: &Api, request: Request) -> Response<Body> {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let response = api.handle(request).await;
        contract()
            .unwrap()
            .check_unrouted_response(&method, &path, &response)
            .unwrap_or_else(|e| panic!("{e}"));
        response
    }

    fn body_json(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("expected a text body, got {other:?}"),
        }
    }

    async fn api_with_one_order() -> Api {
        let store = MemoryStore::with_products([
            Product {
                sku: Sku::parse("SKU-TSHIRT-M").unwrap(),
                name: "T-shirt M".into(),
                price: Money::new(1999, Currency::EUR),
                stock: 48,
            },
            Product {
                sku: Sku::parse("SKU-MUG").unwrap(),
                name: "Mug".into(),
                price: Money::new(1250, Currency::EUR),
                stock: 9,
            },
        ]);
        let order = Order::place(
            OrderId::parse(ORDER_ID).unwrap(),
            CustomerId::parse("cust-42").unwrap(),
            Email::parse("ana@example.com").unwrap(),
            PaymentToken::parse("tok_visa").unwrap(),
            vec![OrderLine {
                sku: Sku::parse("SKU-MUG").unwrap(),
                quantity: Quantity::new(1).unwrap(),
                unit_price: Money::new(1250, Currency::EUR),
            }],
            Utc::now(),
        )
        .unwrap();
        store.create(&order).await.unwrap();
        store
            .transition(
                &order.order_id,
                OrderStatus::Pending,
                OrderStatus::Reserved,
                Utc::now(),
            )
            .await
            .unwrap();
        WithStore {
            function: QueryApi {
                orders: store.clone(),
                catalog: store.clone(),
                access: Access::Token,
            },
            store,
        }
    }

    #[tokio::test]
    async fn another_customers_order_is_a_404_exactly_like_an_unknown_one() {
        let api = api_with_one_order().await;
        let theirs = call(&api, fixture("apigw-get-order-other-customer.json")).await;
        assert_eq!(theirs.status(), 404);
        let unknown = call(&api, fixture("apigw-get-order-unknown.json")).await;
        let detail = |r: &Response<Body>| body_json(r)["type"].clone();
        assert_eq!(detail(&theirs), detail(&unknown));
        assert_eq!(
            call(&api, fixture("apigw-get-order.json")).await.status(),
            200
        );
    }

    #[tokio::test]
    async fn reading_an_order_without_a_token_is_a_401_unless_the_api_is_open() {
        let api = api_with_one_order().await;
        let refused = call(&api, fixture("apigw-get-order-no-token.json")).await;
        assert_eq!(refused.status(), 401);
        let mut open = api;
        open.access = Access::Open;
        let read = call(&open, fixture("apigw-get-order-no-token.json")).await;
        assert_eq!(read.status(), 200);
    }

    #[tokio::test]
    async fn an_order_reads_with_its_lines_total_and_history_but_no_secrets() {
        let api = api_with_one_order().await;
        let response = call(&api, fixture("apigw-get-order.json")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = body_json(&response);
        assert_eq!(body["orderId"], ORDER_ID);
        assert_eq!(body["customerId"], "cust-42");
        assert_eq!(body["status"], "RESERVED");
        assert_eq!(
            body["items"],
            json!([{"sku": "SKU-MUG", "quantity": 1, "unitPrice": {"amount": 1250, "currency": "EUR"}}])
        );
        assert_eq!(body["total"], json!({"amount": 1250, "currency": "EUR"}));
        let history: Vec<&str> = body["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["status"].as_str().unwrap())
            .collect();
        assert_eq!(history, ["PENDING", "RESERVED"]);
        let text = body.to_string();
        assert!(!text.contains("ana@example.com") && !text.contains("tok_visa"));
    }

    #[tokio::test]
    async fn an_unknown_order_is_a_404_problem() {
        let api = api_with_one_order().await;
        let response = call(&api, fixture("apigw-get-order-unknown.json")).await;
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(
            body_json(&response)["type"],
            "urn:orderflow:problem:order-not-found"
        );
    }

    #[tokio::test]
    async fn an_order_id_that_is_not_a_uuid_is_a_400_problem() {
        let api = api_with_one_order().await;
        let response = call(&api, fixture("apigw-get-order-invalid-id.json")).await;
        assert_eq!(response.status(), 400);
        assert_eq!(body_json(&response)["errors"][0]["field"], "orderId");
    }

    #[tokio::test]
    async fn the_catalog_lists_every_product_with_price_and_stock() {
        let api = api_with_one_order().await;
        let response = call(&api, fixture("apigw-get-products.json")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            body_json(&response),
            json!({"products": [
                {"sku": "SKU-MUG", "name": "Mug", "price": {"amount": 1250, "currency": "EUR"}, "stock": 9},
                {"sku": "SKU-TSHIRT-M", "name": "T-shirt M", "price": {"amount": 1999, "currency": "EUR"}, "stock": 48}
            ]})
        );
    }

    #[tokio::test]
    async fn a_store_outage_is_a_503_problem() {
        let api = api_with_one_order().await;
        api.store.fail_next(1);
        let response = call(&api, fixture("apigw-get-products.json")).await;
        assert_eq!(response.status(), 503);
    }

    #[tokio::test]
    async fn other_methods_and_paths_get_clear_problems() {
        let api = api_with_one_order().await;
        // API Gateway routes neither to the function; if one ever arrives, it is a problem.
        let mut post = fixture("apigw-get-products.json");
        *post.method_mut() = Method::POST;
        assert_eq!(call_unrouted(&api, post).await.status(), 405);
        let mut elsewhere = fixture("apigw-get-products.json");
        *elsewhere.uri_mut() = "/nothing-here".parse().unwrap();
        assert_eq!(call_unrouted(&api, elsewhere).await.status(), 404);
    }

    #[tokio::test]
    async fn an_order_store_outage_is_a_503_problem() {
        let api = api_with_one_order().await;
        api.store.fail_next(1);
        let response = call(&api, fixture("apigw-get-order.json")).await;
        assert_eq!(response.status(), 503);
    }

    /// A request the function answers with `status`, for each status the contract says the
    /// function answers the operation with.
    async fn answer_with(operation: &str, status: u16) -> Option<Response<Body>> {
        let api = api_with_one_order().await;
        let fixture_name = match (operation, status) {
            ("/orders/{orderId}", 200) => "apigw-get-order.json",
            ("/orders/{orderId}", 400) => "apigw-get-order-invalid-id.json",
            ("/orders/{orderId}", 401) => "apigw-get-order-no-token.json",
            ("/orders/{orderId}", 404) => "apigw-get-order-unknown.json",
            ("/orders/{orderId}", 503) => {
                api.store.fail_next(1);
                "apigw-get-order.json"
            }
            ("/products", 200) => "apigw-get-products.json",
            ("/products", 503) => {
                api.store.fail_next(1);
                "apigw-get-products.json"
            }
            _ => return None,
        };
        Some(call(&api, fixture(fixture_name)).await)
    }

    #[tokio::test]
    async fn every_status_the_contract_declares_for_the_queries_is_produced_here() {
        let contract = contract().unwrap();
        for operation in ["/orders/{orderId}", "/products"] {
            let declared = contract.function_statuses("GET", operation).unwrap();
            assert!(declared.contains(&200), "{operation}: {declared:?}");
            for status in declared {
                let response = answer_with(operation, status).await.unwrap_or_else(|| {
                    panic!("the contract declares {status} for GET {operation}, but no test produces it")
                });
                assert_eq!(response.status(), status, "GET {operation}");
            }
        }
    }

    /// `name` as API Gateway sends it on stage `stage` with `raw_path` (a named stage, or a
    /// custom domain's base-path mapping).
    fn on_stage(name: &str, stage: &str, raw_path: &str) -> Request {
        orderflow_shared::testing::http_fixture_with(name, |event| {
            event["requestContext"]["stage"] = json!(stage);
            event["rawPath"] = json!(raw_path);
        })
        .unwrap()
    }

    #[tokio::test]
    async fn the_queries_answer_the_same_on_a_named_stage_and_behind_a_base_path() {
        let api = api_with_one_order().await;
        for (stage, prefix) in [
            ("$default", ""),
            ("prod", "/prod"),
            ("$default", "/shop/v1"),
        ] {
            let order = on_stage(
                "apigw-get-order.json",
                stage,
                &format!("{prefix}/orders/{ORDER_ID}"),
            );
            let response = api.handle(order).await;
            assert_eq!(response.status(), 200, "{stage} {prefix}");
            assert_eq!(body_json(&response)["orderId"], ORDER_ID);
            let products = on_stage(
                "apigw-get-products.json",
                stage,
                &format!("{prefix}/products"),
            );
            assert_eq!(api.handle(products).await.status(), 200, "{stage} {prefix}");
        }
    }
}
