//! A fault-injecting proxy in front of the AWS endpoint: the functions talk to it. It answers a
//! given share of calls with a throttling error or a 503 instead of forwarding them (`throttle`,
//! `unavailable`), and loses the answer to a given share of the calls it forwarded, which the
//! endpoint applied (`lost_response`): a 500, a 503, or the connection reset before a byte of
//! the answer. So the SDKs' retries and the handlers' error paths run for real, including the
//! retry of an effect that already happened.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use orderflow_shared::faults::Fault;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::logs::LogSink;
use super::messages::{
    AWS_FAULTS, INJECTED_LOST_RESPONSE, INJECTED_THROTTLING, INJECTED_UNAVAILABLE,
};
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

/// How the answer to a call the endpoint applied is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loss {
    /// A 500 with the protocol's error body (`InternalFailure`, AWS's common error).
    InternalFailure,
    /// A 503 with the protocol's error body (`ServiceUnavailable`, AWS's common error).
    Unavailable,
    /// The connection reset before a byte of the answer.
    Reset,
}

impl Loss {
    fn as_str(self) -> &'static str {
        match self {
            Loss::InternalFailure => "500",
            Loss::Unavailable => "503",
            Loss::Reset => "reset",
        }
    }
}

/// Which loss a hit is: seeded, each a third. The fault spec's only seeded draw is `hits`,
/// which says yes at the fault's rate; two draws that differ are a fair coin (yes-no is as
/// likely as no-yes), and two fair coins pick one of three (the fourth outcome draws again).
/// At a rate of 1000 no two draws differ: then the call number picks.
fn loss_for(faults: &FaultSwitch, call: u64) -> Loss {
    let coin = |key: String| {
        (0..64).find_map(|i| {
            let first = faults.hits(Fault::LostResponse, &format!("{key}/{i}/0"));
            let second = faults.hits(Fault::LostResponse, &format!("{key}/{i}/1"));
            (first != second).then_some(first)
        })
    };
    for round in 0..8 {
        match (
            coin(format!("{call}/{round}/a")),
            coin(format!("{call}/{round}/b")),
        ) {
            (Some(false), Some(false)) => return Loss::InternalFailure,
            (Some(false), Some(true)) => return Loss::Unavailable,
            (Some(true), Some(false)) => return Loss::Reset,
            (Some(true), Some(true)) => continue,
            _ => break,
        }
    }
    [Loss::InternalFailure, Loss::Unavailable, Loss::Reset][(call % 3) as usize]
}

