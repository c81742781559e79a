//! `orderflow local token` end to end: the token it prints for a customer is one the issuer of
//! its state folder accepts, naming that customer (the end-to-end tests sign their own tokens
//! through the harness, so this is the command's own check).

use std::process::Command;

use orderflow::local::auth::LocalIssuer;
use orderflow::local::{LOCAL_AUDIENCE, LOCAL_ISSUER};

use crate::support::orderflow_binary;

#[test]
fn the_token_command_prints_a_token_its_issuer_accepts_for_that_customer() {
    let state = std::env::temp_dir().join(format!("orderflow-token-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&state).unwrap();
    let issuer = LocalIssuer::generate(LOCAL_ISSUER, LOCAL_AUDIENCE);
    issuer.save(&state).unwrap();
    let token = |customer: &str| {
        Command::new(orderflow_binary())
            .args(["local", "token", customer, "--state-dir"])
            .arg(&state)
            .output()
            .unwrap()
    };

    let out = token("cust-42");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let claims = issuer
        .verify(
            Some(&format!("Bearer {}", printed.trim())),
            chrono::Utc::now().timestamp(),
        )
        .unwrap();
    assert_eq!(claims["sub"], "cust-42");

    let refused = token("not a customer id");
    assert!(!refused.status.success());
    let _ = std::fs::remove_dir_all(&state);
}
