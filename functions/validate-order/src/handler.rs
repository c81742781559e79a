//! `POST /orders`: the edge step reads the request (route, size, caller, content type, body,
//! `Idempotency-Key`: `shared::http::edge::place_order`); this handler prices it from the
//! catalog, stores the order `PENDING`, publishes `OrderPlaced` and answers `202`. Every
//! refusal is a problem+json.

use chrono::Utc;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use orderflow_shared::api::{FieldIssue, OrderAccepted, RequestedLine};
use orderflow_shared::domain::{DomainError, Order, OrderId, OrderLine, OrderStatus};
use orderflow_shared::events::{DomainEvent, Envelope, OrderPlaced, TraceContext};
use orderflow_shared::http::edge::{self, PlaceOrder};
use orderflow_shared::http::{json_response, Access, Problem};
use orderflow_shared::ports::{Catalog, EventPublisher, OrderRepository, OrderWriteError};
use orderflow_shared::telemetry::metrics;
use tracing::{error, info, warn};

/// The ports this function uses, lent to every invocation.
pub struct ValidateOrder<O, C, E> {
    /// Orders: the new order, which is also its `Idempotency-Key`'s record.
    pub orders: O,
    /// The catalog the lines are priced from.
    pub catalog: C,
    pub events: E,
    /// Whether the customer comes from the authorizer's token (deployed) or the body (open API).
    pub access: Access,
}

impl<O, C, E> ValidateOrder<O, C, E>
where
    O: OrderRepository,
    C: Catalog,
    E: EventPublisher,
{
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let trace = invocation_trace(&request);
        let placed = match edge::place_order(&request, self.access) {
            Ok(command) => self.place(command, &trace).await,
            Err(problem) => Err(problem),
        };
        placed.unwrap_or_else(|problem| {
            metrics::request_refused(problem.slug());
            problem.into_response()
        })
    }

    async fn place(
        &self,
        command: PlaceOrder,
        trace: &TraceContext,
    ) -> Result<Response<Body>, Problem> {
        let PlaceOrder { key, order, .. } = command;
        let lines = self.price(&order.items).await?;
        let order_id = match &key {
            Some(key) => key.order_id(&order.customer_id),
            None => OrderId::new(),
        };
        let order = Order::place(
            order_id,
            order.customer_id,
            order.email,
            order.payment_token,
            lines,
            Utc::now(),
        )
        .map_err(unprocessable)?;
        let accepted = self.accept(&order, key.is_some(), trace).await?;
        let location = format!("/orders/{}", accepted.order_id);
        let mut response = json_response(StatusCode::ACCEPTED, &accepted);
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Ok(response)
    }

    /// The order's lines at the catalog's prices; `422` naming every SKU the catalog lacks.
    async fn price(&self, items: &[RequestedLine]) -> Result<Vec<OrderLine>, Problem> {
        let skus: Vec<_> = items.iter().map(|l| l.sku.clone()).collect();
        let products = self.catalog.listings(&skus).await.map_err(unavailable)?;
        let mut lines = Vec::with_capacity(items.len());
        let mut unknown = Vec::new();
        for (i, item) in items.iter().enumerate() {
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
        Ok(lines)
    }

    /// Stores the order `PENDING` and publishes `OrderPlaced`. The stored order is the
    /// `Idempotency-Key`'s record: its id is derived from (customer, key), so a repeated request
    /// finds it in the same conditional write. The same request again is answered as the first
    /// time, and publishes `OrderPlaced` again while the order is still `PENDING` (so a failure
    /// between the two steps heals instead of leaving an orphan; consumers ignore the duplicate);
    /// another request under the same key is a `409`.
    async fn accept(
        &self,
        order: &Order,
        keyed: bool,
        trace: &TraceContext,
    ) -> Result<OrderAccepted, Problem> {
        let order = match self.store(order, keyed).await? {
            Stored::ToPublish(order) => order,
            Stored::MovedOn(existing) => return Ok(accepted_body(&existing)),
        };
        let placed = Envelope::new(DomainEvent::OrderPlaced(OrderPlaced::from(&order)), None)
            .placed_at(order.created_at)
            .in_trace(trace);
        if let Err(e) = self.events.publish(std::slice::from_ref(&placed)).await {
            // The order is stored but nothing will process it: say so, so the client retries.
            error!(order_id = %order.order_id, error = %e, "OrderPlaced could not be published");
            return Err(unavailable(e));
        }
        info!(order_id = %order.order_id, trace_id = trace.trace_id(), total = %order.total, lines = order.lines.len(), "order accepted");
        Ok(accepted_body(&order))
    }

    /// Stores the order, or finds it stored: by this very request (its first answer lost), or
    /// by an earlier request with the same `Idempotency-Key`.
    async fn store(&self, order: &Order, keyed: bool) -> Result<Stored, Problem> {
        let existing = match self.orders.create(order).await {
            Ok(()) => {
                metrics::order_placed();
                return Ok(Stored::ToPublish(order.clone()));
            }
            Err(OrderWriteError::AlreadyExists(existing)) => existing,
            Err(e) => {
                error!(error = %e, "order could not be stored");
                return Err(unavailable(e));
            }
        };
        if !keyed {
            // A keyless order's id is drawn at random for this request, so an order stored
            // under it with our request and our creation time is our own write whose answer
            // was lost (the SDK's retry found it): go on as if it had answered.
            if existing.created_at != order.created_at || !same_request(&existing, order) {
                // Another order under a fresh random id: practically impossible; a retry draws anew.
                return Err(unavailable(format!(
                    "order id {} is taken",
                    existing.order_id
                )));
            }
        } else if !same_request(&existing, order) {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "idempotency-key-reused",
                "this Idempotency-Key was used with a different body; use a new key for a new order",
            ));
        }
        info!(order_id = %existing.order_id, keyed, "order found stored: answering as the first time");
        if existing.status != OrderStatus::Pending {
            return Ok(Stored::MovedOn(existing));
        }
        Ok(Stored::ToPublish(*existing))
    }
}

