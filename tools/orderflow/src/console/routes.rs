//! The console's HTTP routes: the page and its assets, the reads (JSON, and the live stream),
//! the actions; every request through the [`guard`](super::guard) first.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::actions::{self, TestOrder};
use super::{assets, live, mask, reads, Console};

pub fn router(console: Arc<Console>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/console.css", get(css))
        .route("/console.js", get(script))
        .route("/api/snapshot", get(snapshot))
        .route("/api/live", get(stream))
        .route("/api/orders/{id}", get(order))
        .route("/api/products", get(products))
        .route("/api/orders", post(place))
        .route("/api/flash-sale", post(flash_sale))
        .route("/api/dlqs/{queue}/redrive", post(redrive))
        .layer(middleware::from_fn_with_state(console.clone(), guarded))
        .with_state(console)
}

/// The guard on every request, and headers that keep the page from being framed or cached.
async fn guarded(State(console): State<Arc<Console>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let checked = if request.method() == Method::GET {
        console.guard.check_host(headers)
    } else {
        console.guard.check_action(headers)
    };
    let mut response = match checked {
        Ok(()) => next.run(request).await,
        Err(refused) => problem(refused.status(), &refused.to_string()),
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn problem(status: StatusCode, detail: &str) -> Response {
    (status, Json(json!({"error": mask::text(detail)}))).into_response()
}

/// JSON, masked on its way out.
fn masked(mut v: Value) -> Response {
    mask::json(&mut v);
    Json(v).into_response()
}

fn typed(content_type: &'static str, body: impl IntoResponse) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn page(State(console): State<Arc<Console>>) -> Response {
    typed(
        "text/html; charset=utf-8",
        assets::index(console.guard.token()),
    )
}

async fn css() -> Response {
    typed("text/css; charset=utf-8", assets::CONSOLE_CSS)
}

async fn script() -> Response {
    typed("text/javascript; charset=utf-8", assets::CONSOLE_JS)
}

async fn snapshot(State(console): State<Arc<Console>>) -> Response {
    Json(live::snapshot(&console).await).into_response()
}

async fn stream(State(console): State<Arc<Console>>) -> Response {
    live::stream(&console).into_response()
}

async fn order(State(console): State<Arc<Console>>, Path(id): Path<String>) -> Response {
    match reads::order(&console, &id).await {
        Ok(v) => masked(v),
        Err(e @ reads::ReadError::NoOrder(_)) => problem(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e @ reads::ReadError::BadId(_)) => problem(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e) => problem(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

async fn products(State(console): State<Arc<Console>>) -> Response {
    match actions::products(&console).await {
        Ok(a) => masked(a.body),
        Err(e) => problem(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

async fn place(State(console): State<Arc<Console>>, Json(order): Json<TestOrder>) -> Response {
    match actions::place(&console, &order).await {
        Ok(a) => masked(json!({"status": a.status, "body": a.body})),
        Err(e) => problem(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

#[derive(Deserialize)]
struct FlashSale {
    sku: String,
    buyers: u32,
}

async fn flash_sale(State(console): State<Arc<Console>>, Json(sale): Json<FlashSale>) -> Response {
    match actions::flash_sale(&console, &sale.sku, sale.buyers).await {
        Ok(v) => masked(v),
        Err(e @ actions::ActionError::Buyers(_)) => {
            problem(StatusCode::BAD_REQUEST, &e.to_string())
        }
        Err(e) => problem(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

async fn redrive(State(console): State<Arc<Console>>, Path(queue): Path<String>) -> Response {
    match actions::redrive(&console, &queue).await {
        Ok(said) => masked(json!({"said": said})),
        Err(e) => problem(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}
