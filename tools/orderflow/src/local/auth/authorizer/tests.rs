//! The authorizer against a real (in-process) identity provider on 127.0.0.1, with tokens shaped
//! like a Cognito user pool's: each passes or fails as API Gateway's JWT authorizer documents.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::local::auth::issuer::LocalIssuer;
use crate::local::auth::server;
use crate::local::auth::tokens::{self, Client, TokenKind};

const NOW: i64 = 1_800_000_000;
const CLIENT_ID: &str = "5kek0i61pgkokoob4fsm9fo9it";

fn cognito(issuer: &LocalIssuer, kind: TokenKind, subject: &str) -> Value {
    let client = Client {
        issuer: &issuer.issuer,
        client_id: CLIENT_ID,
    };
    tokens::claims(kind, &client, subject, NOW - 10, 3600)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn no_scopes() -> Vec<String> {
    Vec::new()
}

async fn check(a: &JwtAuthorizer, token: &str) -> Result<Authorized, AuthError> {
    a.authorize(Some(&bearer(token)), &no_scopes(), NOW).await
}

#[tokio::test]
async fn a_cognito_id_token_passes_on_its_aud_and_reaches_the_function_as_strings() {
    let (idp, _server, _stop) = server::for_tests(CLIENT_ID).await;
    let authorizer = JwtAuthorizer::new(&idp.issuer, vec![CLIENT_ID.into()]);
    let mut claims = cognito(&idp, TokenKind::Id, "cust-42");
    claims["email_verified"] = json!(true);
    claims["cognito:groups"] = json!(["buyers", "vip"]);
    let token = idp.sign(&claims).unwrap();

    let ok = check(&authorizer, &token).await.unwrap();
    assert_eq!(ok.claims["sub"], "cust-42");
    assert_eq!(ok.claims["token_use"], "id");
    assert_eq!(ok.claims["aud"], CLIENT_ID);
    assert_eq!(ok.claims["exp"], (NOW - 10 + 3600).to_string());
    assert_eq!(ok.claims["email_verified"], "true");
    assert_eq!(ok.claims["cognito:groups"], "[buyers vip]");
    assert_eq!(ok.scopes, None, "the route asks for no scopes");
    // The identity source may hold the token alone, without `Bearer `.
    assert!(authorizer
        .authorize(Some(&token), &no_scopes(), NOW)
        .await
        .is_ok());
}

#[tokio::test]
async fn a_cognito_access_token_without_aud_passes_on_its_client_id() {
    let (idp, _server, _stop) = server::for_tests(CLIENT_ID).await;
    let authorizer = JwtAuthorizer::new(&idp.issuer, vec!["other-client".into(), CLIENT_ID.into()]);
    let token = idp
        .sign(&cognito(&idp, TokenKind::Access, "cust-42"))
        .unwrap();
    let ok = check(&authorizer, &token).await.unwrap();
    assert_eq!(ok.claims["client_id"], CLIENT_ID);
    assert_eq!(ok.claims["token_use"], "access");
    assert!(!ok.claims.contains_key("aud"));
}

#[tokio::test]
async fn the_wrong_audience_or_client_id_is_refused_and_aud_wins_over_client_id() {
    let (idp, _server, _stop) = server::for_tests(CLIENT_ID).await;
    let authorizer = JwtAuthorizer::new(&idp.issuer, vec![CLIENT_ID.into()]);
    let mut id = cognito(&idp, TokenKind::Id, "cust-42");
    id["aud"] = json!("another-app");
    let mut access = cognito(&idp, TokenKind::Access, "cust-42");
    access["client_id"] = json!("another-app");
    let mut both = cognito(&idp, TokenKind::Access, "cust-42");
    both["aud"] = json!("another-app");
    let mut neither = cognito(&idp, TokenKind::Access, "cust-42");
    neither.as_object_mut().unwrap().remove("client_id");
    for claims in [id, access, both, neither] {
        let token = idp.sign(&claims).unwrap();
        assert_eq!(
            check(&authorizer, &token).await,
            Err(AuthError::Audience),
            "{claims}"
        );
    }
    let mut listed = cognito(&idp, TokenKind::Id, "cust-42");
    listed["aud"] = json!(["another-app", CLIENT_ID]);
    assert!(check(&authorizer, &idp.sign(&listed).unwrap())
        .await
        .is_ok());
}

#[tokio::test]
async fn an_expired_token_is_refused_from_its_exp_second_on_without_leeway() {
    let (idp, _server, _stop) = server::for_tests(CLIENT_ID).await;
    let authorizer = JwtAuthorizer::new(&idp.issuer, vec![CLIENT_ID.into()]);
    let mut claims = cognito(&idp, TokenKind::Access, "cust-42");
    claims["exp"] = json!(NOW + 1);
    let token = idp.sign(&claims).unwrap();
    assert!(authorizer
        .authorize(Some(&bearer(&token)), &no_scopes(), NOW)
        .await
        .is_ok());
    let at_exp = authorizer
        .authorize(Some(&bearer(&token)), &no_scopes(), NOW + 1)
        .await;
    assert_eq!(at_exp, Err(AuthError::Expired));
    let later = authorizer
        .authorize(Some(&bearer(&token)), &no_scopes(), NOW + 61)
        .await;
    assert_eq!(later, Err(AuthError::Expired), "no 60 s leeway");
    claims.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        check(&authorizer, &idp.sign(&claims).unwrap()).await,
        Err(AuthError::NoExpiry)
    );
}

