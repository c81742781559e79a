//! The local cloud's authorizer end to end, as a deployed API's behaves: `local up --auth`
//! publishes its issuer's discovery document and JWKS on 127.0.0.1, the template's authorizer
//! (`JwtIssuer`, `JwtAudience`) trusts it, and Cognito-shaped tokens pass or fail as on AWS —
//! the claims of one that passes reaching the function (the order is its `sub`'s).

use orderflow::local::auth::{tokens, LocalIssuer, TokenKind};
use serde_json::{json, Value};

use crate::support::Cloud;

/// A `POST /orders` body naming no customer: the token says who orders.
fn body() -> String {
    json!({
        "email": "auth@example.com",
        "items": [{"sku": "SKU-MUG-350", "quantity": 1}],
        "paymentToken": "tok_visa",
    })
    .to_string()
}

async fn place(cloud: &Cloud, token: &str) -> (u16, Value) {
    let answer = cloud
        .placing()
        .post_order(&body(), None, Some(token))
        .await
        .unwrap();
    (answer.status, answer.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cognito_shaped_id_and_access_tokens_pass_and_expired_foreign_or_misaddressed_ones_do_not()
{
    let cloud = Cloud::start().await;
    let issuer = cloud.issuer();
    assert!(
        issuer.issuer.starts_with("http://127.0.0.1:"),
        "{}",
        issuer.issuer
    );
    let discovery: Value = cloud
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            issuer.issuer
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], issuer.issuer.as_str());
    let now = chrono::Utc::now().timestamp();

    for (kind, customer) in [
        (TokenKind::Id, "cust-id"),
        (TokenKind::Access, "cust-access"),
    ] {
        let token = issuer.token_of(kind, customer, now, 600).unwrap();
        let (status, accepted) = place(&cloud, &token).await;
        assert_eq!(status, 202, "{kind:?}: {accepted}");
        let id = accepted["orderId"].as_str().unwrap();
        let order = cloud.order_as(id, &token).await;
        assert_eq!(
            order["customerId"], customer,
            "{kind:?}: the function read sub"
        );
    }

    let client = tokens::Client {
        issuer: &issuer.issuer,
        client_id: &issuer.audience,
    };
    let claims = |kind| tokens::claims(kind, &client, "cust-x", now, 600);
    let mut expired = claims(TokenKind::Access);
    (expired["iat"], expired["exp"]) = (json!(now - 7200), json!(now - 3600));
    let mut other_audience = claims(TokenKind::Id);
    other_audience["aud"] = json!("another-app-client");
    let mut other_client = claims(TokenKind::Access);
    other_client["client_id"] = json!("another-app-client");
    let mut other_issuer = claims(TokenKind::Access);
    other_issuer["iss"] = json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example");
    for (why, claims) in [
        ("expired", expired),
        ("aud of another client", other_audience),
        ("client_id of another client", other_client),
        ("another issuer", other_issuer),
    ] {
        let (status, body) = place(&cloud, &issuer.sign(&claims).unwrap()).await;
        assert_eq!(
            (status, body),
            (401, json!({"message": "Unauthorized"})),
            "{why}"
        );
    }
    // Signed by a key the issuer never published (same URL, another key pair).
    let stranger = LocalIssuer::generate(&issuer.issuer, &issuer.audience).unwrap();
    let forged = stranger.token("cust-x", now, 600).unwrap();
    assert_eq!(place(&cloud, &forged).await.0, 401);
}
