//! The order API as a storefront uses it: place an order with its `Idempotency-Key` and the
//! customer's token, retried the way a storefront retries; read an order back, its status as
//! the domain's [`OrderStatus`].

use std::time::Duration;

use orderflow_shared::domain::{OrderId, OrderStatus};
use serde_json::Value;

/// The API at one base URL (`http://127.0.0.1:3000`).
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    url: String,
}

/// One answer: the status code and the body (JSON, or null when it is not).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// How often and how patiently [`Api::place`] retries an answer that says "try again".
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    /// The pause before attempt n is n × 100 ms, growing for at most this many attempts.
    pub backoff_steps: u32,
    /// Whether a 409 (the same key still being placed) is retried too.
    pub conflict: bool,
}

/// What became of a request to place an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    Accepted(OrderId),
    /// The API refused a valid request, or never accepted it after every retry.
    Refused(String),
}

/// What `GET /orders/{id}` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Found(OrderStatus),
    /// 404: no such order (for this customer).
    Missing,
    /// No answer, or one without a status: ask again later.
    Unknown,
}

impl Api {
    pub fn new(url: &str, http: reqwest::Client) -> Api {
        Api {
            http,
            url: url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `POST /orders` once, as JSON.
    pub async fn post_order(
        &self,
        body: &str,
        key: Option<&str>,
        token: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let mut request = self
            .http
            .post(format!("{}/orders", self.url))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        answer(authorized(request, token)).await
    }

    /// `GET /orders/{id}` once.
    pub async fn get_order(&self, id: &str, token: Option<&str>) -> Result<Answer, reqwest::Error> {
        answer(authorized(
            self.http.get(format!("{}/orders/{id}", self.url)),
            token,
        ))
        .await
    }

    /// Places an order, retrying transport errors, throttling and server errors (and 409s
    /// when `retry.conflict`) with the same key until it is accepted or refused.
    pub async fn place(&self, body: &str, key: &str, token: Option<&str>, retry: Retry) -> Placed {
        self.place_with(body, Some(key), token, retry).await
    }

    /// Places an order without an `Idempotency-Key`, retried as [`Api::place`] retries: each
    /// attempt the API may have stored (a lost answer, a server error after the write) is an
    /// order of its own, so a storefront keeps `retry.attempts` small.
    pub async fn place_keyless(&self, body: &str, token: Option<&str>, retry: Retry) -> Placed {
        self.place_with(body, None, token, retry).await
    }

    async fn place_with(
        &self,
        body: &str,
        key: Option<&str>,
        token: Option<&str>,
        retry: Retry,
    ) -> Placed {
        let mut last = String::new();
        for attempt in 0..retry.attempts {
            if attempt > 0 {
                let steps = u64::from(attempt.min(retry.backoff_steps));
                tokio::time::sleep(Duration::from_millis(100u64.saturating_mul(steps))).await;
            }
            let Answer { status, body } = match self.post_order(body, key, token).await {
                Ok(a) => a,
                Err(e) => {
                    last = format!("transport: {e}");
                    continue;
                }
            };
            match status {
                200..=202 => match accepted_id(&body) {
                    Some(id) => return Placed::Accepted(id),
                    None => last = format!("{status} without an orderId: {body}"),
                },
                409 if retry.conflict => last = format!("{status}: {body}"),
                429 | 500..=599 => last = format!("{status}: {body}"),
                _ => return Placed::Refused(format!("{status}: {body}")),
            }
        }
        Placed::Refused(format!(
            "gave up after {} attempts; last answer {last}",
            retry.attempts
        ))
    }

    /// The order's status, as its customer sees it.
    pub async fn status(&self, id: &OrderId, token: Option<&str>) -> Lookup {
        match self.get_order(id.as_str(), token).await {
            Ok(Answer { status: 404, .. }) => Lookup::Missing,
            Ok(Answer { status: 200, body }) => body
                .get("status")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .map_or(Lookup::Unknown, Lookup::Found),
            _ => Lookup::Unknown,
        }
    }
}

fn authorized(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    }
}

async fn answer(request: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok(Answer { status, body })
}

fn accepted_id(body: &Value) -> Option<OrderId> {
    body.get("orderId")
        .and_then(Value::as_str)
        .and_then(|id| OrderId::parse(id).ok())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use serde_json::json;

    use super::*;

    const CONFIRMED: &str = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    const BUSY: &str = "00000000-0000-4000-8000-000000000503";

    type Seen = Arc<Mutex<Vec<Option<String>>>>;
    type Answers = Arc<Vec<(u16, Value)>>;

    /// A stand-in for the API: `POST /orders` gives `answers` in turn (the last one for ever)
    /// and records each request's `Idempotency-Key`; `GET /orders/{id}` answers by the id.
    async fn server(answers: Vec<(u16, Value)>) -> (Api, Seen) {
        let seen = Seen::default();
        let state = (Arc::new(answers), seen.clone());
        let post_order = |State((answers, seen)): State<(Answers, Seen)>, headers: HeaderMap| async move {
            let mut seen = seen.lock().unwrap();
            let key = headers.get("idempotency-key");
            seen.push(key.and_then(|k| k.to_str().ok()).map(str::to_owned));
            let (status, body) = answers[(seen.len() - 1).min(answers.len() - 1)].clone();
            (StatusCode::from_u16(status).unwrap(), Json(body))
        };
        let get_order = |Path(id): Path<String>| async move {
            match id.as_str() {
                CONFIRMED => (StatusCode::OK, Json(json!({"status": "CONFIRMED"}))),
                BUSY => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({}))),
                _ => (StatusCode::NOT_FOUND, Json(json!({"title": "Not Found"}))),
            }
        };
        let app = Router::new()
            .route("/orders", post(post_order))
            .route("/orders/{id}", get(get_order))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (Api::new(&url, reqwest::Client::new()), seen)
    }

    const PATIENT: Retry = Retry {
        attempts: 5,
        backoff_steps: 1,
        conflict: false,
    };

    #[tokio::test]
    async fn throttling_and_server_errors_are_retried_with_the_same_key_until_accepted() {
        let (api, seen) = server(vec![
            (429, json!({})),
            (503, json!({})),
            (202, json!({"orderId": CONFIRMED})),
        ])
        .await;
        let placed = api.place("{}", "k-1", None, PATIENT).await;
        assert_eq!(placed, Placed::Accepted(OrderId::parse(CONFIRMED).unwrap()));
        assert_eq!(*seen.lock().unwrap(), vec![Some("k-1".to_owned()); 3]);
    }

    #[tokio::test]
    async fn a_client_error_is_refused_at_once_and_a_conflict_only_retried_when_asked() {
        let (api, seen) = server(vec![(400, json!({"title": "Bad"}))]).await;
        assert!(matches!(
            api.place("{}", "k", None, PATIENT).await,
            Placed::Refused(_)
        ));
        assert_eq!(seen.lock().unwrap().len(), 1);

        let conflict_then_accepted = vec![(409, json!({})), (202, json!({"orderId": CONFIRMED}))];
        let (api, seen) = server(conflict_then_accepted.clone()).await;
        assert!(matches!(
            api.place("{}", "k", None, PATIENT).await,
            Placed::Refused(_)
        ));
        assert_eq!(seen.lock().unwrap().len(), 1);
        let (api, seen) = server(conflict_then_accepted).await;
        let retry = Retry {
            conflict: true,
            ..PATIENT
        };
        assert!(matches!(
            api.place("{}", "k", None, retry).await,
            Placed::Accepted(_)
        ));
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn placing_gives_up_after_its_attempts_and_says_what_it_last_heard() {
        let (api, seen) = server(vec![(503, json!({"title": "down"}))]).await;
        let Placed::Refused(why) = api.place("{}", "k", None, PATIENT).await else {
            panic!("accepted after a 503");
        };
        assert!(
            why.contains("gave up after 5 attempts") && why.contains("503"),
            "{why}"
        );
        assert_eq!(seen.lock().unwrap().len(), 5);
    }

    #[tokio::test]
    async fn a_status_is_the_domain_type_a_404_is_missing_and_anything_else_unknown() {
        let (api, seen) = server(vec![]).await;
        let [confirmed, busy] = [CONFIRMED, BUSY].map(|id| OrderId::parse(id).unwrap());
        assert_eq!(
            api.status(&confirmed, None).await,
            Lookup::Found(OrderStatus::Confirmed)
        );
        assert_eq!(api.status(&busy, None).await, Lookup::Unknown);
        assert_eq!(api.status(&OrderId::new(), None).await, Lookup::Missing);
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_keyless_order_is_retried_without_a_key_and_only_as_often_as_asked() {
        let (api, seen) = server(vec![(502, json!({})), (503, json!({}))]).await;
        let retry = Retry {
            attempts: 3,
            ..PATIENT
        };
        assert!(matches!(
            api.place_keyless("{}", None, retry).await,
            Placed::Refused(_)
        ));
        assert_eq!(*seen.lock().unwrap(), vec![None; 3]);
        let (api, seen) =
            server(vec![(500, json!({})), (202, json!({"orderId": CONFIRMED}))]).await;
        assert_eq!(
            api.place_keyless("{}", None, retry).await,
            Placed::Accepted(OrderId::parse(CONFIRMED).unwrap())
        );
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_post_without_a_key_sends_none() {
        let (api, seen) = server(vec![(202, json!({"orderId": CONFIRMED}))]).await;
        let answer = api.post_order("{}", None, Some("t")).await.unwrap();
        assert_eq!(answer.status, 202);
        assert_eq!(answer.body["orderId"], CONFIRMED);
        assert_eq!(*seen.lock().unwrap(), vec![None]);
    }
}