/// What storing an order found.
enum Stored {
    /// Stored now, or still `PENDING`: publish `OrderPlaced`.
    ToPublish(Order),
    /// A repeat of a request whose order has moved on: answer as the first time.
    MovedOn(Box<Order>),
}

/// Whether a stored order came from the same request as a new one: the same customer, email,
/// payment token and lines (SKU and quantity; prices are the catalog's and may have moved).
fn same_request(stored: &Order, new: &Order) -> bool {
    let items = |o: &Order| {
        o.lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect::<Vec<_>>()
    };
    stored.customer_id == new.customer_id
        && stored.email == new.email
        && stored.payment_token == new.payment_token
        && items(stored) == items(new)
}

fn accepted_body(order: &Order) -> OrderAccepted {
    OrderAccepted {
        order_id: order.order_id.to_string(),
        status: OrderStatus::Pending,
        total: order.total,
    }
}

/// `422` for an order the domain refuses (mixed currencies, a total out of range).
fn unprocessable(e: DomainError) -> Problem {
    match e {
        DomainError::CurrencyMismatch { .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mixed-currencies",
            format!("the items are priced in different currencies ({e}); order them separately"),
        ),
        other => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable-order",
            other.to_string(),
        ),
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

/// The trace an order starts: the invocation's (Lambda's X-Ray header, the API call's own trace
/// with active tracing), else the caller's W3C `traceparent`, else a new one.
fn invocation_trace(request: &Request) -> TraceContext {
    request
        .lambda_context_ref()
        .and_then(|c| c.xray_trace_id.as_deref())
        .and_then(TraceContext::from_xray_header)
        .or_else(|| {
            request
                .headers()
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .and_then(TraceContext::from_traceparent)
        })
        .unwrap_or_else(TraceContext::new_root)
}

#[cfg(test)]
mod tests;
