//! A fault-injecting proxy in front of the AWS endpoint: the functions talk to it, and it
//! answers a given share of calls with a throttling error or a 503 instead of forwarding them,
//! so the SDKs' retries and the handlers' error paths run for real.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use orderflow_shared::faults::Fault;
use tokio::sync::watch;

use super::logs::LogSink;
use super::FaultSwitch;

struct Proxy {
    upstream: String,
    faults: FaultSwitch,
    calls: AtomicU64,
    client: reqwest::Client,
    logs: LogSink,
}

/// The error body the SDK expects for the call's protocol: JSON for `x-amz-target` calls
/// (DynamoDB, EventBridge, SQS), XML for query-protocol calls (SNS).
fn error_response(headers: &HeaderMap, status: StatusCode, code: &str, message: &str) -> Response {
    if headers.contains_key("x-amz-target") {
        let body = serde_json::json!({"__type": code, "message": message}).to_string();
        (
            status,
            [
                ("content-type", "application/x-amz-json-1.0"),
                ("x-amzn-errortype", code),
            ],
            body,
        )
            .into_response()
    } else {
        let body = format!(
            "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            if status.is_server_error() { "Receiver" } else { "Sender" },
            uuid::Uuid::new_v4()
        );
        (status, [("content-type", "text/xml")], body).into_response()
    }
}

fn operation(headers: &HeaderMap) -> String {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("query-protocol call")
        .to_owned()
}

async fn handle(State(p): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let n = p.calls.fetch_add(1, Ordering::SeqCst).to_string();
    if p.faults.hits(Fault::Throttle, &n) {
        p.logs.line(
            "aws-faults",
            &format!("injected fault: throttling {}", operation(&parts.headers)),
        );
        return error_response(
            &parts.headers,
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded (injected)",
        );
    }
    if p.faults.hits(Fault::Unavailable, &n) {
        p.logs.line(
            "aws-faults",
            &format!("injected fault: 503 for {}", operation(&parts.headers)),
        );
        return error_response(
            &parts.headers,
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Service unavailable (injected)",
        );
    }
    let body: Bytes = match to_bytes(body, 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forward = p
        .client
        .request(parts.method.clone(), format!("{}{path}", p.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            forward = forward.header(name, value);
        }
    }
    match forward.send().await {
        Ok(upstream) => {
            let status = upstream.status();
            let mut headers = HeaderMap::new();
            for (name, value) in upstream.headers() {
                if name != "transfer-encoding" && name != "connection" && name != "content-length" {
                    headers.append(name, value.clone());
                }
            }
            let bytes = upstream.bytes().await.unwrap_or_default();
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            format!("fault proxy: upstream unreachable: {e}"),
        )
            .into_response(),
    }
}

/// Starts the proxy on a free loopback port; returns its URL.
pub async fn start(
    upstream: &str,
    faults: FaultSwitch,
    logs: LogSink,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = Router::new().fallback(handle).with_state(Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_owned(),
        faults,
        calls: AtomicU64::new(0),
        client: reqwest::Client::new(),
        logs,
    }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { super::stopped(&mut shutdown).await })
            .await;
    });
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_protocol_calls_get_a_json_throttling_error() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-target", "DynamoDB_20120810.PutItem".parse().unwrap());
        let r = error_response(
            &headers,
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "slow down",
        );
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["content-type"], "application/x-amz-json-1.0");
    }

    #[test]
    fn query_protocol_calls_get_an_xml_error() {
        let r = error_response(
            &HeaderMap::new(),
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "down",
        );
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["content-type"], "text/xml");
    }
}
