//! API Gateway (HTTP API) on 127.0.0.1: matches the template's routes, turns each request into
//! a payload-format 2.0 event, invokes the function and turns its answer back into HTTP.
//!
//! What a route invokes is an [`Invoke`]: a function of the local cloud through its Runtime API
//! ([`FunctionHandle`]), or a deployed function through Lambda `Invoke`
//! (`crate::deploy::lambda`), so the local cloud and `orderflow deploy local` serve the same API.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use super::auth::{ApiAuth, AuthError, Authorized};
use super::runtime::{FunctionHandle, InvokeError};

/// API Gateway refuses payloads over 10 MB before any function runs.
const MAX_PAYLOAD: usize = 10 * 1024 * 1024;

/// Why an invocation gave no answer, as API Gateway tells them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeFailure {
    /// No answer within the integration's time: `503 Service Unavailable`.
    #[error("no answer in time: {0}")]
    TimedOut(String),
    /// The function failed, or could not be invoked: `500 Internal Server Error`.
    #[error("{0}")]
    Failed(String),
}

/// An invocation in flight.
pub type Invocation<'a> = Pin<Box<dyn Future<Output = Result<Bytes, InvokeFailure>> + Send + 'a>>;

/// A function a route calls with its event, synchronously (`RequestResponse`).
pub trait Invoke: Send + Sync {
    fn invoke(&self, payload: Bytes) -> Invocation<'_>;
}

impl Invoke for FunctionHandle {
    fn invoke(&self, payload: Bytes) -> Invocation<'_> {
        Box::pin(async move {
            FunctionHandle::invoke(self, payload)
                .await
                .map_err(|e| match e {
                    InvokeError::Timeout(_) => InvokeFailure::TimedOut(e.to_string()),
                    other => InvokeFailure::Failed(other.to_string()),
                })
        })
    }
}

#[derive(Clone)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: Arc<dyn Invoke>,
    /// The route sits behind the API's JWT authorizer (when the local cloud enforces it).
    pub authorized: bool,
}

impl Route {
    fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Path parameters when `path` matches this route's template.
    fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if self.method != "ANY" && self.method != method {
            return None;
        }
        let want: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut params = BTreeMap::new();
        for (i, w) in want.iter().enumerate() {
            if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix("+}")) {
                params.insert(name.to_owned(), got.get(i..)?.join("/"));
                return Some(params);
            }
            let g = got.get(i)?;
            match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) if !g.is_empty() => {
                    params.insert(name.to_owned(), percent_decode(g));
                }
                Some(_) => return None,
                None if w == g => {}
                None => return None,
            }
        }
        (want.len() == got.len()).then_some(params)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Gateway {
    routes: Vec<Route>,
    /// With `--auth`: the routes' JWT authorizers; without, every route is open.
    auth: Option<Arc<ApiAuth>>,
}