async fn handle(
    State(p): State<Arc<Proxy>>,
    ConnectInfo(cut): ConnectInfo<Cut>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let call = p.calls.fetch_add(1, Ordering::SeqCst);
    let n = call.to_string();
    if let Some(refusal) = refuse(&p, &parts.headers, &n) {
        return refusal;
    }
    let headers = parts.headers.clone();
    let answer = match forward(&p, parts, body).await {
        Ok(answer) => answer,
        Err(failure) => return failure,
    };
    if !p.faults.hits(Fault::LostResponse, &n) {
        return answer;
    }
    let loss = loss_for(&p.faults, call);
    p.logs.line(
        AWS_FAULTS,
        &format!(
            "{INJECTED_LOST_RESPONSE} ({}) for {}",
            loss.as_str(),
            operation(&headers)
        ),
    );
    const APPLIED: &str = "The request processing has failed because of an unknown error, \
        exception or failure. (injected: the call was applied, its answer lost)";
    match loss {
        Loss::InternalFailure => error_response(
            &headers,
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            APPLIED,
        ),
        Loss::Unavailable => error_response(
            &headers,
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            APPLIED,
        ),
        Loss::Reset => {
            // Never sent: the connection fails as the answer is written.
            cut.0.store(true, Ordering::SeqCst);
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A throttling error or a 503 instead of forwarding the call (it never takes effect).
fn refuse(p: &Proxy, headers: &HeaderMap, n: &str) -> Option<Response> {
    if p.faults.hits(Fault::Throttle, n) {
        p.logs.line(
            AWS_FAULTS,
            &format!("{INJECTED_THROTTLING} {}", operation(headers)),
        );
        return Some(error_response(
            headers,
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded (injected)",
        ));
    }
    if p.faults.hits(Fault::Unavailable, n) {
        p.logs.line(
            AWS_FAULTS,
            &format!("{INJECTED_UNAVAILABLE} {}", operation(headers)),
        );
        return Some(error_response(
            headers,
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Service unavailable (injected)",
        ));
    }
    None
}

/// The endpoint's answer, or the proxy's own failure (the call did not reach the endpoint).
async fn forward(p: &Proxy, parts: Parts, body: Body) -> Result<Response, Response> {
    let body: Bytes = match to_bytes(body, 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return Err((StatusCode::BAD_REQUEST, e.to_string()).into_response()),
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
            Ok(response)
        }
        Err(e) => Err((
            StatusCode::BAD_GATEWAY,
            format!("fault proxy: upstream unreachable: {e}"),
        )
            .into_response()),
    }
}

/// A connection the proxy can cut: once cut, its reads and writes fail and the socket closes
/// with a reset (SO_LINGER 0), so the client gets no answer at all.
struct Cuttable {
    stream: TcpStream,
    cut: Arc<AtomicBool>,
}

impl Cuttable {
    fn check(&self) -> io::Result<()> {
        if !self.cut.load(Ordering::SeqCst) {
            return Ok(());
        }
        // With a zero linger, closing the socket sends RST rather than FIN.
        let _ = self.stream.set_zero_linger();
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "answer lost (injected)",
        ))
    }
}