#[tokio::test]
async fn a_token_not_valid_yet_or_issued_in_the_future_is_refused() {
    let (idp, _server, _stop) = server::for_tests(CLIENT_ID).await;
    let authorizer = JwtAuthorizer::new(&idp.issuer, vec![CLIENT_ID.into()]);
    let mut nbf = cognito(&idp, TokenKind::Id, "cust-42");
    nbf["nbf"] = json!(NOW + 1);
    assert_eq!(
        check(&authorizer, &idp.sign(&nbf).unwrap()).await,
        Err(AuthError::NotYetValid)
    );
    let mut iat = cognito(&idp, TokenKind::Id, "cust-42");
    iat["iat"] = json!(NOW + 1);
    assert_eq!(
        check(&authorizer, &idp.sign(&iat).unwrap()).await,
        Err(AuthError::IssuedInFuture)
    );
    let mut now = cognito(&idp, TokenKind::Id, "cust-42");
    (now["nbf"], now["iat"]) = (json!(NOW), json!(NOW));
    assert!(check(&authorizer, &idp.sign(&now).unwrap()).await.is_ok());
}

#[tokio::test]
async fn a_token_of_another_issuer_is_refused_even_when_signed_by_a_trusted_key() {
    let (idp, _server, _stop) = server::for_tests(CLIENT_ID).await;
    let authorizer = JwtAuthorizer::new(&idp.issuer, vec![CLIENT_ID.into()]);
    let mut claims = cognito(&idp, TokenKind::Id, "cust-42");
    claims["iss"] = json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example");
    assert_eq!(
        check(&authorizer, &idp.sign(&claims).unwrap()).await,
        Err(AuthError::Issuer(idp.issuer.clone()))
    );
    // The issuer must match exactly: a trailing slash is another issuer.
    claims["iss"] = json!(format!("{}/", idp.issuer));
    assert!(matches!(
        check(&authorizer, &idp.sign(&claims).unwrap()).await,
        Err(AuthError::Issuer(_))
    ));
}

#[tokio::test]
async fn a_kid_the_jwks_lacks_is_refused_and_a_key_signing_under_a_trusted_kid_fails_the_signature()
{
    let (idp, _server, _stop) = server::for_tests(CLIENT_ID).await;
    let authorizer = JwtAuthorizer::new(&idp.issuer, vec![CLIENT_ID.into()]);
    let claims = cognito(&idp, TokenKind::Id, "cust-42");
    // Another provider's key, never published by this one.
    let (mut other, _other_server, _stop_other) = server::for_tests(CLIENT_ID).await;
    let unknown = other.sign(&claims).unwrap();
    let kid = other.kids()[0].to_owned();
    assert_eq!(
        check(&authorizer, &unknown).await,
        Err(AuthError::Keys(KeysError::UnknownKid(kid)))
    );
    // The same foreign key, claiming the trusted key's kid.
    let trusted_kid = idp.kids()[0].to_owned();
    let forged = other
        .rename_key_for_tests(&trusted_kid)
        .sign(&claims)
        .unwrap();
    assert_eq!(check(&authorizer, &forged).await, Err(AuthError::Signature));
}

