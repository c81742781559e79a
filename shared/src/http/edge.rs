//! One step at the edge of each HTTP function: a `lambda_http::Request` becomes a typed
//! command, or the [`Problem`] it is answered with. The checks run in a fixed order, written on
//! each function below; the first that fails answers. The handlers then only decide and
//! orchestrate (the catalog, the store, the events).

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request};

use super::route::route;
use super::{caller, check_body_size, Access, Problem};
use crate::api::{self, FieldIssue, PlaceOrderRequest};
use crate::domain::{CustomerId, OrderId};
use crate::idempotency::IdempotencyKey;

/// `POST /orders`, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    /// The token's customer; `None` on an open API, where the body names the customer.
    pub caller: Option<CustomerId>,
    pub key: Option<IdempotencyKey>,
    /// The body, every field valid; its customer is the caller's when there is one.
    pub order: PlaceOrderRequest,
}

/// Reads `POST /orders`. The checks, in order:
/// 1. the route is `POST /orders`, else `404 not-found`;
/// 2. the body is at most 64 KiB, else `413 body-too-large` (before anything is parsed);
/// 3. the caller: the token's customer, else `401 unauthorized` where tokens are required;
/// 4. the content type is JSON, else `415 unsupported-media-type`;
/// 5. the body is JSON (`400 malformed-json`), names each member once and every field is
///    valid (`400 invalid-request`, every problem listed);
/// 6. its customer, if it names one, is the token's, else `403 customer-mismatch`;
/// 7. the `Idempotency-Key`, if sent, is 1 to 255 visible ASCII characters, else
///    `400 invalid-idempotency-key`.
pub fn place_order(request: &Request, access: Access) -> Result<PlaceOrder, Problem> {
    if request.method() != Method::POST || route(request, &["/orders"]).is_none() {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no route for {} {}", request.method(), request.uri().path()),
        ));
    }
    let body = body_bytes(request.body());
    check_body_size(body)?;
    let caller = caller(request, access)?;
    check_content_type(request)?;
    let order = api::parse_place_order_for(body, caller.as_ref()).map_err(Problem::from)?;
    if let Some(caller) = &caller {
        if order.customer_id != *caller {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "customer-mismatch",
                format!(
                    "customerId {} is not the customer of the token; leave customerId out or \
                     send the token's own",
                    order.customer_id
                ),
            ));
        }
    }
    let key = idempotency_key(request)?;
    Ok(PlaceOrder { caller, key, order })
}

/// `GET /orders/{orderId}` or `GET /products`, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// One order, for its own customer (`None` on an open API: anyone).
    Order {
        caller: Option<CustomerId>,
        id: OrderId,
    },
    /// The catalog, public.
    Products,
}

/// Reads a query. The checks, in order:
/// 1. the route is `/orders/{orderId}` or `/products`, else `404 not-found`;
/// 2. the method is `GET`, else `405 method-not-allowed`;
/// 3. for an order: the caller, else `401 unauthorized` where tokens are required; then the
///    id is a UUID, else `400 invalid-order-id`.
pub fn query(request: &Request, access: Access) -> Result<Query, Problem> {
    let Some(found) = route(request, &["/products", "/orders/{orderId}"]) else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!(
                "no route for {}; try GET /orders/{{orderId}} or GET /products",
                request.uri().path().trim_end_matches('/')
            ),
        ));
    };
    if request.method() != Method::GET {
        return Err(Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!("{} is not allowed here; use GET", request.method()),
        ));
    }
    let Some(raw_id) = found.param("orderId") else {
        return Ok(Query::Products);
    };
    let caller = caller(request, access)?;
    let id = OrderId::parse(raw_id).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-order-id",
            "the order id must be a UUID",
        )
        .with_errors(vec![FieldIssue {
            field: "orderId".into(),
            message: "must be a UUID such as 6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b".into(),
        }])
    })?;
    Ok(Query::Order { caller, id })
}

/// The body as lambda_http hands it over (decoded from base64 when API Gateway sent it so).
pub fn body_bytes(body: &Body) -> &[u8] {
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
    let essence = api::media_type(raw);
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json {
        return Ok(());
    }
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

/// The optional `Idempotency-Key` header.
fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>, Problem> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    match IdempotencyKey::parse(value.to_str().unwrap_or("")) {
        Ok(key) => Ok(Some(key)),
        Err(_) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-idempotency-key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters, e.g. a UUID",
        )
        .with_errors(vec![FieldIssue {
            field: "Idempotency-Key".into(),
            message: "must be 1 to 255 visible ASCII characters".into(),
        }])),
    }
}

#[cfg(test)]
mod tests;
