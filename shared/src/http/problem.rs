//! Answers: RFC 9457 problem details for every refusal, JSON for the rest.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::api::FieldIssue;

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

    /// The problem type's slug (`invalid-request`, `unknown-sku`, …): the `Reason` of the
    /// `RequestsRefused` metric.
    pub fn slug(&self) -> &str {
        self.problem_type
            .strip_prefix("urn:orderflow:problem:")
            .unwrap_or(&self.problem_type)
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
}