#[tokio::test]
async fn hs256_none_and_kid_less_tokens_are_refused() {
    let (idp, _server, _stop) = server::for_tests(CLIENT_ID).await;
    let authorizer = JwtAuthorizer::new(&idp.issuer, vec![CLIENT_ID.into()]);
    let claims = cognito(&idp, TokenKind::Id, "cust-42");
    let kid = idp.kids()[0].to_owned();

    // HS256 keyed with the public JWKS entry's modulus: the classic confusion attack.
    let jwks = serde_json::to_value(idp.jwks().unwrap()).unwrap();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let secret = jwks["keys"][0]["n"].as_str().unwrap().as_bytes().to_vec();
    let hs256 = jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(&secret)).unwrap();
    assert_eq!(
        check(&authorizer, &hs256).await,
        Err(AuthError::Algorithm("HS256".into()))
    );

    // alg none, no signature (built by hand: no library will make one).
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        part(&json!({"alg": "none", "kid": kid})),
        part(&claims)
    );
    assert!(matches!(
        check(&authorizer, &none).await,
        Err(AuthError::Malformed(_))
    ));

    let mut rs = Header::new(Algorithm::RS256);
    rs.kid = None;
    let good = idp.sign(&claims).unwrap();
    let kidless_header = part(&serde_json::to_value(&rs).unwrap());
    let kidless = format!("{kidless_header}.{}", good.split_once('.').unwrap().1);
    assert_eq!(check(&authorizer, &kidless).await, Err(AuthError::NoKeyId));
    assert!(matches!(
        check(&authorizer, "abc").await,
        Err(AuthError::Malformed(_))
    ));
    assert_eq!(
        authorizer.authorize(None, &no_scopes(), NOW).await,
        Err(AuthError::Missing)
    );
    assert_eq!(
        authorizer
            .authorize(Some("Bearer "), &no_scopes(), NOW)
            .await,
        Err(AuthError::Missing)
    );
}

#[tokio::test]
async fn a_route_with_scopes_needs_one_of_them_and_hands_the_token_scopes_on() {
    let (idp, _server, _stop) = server::for_tests(CLIENT_ID).await;
    let authorizer = JwtAuthorizer::new(&idp.issuer, vec![CLIENT_ID.into()]);
    let wanted = vec![
        "orderflow/orders.write".to_owned(),
        "orderflow/admin".to_owned(),
    ];
    let mut access = cognito(&idp, TokenKind::Access, "cust-42");
    access["scope"] = json!("openid orderflow/orders.write");
    let token = idp.sign(&access).unwrap();
    let ok = authorizer
        .authorize(Some(&bearer(&token)), &wanted, NOW)
        .await
        .unwrap();
    assert_eq!(
        ok.scopes,
        Some(vec![
            "openid".to_owned(),
            "orderflow/orders.write".to_owned()
        ])
    );

    access["scope"] = json!("openid orderflow/orders.read");
    let short = idp.sign(&access).unwrap();
    let refused = authorizer
        .authorize(Some(&bearer(&short)), &wanted, NOW)
        .await;
    assert_eq!(refused, Err(AuthError::InsufficientScope));
    assert!(refused.unwrap_err().is_forbidden());
    // An ID token carries no scope at all.
    let id = idp.sign(&cognito(&idp, TokenKind::Id, "cust-42")).unwrap();
    assert_eq!(
        authorizer.authorize(Some(&bearer(&id)), &wanted, NOW).await,
        Err(AuthError::InsufficientScope)
    );
}

#[tokio::test]
async fn a_key_the_issuer_adds_is_fetched_on_its_first_unknown_kid_but_not_sooner_than_allowed() {
    let (mut idp, server, _stop) = server::for_tests(CLIENT_ID).await;
    let policy = CachePolicy {
        max_age: Duration::from_secs(3600),
        refetch_after: Duration::from_secs(2),
    };
    let authorizer = JwtAuthorizer::with_policy(&idp.issuer, vec![CLIENT_ID.into()], policy);
    let claims = cognito(&idp, TokenKind::Id, "cust-42");
    let first = idp.sign(&claims).unwrap();
    // Made before the first fetch, so that making the key takes nothing from the window.
    let added = idp.add_key().unwrap();
    let newer = idp.sign(&claims).unwrap();
    assert!(check(&authorizer, &first).await.is_ok());

    server.publish(&idp).unwrap();
    assert_eq!(
        check(&authorizer, &newer).await,
        Err(AuthError::Keys(KeysError::UnknownKid(added))),
        "the copy was fetched moments ago"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(check(&authorizer, &newer).await.is_ok());
    let older = idp.sign_with(idp.kids()[0], &claims).unwrap();
    assert!(check(&authorizer, &older).await.is_ok(), "old keys stay");
}

#[tokio::test]
async fn an_unreachable_issuer_or_one_whose_discovery_names_another_issuer_refuses_every_token() {
    let (idp, _server, stop) = server::for_tests(CLIENT_ID).await;
    let token = idp.sign(&cognito(&idp, TokenKind::Id, "cust-42")).unwrap();
    // Configured with a trailing slash the provider's document does not have.
    let slashed = format!("{}/", idp.issuer);
    let authorizer = JwtAuthorizer::new(&slashed, vec![CLIENT_ID.into()]);
    assert!(matches!(
        check(&authorizer, &token).await,
        Err(AuthError::Keys(KeysError::IssuerMismatch { .. }))
    ));
    stop.send_replace(true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let authorizer = JwtAuthorizer::new(&idp.issuer, vec![CLIENT_ID.into()]);
    assert!(matches!(
        check(&authorizer, &token).await,
        Err(AuthError::Keys(KeysError::Unreachable(_)))
    ));
}
