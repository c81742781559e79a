//! `orderflow local token` end to end: the token it prints for a customer is an RS256 token,
//! shaped like Cognito's, that an API Gateway JWT authorizer trusting the issuer of its state
//! folder accepts, naming that customer (the end-to-end tests sign their own tokens through the
//! harness, so this is the command's own check).

use std::process::Command;

use orderflow::local::auth::{server, IssuerServer, JwtAuthorizer, LocalIssuer};

use crate::support::orderflow_binary;

const CLIENT_ID: &str = "orderflow-api";

#[tokio::test]
async fn the_token_command_prints_an_access_or_id_token_the_issuers_authorizer_accepts() {
    let state = std::env::temp_dir().join(format!("orderflow-token-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&state).unwrap();
    let (listener, url) = server::bind(0).await.unwrap();
    let issuer = LocalIssuer::generate(&url, CLIENT_ID).unwrap();
    issuer.save(&state).unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let (_server, _task) = IssuerServer::start(listener, &issuer, stopped).unwrap();
    let token = |args: &[&str]| {
        Command::new(orderflow_binary())
            .args(["local", "token"])
            .args(args)
            .arg("--state-dir")
            .arg(&state)
            .output()
            .unwrap()
    };
    let authorizer = JwtAuthorizer::new(&url, vec![CLIENT_ID.into()]);
    let check = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout).unwrap();
        let header = format!("Bearer {}", printed.trim());
        let authorizer = &authorizer;
        async move {
            authorizer
                .authorize(Some(&header), &[], chrono::Utc::now().timestamp())
                .await
                .unwrap()
                .claims
        }
    };

    let access = check(token(&["cust-42"])).await;
    assert_eq!(access["sub"], "cust-42");
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], CLIENT_ID);
    let id = check(token(&["cust-42", "--kind", "id"])).await;
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["aud"], CLIENT_ID);

    let refused = token(&["not a customer id"]);
    assert!(!refused.status.success());
    let _ = std::fs::remove_dir_all(&state);
}
