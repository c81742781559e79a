//! A verified token's claims in the form API Gateway hands them to the function
//! (`requestContext.authorizer.jwt.claims`): every value a string — numbers and booleans as
//! their text, arrays as `[a b]` (space separated, as measured on AWS, e.g. `cognito:groups`),
//! objects as JSON text, null claims left out — and the token's scopes.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub fn render(claims: &Map<String, Value>) -> BTreeMap<String, String> {
    claims
        .iter()
        .filter_map(|(name, value)| Some((name.clone(), text(value)?)))
        .collect()
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => Some(format!(
            "[{}]",
            items.iter().filter_map(text).collect::<Vec<_>>().join(" ")
        )),
        Value::Object(_) => Some(value.to_string()),
    }
}

/// The token's scopes: `scope` (space separated, OAuth's form), or else `scp` (a string or a
/// list, as some providers write it).
pub fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect();
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => words(s),
        (_, Some(Value::String(s))) => words(s),
        (_, Some(Value::Array(items))) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn every_claim_becomes_a_string_and_null_ones_are_left_out() {
        let rendered = render(&object(json!({
            "sub": "cust-1", "exp": 1800000000, "email_verified": true,
            "cognito:groups": ["admin", "buyers"], "address": {"country": "FR"},
            "nickname": null,
        })));
        assert_eq!(rendered["sub"], "cust-1");
        assert_eq!(rendered["exp"], "1800000000");
        assert_eq!(rendered["email_verified"], "true");
        assert_eq!(rendered["cognito:groups"], "[admin buyers]");
        assert_eq!(rendered["address"], r#"{"country":"FR"}"#);
        assert!(!rendered.contains_key("nickname"));
    }

    #[test]
    fn scopes_come_from_scope_or_else_scp_in_either_form() {
        assert_eq!(
            scopes(&object(json!({"scope": "openid orderflow/orders"}))),
            ["openid", "orderflow/orders"]
        );
        assert_eq!(scopes(&object(json!({"scp": "a b"}))), ["a", "b"]);
        assert_eq!(scopes(&object(json!({"scp": ["a", "b"]}))), ["a", "b"]);
        assert!(scopes(&object(json!({"sub": "x"}))).is_empty());
    }
}
