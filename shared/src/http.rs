//! HTTP edge helpers: RFC 9457 problem details and JSON responses for `lambda_http` handlers.

use lambda_http::http::{header, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

pub use crate::api::FieldIssue;
use crate::domain::CustomerId;

/// Whether the HTTP functions insist on a caller verified by the API's JWT authorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Every request must carry the authorizer's claims; the customer is the token's `sub`.
    /// What a deployed stack runs (the template sets `REQUIRE_AUTH=true`).
    Token,
    /// No authorizer in front (the local cloud without `--auth`): the body names the customer.
    Open,
}

impl Access {
    /// The variable that opens the API.
    pub const VARIABLE: &'static str = "REQUIRE_AUTH";

    /// `REQUIRE_AUTH=false` opens the API; anything else, or nothing, requires a token.
    pub fn from_lookup(lookup: crate::config::Lookup<'_>) -> Access {
        match lookup(Self::VARIABLE) {
            Some(v) if v.trim().eq_ignore_ascii_case("false") => Access::Open,
            _ => Access::Token,
        }
    }
}

/// The `sub` claim API Gateway's JWT authorizer verified, if the request came through one.
pub fn token_subject(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context
            .authorizer
            .as_ref()?
            .jwt
            .as_ref()?
            .claims
            .get("sub")
            .filter(|s| !s.is_empty())
            .cloned(),
        _ => None,
    }
}

/// Who is calling: the token's customer, or nobody in particular on an open API.
/// A missing token where one is required, or a token whose subject is not a customer id, is a
/// `401`: the request does not come from a customer this API knows.
pub fn caller(request: &Request, access: Access) -> Result<Option<CustomerId>, Problem> {
    match (token_subject(request), access) {
        (Some(sub), _) => CustomerId::parse(&sub).map(Some).map_err(|e| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                format!("the token's subject is not a customer id: {e}"),
            )
        }),
        (None, Access::Open) => Ok(None),
        (None, Access::Token) => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a bearer token from the API's identity provider is required",
        )),
    }
}

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An `application/problem+json` body (RFC 9457) with an optional per-field error list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldIssue>,
}

impl Problem {
    /// `slug` names the problem type (`urn:orderflow:problem:<slug>`), stable for clients to match.
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Problem {
            problem_type: format!("urn:orderflow:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldIssue>) -> Self {
        self.errors = errors;
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&self)
            .unwrap_or_else(|_| format!(r#"{{"title":"Error","status":{}}}"#, status.as_u16()));
        build(status, PROBLEM_JSON, body)
    }
}

/// `413` for a `POST /orders` body over [`crate::api::MAX_BODY_BYTES`], before it is parsed.
pub fn check_body_size(body: &[u8]) -> Result<(), Problem> {
    if body.len() > crate::api::MAX_BODY_BYTES {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!(
                "the body is {} bytes; the limit is {} bytes",
                body.len(),
                crate::api::MAX_BODY_BYTES
            ),
        ));
    }
    Ok(())
}

/// The `400` a request body that does not parse gets (every field problem listed).
impl From<crate::api::RequestError> for Problem {
    fn from(e: crate::api::RequestError) -> Problem {
        match e {
            crate::api::RequestError::Malformed(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "malformed-json", detail)
            }
            crate::api::RequestError::Invalid(issues) => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                format!("{} field(s) are missing or invalid", issues.len()),
            )
            .with_errors(issues),
        }
    }
}

/// A JSON response with the given status.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => build(status, "application/json", body),
        Err(e) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("response could not be encoded: {e}"),
        )
        .into_response(),
    }
}

fn build(status: StatusCode, content_type: &str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_renders_as_problem_json_with_its_field_errors() {
        let response = Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "2 fields are invalid",
        )
        .with_errors(vec![FieldIssue {
            field: "email".into(),
            message: "must be an address".into(),
        }])
        .into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let Body::Text(body) = response.body() else {
            panic!("text body expected")
        };
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["type"], "urn:orderflow:problem:invalid-request");
        assert_eq!(v["title"], "Bad Request");
        assert_eq!(v["status"], 400);
        assert_eq!(v["errors"][0]["field"], "email");
    }

    #[test]
    fn a_problem_without_field_errors_omits_the_list() {
        let response =
            Problem::new(StatusCode::NOT_FOUND, "not-found", "no such order").into_response();
        let Body::Text(body) = response.body() else {
            panic!("text body expected")
        };
        assert!(!body.contains("errors"));
    }

    fn request_with_claims(claims: Option<&str>) -> Request {
        let mut context = serde_json::json!({
            "accountId": "123456789012", "apiId": "api", "domainName": "x", "domainPrefix": "x",
            "http": {"method": "GET", "path": "/orders/o", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "t"},
            "requestId": "r", "routeKey": "GET /orders/{orderId}", "stage": "$default",
            "time": "24/Nov/2026:00:00:00 +0000", "timeEpoch": 0
        });
        if let Some(sub) = claims {
            context["authorizer"] =
                serde_json::json!({"jwt": {"claims": {"sub": sub}, "scopes": null}});
        }
        let event = serde_json::json!({
            "version": "2.0", "routeKey": "GET /orders/{orderId}", "rawPath": "/orders/o",
            "rawQueryString": "", "headers": {}, "requestContext": context,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn the_caller_is_the_subject_the_authorizer_verified() {
        let request = request_with_claims(Some("cust-42"));
        assert_eq!(token_subject(&request).as_deref(), Some("cust-42"));
        for access in [Access::Token, Access::Open] {
            assert_eq!(
                caller(&request, access).unwrap(),
                Some(CustomerId::parse("cust-42").unwrap())
            );
        }
    }

    #[test]
    fn without_claims_a_token_api_answers_401_and_an_open_one_lets_the_body_decide() {
        let request = request_with_claims(None);
        let refused = caller(&request, Access::Token).unwrap_err();
        assert_eq!(refused.status, 401);
        assert_eq!(refused.problem_type, "urn:orderflow:problem:unauthorized");
        assert_eq!(caller(&request, Access::Open).unwrap(), None);
    }

    #[test]
    fn a_subject_that_is_not_a_customer_id_is_unauthorized() {
        let refused = caller(&request_with_claims(Some("has spaces")), Access::Token).unwrap_err();
        assert_eq!(refused.status, 401);
    }
}