impl AsyncRead for Cuttable {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Cuttable {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Accepts connections the handler can cut (`Cut`, its connection info).
struct CuttableListener(TcpListener);

impl Listener for CuttableListener {
    type Io = Cuttable;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Cuttable, SocketAddr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        let cut = Arc::new(AtomicBool::new(false));
        (Cuttable { stream, cut }, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Listener::local_addr(&self.0)
    }
}

/// The switch that cuts the connection a request came on.
#[derive(Clone)]
struct Cut(Arc<AtomicBool>);

impl Connected<IncomingStream<'_, CuttableListener>> for Cut {
    fn connect_info(stream: IncomingStream<'_, CuttableListener>) -> Self {
        Cut(stream.io().cut.clone())
    }
}

/// Starts the proxy on a free loopback port; returns its URL.
pub async fn start(
    upstream: &str,
    faults: FaultSwitch,
    logs: LogSink,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = Router::new().fallback(handle).with_state(Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_owned(),
        faults,
        calls: AtomicU64::new(0),
        client: reqwest::Client::new(),
        logs,
    }));
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<Cut>();
        let _ = axum::serve(CuttableListener(listener), service)
            .with_graceful_shutdown(async move { super::stopped(&mut shutdown).await })
            .await;
    });
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::AtomicUsize;

    use orderflow_shared::faults::Faults;

    use super::*;

    /// A tiny endpoint on a free loopback port: answers every call 200 and counts them.
    async fn upstream() -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let app = Router::new().fallback(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                (
                    [("content-type", "application/x-amz-json-1.0")],
                    r#"{"applied":true}"#,
                )
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, calls)
    }

    struct Started {
        proxy: String,
        calls: Arc<AtomicUsize>,
        log: std::path::PathBuf,
        _shutdown: watch::Sender<bool>,
    }

    async fn proxy_with(spec: &str) -> Started {
        let (upstream, calls) = upstream().await;
        let log = std::env::temp_dir().join(format!("fault-proxy-{}.log", uuid::Uuid::new_v4()));
        let logs = LogSink::to_file(&log, None).unwrap();
        let (shutdown, stopped) = watch::channel(false);
        let faults = FaultSwitch::new(Faults::parse(spec, "7").unwrap());
        let proxy = start(&upstream, faults, logs, stopped).await.unwrap();
        Started {
            proxy,
            calls,
            log,
            _shutdown: shutdown,
        }
    }

    /// A call as the SDKs make it: JSON protocol (`x-amz-target`) or query protocol (SNS).
    async fn call(proxy: &str, json: bool) -> Result<(StatusCode, String, String), reqwest::Error> {
        // A new connection per call, so a cut one is never reused.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let request = if json {
            client
                .post(format!("{proxy}/"))
                .header("x-amz-target", "DynamoDB_20120810.PutItem")
                .body("{}")
        } else {
            client
                .post(format!("{proxy}/"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("Action=Publish")
        };
        let response = request.send().await?;
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok((status, content_type, response.text().await?))
    }

    #[tokio::test]
    async fn a_lost_response_reaches_the_endpoint_once_and_the_client_sees_a_500_a_503_or_a_reset()
    {
        let p = proxy_with("lost_response=1000").await;
        let mut seen = BTreeSet::new();
        for i in 0..6 {
            let json = i % 2 == 0;
            let outcome = call(&p.proxy, json).await;
            assert_eq!(
                p.calls.load(Ordering::SeqCst),
                i + 1,
                "applied exactly once"
            );
            let kind = match outcome {
                Err(_) => "reset",
                Ok((status, content_type, body)) => {
                    assert!(
                        !body.contains(r#"{"applied":true}"#),
                        "the endpoint's answer is lost"
                    );
                    let code = if status == 500 {
                        "InternalFailure"
                    } else {
                        "ServiceUnavailable"
                    };
                    assert!(body.contains(code), "{status} {body}");
                    let expected = if json {
                        "application/x-amz-json-1.0"
                    } else {
                        "text/xml"
                    };
                    assert_eq!(content_type, expected);
                    match status.as_u16() {
                        500 => "500",
                        503 => "503",
                        other => panic!("unexpected status {other}"),
                    }
                }
            };
            seen.insert(kind);
        }
        assert_eq!(seen, BTreeSet::from(["500", "503", "reset"]));
        let log = std::fs::read_to_string(&p.log).unwrap();
        let lost: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&format!("{INJECTED_LOST_RESPONSE} (")))
            .collect();
        assert_eq!(lost.len(), 6, "{log}");
        assert!(
            lost[0].ends_with(") for DynamoDB_20120810.PutItem"),
            "{}",
            lost[0]
        );
    }

    #[tokio::test]
    async fn without_a_lost_response_the_endpoints_answer_passes_and_a_refusal_never_reaches_it() {
        let p = proxy_with("").await;
        let (status, _, body) = call(&p.proxy, true).await.unwrap();
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, r#"{"applied":true}"#)
        );
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);

        let refusing = proxy_with("throttle=1000,lost_response=1000").await;
        let (status, _, body) = call(&refusing.proxy, true).await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("ThrottlingException"), "{body}");
        assert_eq!(
            refusing.calls.load(Ordering::SeqCst),
            0,
            "refused before it took effect"
        );
    }

    #[test]
    fn the_kind_of_loss_is_seeded_and_each_is_about_a_third() {
        let kinds = |seed: &str| -> Vec<Loss> {
            let faults = FaultSwitch::new(Faults::parse("lost_response=100", seed).unwrap());
            (0..1200).map(|call| loss_for(&faults, call)).collect()
        };
        let seven = kinds("7");
        assert_eq!(seven, kinds("7"));
        assert_ne!(seven, kinds("8"));
        for loss in [Loss::InternalFailure, Loss::Unavailable, Loss::Reset] {
            let share = seven.iter().filter(|k| **k == loss).count();
            assert!((330..470).contains(&share), "{loss:?}: {share} of 1200");
        }
    }

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