/// API Gateway's answer when its JWT authorizer refuses a request (the function never runs):
/// 401, or 403 for a valid token without the route's scopes, the reason in `www-authenticate`.
fn refused(error: &AuthError) -> Response {
    let (status, message, challenge) = match error {
        AuthError::Missing => (
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Bearer".to_owned(),
        ),
        e if e.is_forbidden() => (
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(r#"Bearer error="insufficient_scope" error_description="{e}""#),
        ),
        e => (
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            format!(
                r#"Bearer scope="" error="invalid_token" error_description="{}""#,
                e.to_string().replace('"', "'")
            ),
        ),
    };
    let mut response = (
        status,
        [("content-type", "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert("www-authenticate", value);
    }
    response
}

/// The authorizer's verdict on a request to `route`: `None` when no authorizer guards it.
async fn authorize(
    gw: &Gateway,
    route: &Route,
    headers: &axum::http::HeaderMap,
) -> Result<Option<Authorized>, AuthError> {
    let Some(auth) = gw.auth.as_ref().filter(|_| route.authorized) else {
        return Ok(None);
    };
    let header = headers.get("authorization").and_then(|v| v.to_str().ok());
    auth.authorize(
        &route.method,
        &route.path,
        header,
        chrono::Utc::now().timestamp(),
    )
    .await
}

fn problem(status: StatusCode, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// Headers by lower-case name (repeats joined with commas, as API Gateway does), and the
/// cookies apart.
fn headers_and_cookies(
    header_map: &axum::http::HeaderMap,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in header_map {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(v.split(';').map(|c| c.trim().to_owned()));
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    (headers, cookies)
}

/// Decoded query parameters (repeats joined with commas).
fn query_parameters(raw_query: &str) -> BTreeMap<String, String> {
    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query
            .entry(percent_decode(k))
            .and_modify(|e| {
                e.push(',');
                e.push_str(&percent_decode(v));
            })
            .or_insert_with(|| percent_decode(v));
    }
    query
}

/// The event's `body` (null when empty) and whether it is base64: text types pass as text.
fn body_field(body: &[u8], content_type: Option<&String>) -> (Value, bool) {
    let is_text = std::str::from_utf8(body).is_ok()
        && content_type.is_none_or(|ct| {
            ct.starts_with("text/")
                || ct.contains("json")
                || ct.contains("xml")
                || ct.contains("x-www-form-urlencoded")
        });
    if body.is_empty() {
        (Value::Null, false)
    } else if is_text {
        (
            Value::String(String::from_utf8_lossy(body).into_owned()),
            false,
        )
    } else {
        (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        )
    }
}

/// The v2 event for a request (public for tests).
pub fn event_for(
    route: &Route,
    params: &BTreeMap<String, String>,
    parts: &axum::http::request::Parts,
    body: &[u8],
    source_ip: &str,
) -> Value {
    let (headers, cookies) = headers_and_cookies(&parts.headers);
    let raw_query = parts.uri.query().unwrap_or("").to_owned();
    let query = query_parameters(&raw_query);
    let (body_value, is_b64) = body_field(body, headers.get("content-type"));
    let now = chrono::Utc::now();
    let path = parts.uri.path().to_owned();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key(),
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host").cloned().unwrap_or_else(|| "127.0.0.1".into()),
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent").cloned().unwrap_or_default(),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route.route_key(),
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": is_b64,
    });
    if !body_value.is_null() {
        event["body"] = body_value;
    }
    if !params.is_empty() {
        event["pathParameters"] = json!(params);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = json!(query);
    }
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    event
}

/// Turns a function's payload-format 2.0 answer into an HTTP response.
pub fn response_from(payload: &[u8]) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(payload) else {
        return problem(StatusCode::BAD_GATEWAY, "Internal Server Error");
    };
    // A bare value without statusCode is returned as a JSON 200, as API Gateway does.
    let Some(status) = v.get("statusCode").and_then(Value::as_u64) else {
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response();
    };
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match v.get("body").and_then(Value::as_str) {
        Some(b)
            if v.get("isBase64Encoded")
                .and_then(Value::as_bool)
                .unwrap_or(false) =>
        {
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default()
        }
        Some(b) => b.as_bytes().to_vec(),
        None => Vec::new(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(map) = v.get("headers").and_then(Value::as_object) {
        for (k, val) in map {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::try_from(k.as_str()),
                val.as_str().map(HeaderValue::from_str),
            ) {
                headers.append(name, value);
            }
        }
    }
    if let Some(map) = v.get("multiValueHeaders").and_then(Value::as_object) {
        for (k, vals) in map {
            for val in vals.as_array().into_iter().flatten() {
                if let (Ok(name), Some(Ok(value))) = (
                    HeaderName::try_from(k.as_str()),
                    val.as_str().map(HeaderValue::from_str),
                ) {
                    headers.append(name, value);
                }
            }
        }
    }
    for cookie in v
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(Ok(value)) = cookie.as_str().map(HeaderValue::from_str) {
            headers.append("set-cookie", value);
        }
    }
    response
}

async fn handle(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let Some((route, params)) = gw
        .routes
        .iter()
        .find_map(|r| r.matches(&method, &path).map(|p| (r, p)))
    else {
        return problem(StatusCode::NOT_FOUND, "Not Found");
    };
    let body: Bytes = match to_bytes(body, MAX_PAYLOAD).await {
        Ok(b) => b,
        Err(_) => return problem(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
    };
    let authorized = match authorize(&gw, route, &parts.headers).await {
        Ok(a) => a,
        Err(e) => return refused(&e),
    };
    let mut event = event_for(route, &params, &parts, &body, &peer.ip().to_string());
    if let Some(a) = authorized {
        event["requestContext"]["authorizer"] = json!({
            "jwt": {"claims": a.claims, "scopes": a.scopes}
        });
    }
    match route.function.invoke(Bytes::from(event.to_string())).await {
        Ok(payload) => response_from(&payload),
        Err(InvokeFailure::TimedOut(_)) => {
            problem(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        Err(InvokeFailure::Failed(_)) => {
            problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    routes: Vec<Route>,
    auth: Option<Arc<ApiAuth>>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = Router::new()
        .fallback(handle)
        .with_state(Arc::new(Gateway { routes, auth }));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = shutdown.wait_for(|s| *s).await;
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            function: Arc::new(FunctionHandle::for_tests("f")),
            authorized: true,
        }
    }

    #[test]
    fn routes_match_method_and_path_and_capture_parameters() {
        let r = route("GET", "/orders/{orderId}");
        assert_eq!(r.matches("GET", "/orders/abc").unwrap()["orderId"], "abc");
        assert_eq!(r.matches("GET", "/orders/a%20b").unwrap()["orderId"], "a b");
        assert!(r.matches("POST", "/orders/abc").is_none());
        assert!(r.matches("GET", "/orders").is_none());
        assert!(r.matches("GET", "/orders/abc/extra").is_none());
        assert!(route("POST", "/orders")
            .matches("POST", "/orders")
            .unwrap()
            .is_empty());
        assert_eq!(
            route("ANY", "/{proxy+}").matches("PUT", "/a/b").unwrap()["proxy"],
            "a/b"
        );
    }

    #[test]
    fn a_request_becomes_a_v2_event_the_http_functions_can_read() {
        let r = route("POST", "/orders");
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/orders?x=1&x=2")
            .header("content-type", "application/json")
            .header("Idempotency-Key", "k-1")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let event = event_for(&r, &BTreeMap::new(), &parts, br#"{"a":1}"#, "127.0.0.1");
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "POST /orders");
        assert_eq!(event["headers"]["idempotency-key"], "k-1");
        assert_eq!(event["queryStringParameters"]["x"], "1,2");
        assert_eq!(event["body"], r#"{"a":1}"#);
        assert_eq!(event["isBase64Encoded"], false);
        let binary = event_for(&r, &BTreeMap::new(), &parts, &[0xff, 0x00], "127.0.0.1");
        assert_eq!(binary["isBase64Encoded"], true);
    }

    #[tokio::test]
    async fn a_function_answer_becomes_the_http_response() {
        let response = response_from(
            br#"{"statusCode":202,"headers":{"content-type":"application/json","location":"/orders/1"},"body":"{\"ok\":true}","isBase64Encoded":false}"#,
        );
        assert_eq!(response.status(), 202);
        assert_eq!(response.headers()["location"], "/orders/1");
        let body = to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"ok":true}"#);
        assert_eq!(response_from(b"garbage").status(), 502);
    }

    /// Serves `routes` behind `auth` on a free port; returns its URL.
    async fn gateway(routes: Vec<Route>, auth: Option<ApiAuth>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let _stop = _stop;
            let _ = serve(listener, routes, auth.map(Arc::new), shutdown).await;
        });
        url
    }

    #[tokio::test]
    async fn with_auth_a_guarded_route_answers_401_before_its_function_runs_unless_the_token_is_good(
    ) {
        use crate::local::auth::{server, JwtAuthorizer};
        let (issuer, _server, _stop) = server::for_tests("orderflow-api").await;
        let authorizer = Arc::new(JwtAuthorizer::new(
            &issuer.issuer,
            vec!["orderflow-api".into()],
        ));
        let mut auth = ApiAuth::default();
        auth.guard("GET", "/orders/{orderId}", authorizer.clone(), vec![]);
        auth.guard(
            "POST",
            "/orders",
            authorizer,
            vec!["orderflow/orders.write".into()],
        );
        let open = Route {
            authorized: false,
            ..route("GET", "/products")
        };
        let routes = vec![
            route("GET", "/orders/{orderId}"),
            route("POST", "/orders"),
            open,
        ];
        let url = gateway(routes, Some(auth)).await;
        let http = reqwest::Client::new();
        let get = |path: &str, token: Option<String>| {
            let mut r = http.get(format!("{url}{path}"));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send()
        };
        let now = chrono::Utc::now().timestamp();
        let none = get("/orders/o-1", None).await.unwrap();
        assert_eq!(none.status(), 401);
        assert_eq!(none.headers()["www-authenticate"], "Bearer");
        assert_eq!(
            none.json::<Value>().await.unwrap(),
            json!({"message": "Unauthorized"})
        );
        let (stranger, _other, _stop_other) = server::for_tests("orderflow-api").await;
        let foreign = stranger.token("cust-1", now, 60).unwrap();
        let refused = get("/orders/o-1", Some(foreign)).await.unwrap();
        assert_eq!(refused.status(), 401);
        let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        // A good token passes the authorizer: the (absent) function is what fails now.
        let good = issuer.token("cust-1", now, 60).unwrap();
        assert_eq!(
            get("/orders/o-1", Some(good.clone()))
                .await
                .unwrap()
                .status(),
            500
        );
        // A good token without the route's scope: 403, the function never runs.
        let short = http
            .post(format!("{url}/orders"))
            .bearer_auth(&good)
            .send()
            .await
            .unwrap();
        assert_eq!(short.status(), 403);
        assert_eq!(
            short.json::<Value>().await.unwrap(),
            json!({"message": "Forbidden"})
        );
        // A route opened with `Authorizer: NONE` needs no token.
        assert_eq!(get("/products", None).await.unwrap().status(), 500);
    }

    /// A function that always gives the same answer.
    struct Answering(Result<Bytes, InvokeFailure>);

    impl Invoke for Answering {
        fn invoke(&self, _payload: Bytes) -> Invocation<'_> {
            let answer = self.0.clone();
            Box::pin(async move { answer })
        }
    }

    #[tokio::test]
    async fn whatever_invokes_a_route_its_answer_a_failure_and_a_timeout_are_api_gateways() {
        let answering = |path: &str, answer| Route {
            method: "GET".into(),
            path: path.into(),
            function: Arc::new(Answering(answer)),
            authorized: false,
        };
        let ok = Bytes::from_static(br#"{"statusCode":201,"body":"made"}"#);
        let url = gateway(
            vec![
                answering("/ok", Ok(ok)),
                answering("/failed", Err(InvokeFailure::Failed("Unhandled".into()))),
                answering("/slow", Err(InvokeFailure::TimedOut("30 s".into()))),
            ],
            None,
        )
        .await;
        let get = |path: &str| reqwest::get(format!("{url}{path}"));
        let made = get("/ok").await.unwrap();
        assert_eq!(made.status(), 201);
        assert_eq!(made.text().await.unwrap(), "made");
        let failed = get("/failed").await.unwrap();
        assert_eq!(failed.status(), 500);
        assert_eq!(
            failed.json::<Value>().await.unwrap(),
            json!({"message": "Internal Server Error"})
        );
        assert_eq!(get("/slow").await.unwrap().status(), 503);
    }
}
