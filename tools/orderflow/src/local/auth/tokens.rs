//! The claims of the two tokens a Cognito user pool hands a signed-in user, which is what a
//! JWT authorizer in front of this API sees in practice: the ID token names the app client in
//! `aud`; the access token has no `aud` but `client_id`, and carries `scope`.

use serde_json::{json, Value};

/// The scope the local issuer's access tokens carry (the template's routes ask for none).
pub const LOCAL_SCOPE: &str = "orders";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenKind {
    /// The access token (`token_use: access`, `client_id`, `scope`): what a client should
    /// send an API.
    Access,
    /// The ID token (`token_use: id`, `aud`): accepted too, since the authorizer checks `aud`.
    Id,
}

/// Who issues, and for which app client.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
}

/// The claims of a `kind` token for `subject`, issued at `now`, valid for `ttl_seconds`.
pub fn claims(
    kind: TokenKind,
    client: &Client<'_>,
    subject: &str,
    now: i64,
    ttl_seconds: i64,
) -> Value {
    let mut claims = json!({
        "sub": subject,
        "iss": client.issuer,
        "token_use": match kind { TokenKind::Access => "access", TokenKind::Id => "id" },
        "auth_time": now,
        "iat": now,
        "exp": now.saturating_add(ttl_seconds),
        "jti": uuid::Uuid::new_v4().to_string(),
        "origin_jti": uuid::Uuid::new_v4().to_string(),
        "event_id": uuid::Uuid::new_v4().to_string(),
    });
    match kind {
        TokenKind::Access => {
            claims["client_id"] = json!(client.client_id);
            claims["scope"] = json!(LOCAL_SCOPE);
            claims["username"] = json!(subject);
        }
        TokenKind::Id => {
            claims["aud"] = json!(client.client_id);
            claims["cognito:username"] = json!(subject);
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: Client<'static> = Client {
        issuer: "http://127.0.0.1:1",
        client_id: "app-client",
    };

    #[test]
    fn an_access_token_names_the_client_in_client_id_and_has_no_audience() {
        let c = claims(TokenKind::Access, &CLIENT, "cust-1", 100, 60);
        assert_eq!(c["token_use"], "access");
        assert_eq!(c["client_id"], "app-client");
        assert!(c.get("aud").is_none());
        assert_eq!(c["scope"], LOCAL_SCOPE);
        assert_eq!(
            (c["iat"].clone(), c["exp"].clone()),
            (json!(100), json!(160))
        );
    }

    #[test]
    fn an_id_token_names_the_client_in_aud_and_has_no_client_id_or_scope() {
        let c = claims(TokenKind::Id, &CLIENT, "cust-1", 100, 60);
        assert_eq!(c["token_use"], "id");
        assert_eq!(c["aud"], "app-client");
        assert!(c.get("client_id").is_none() && c.get("scope").is_none());
        assert_eq!(c["cognito:username"], "cust-1");
    }
}
