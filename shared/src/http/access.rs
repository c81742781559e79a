//! Who calls: the customer API Gateway's JWT authorizer verified, or nobody in particular on
//! an open API.

use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::Problem;
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

#[cfg(test)]
mod tests {
    use super::*;

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
