//! What the console sends never holds a payment token or an e-mail address in full: every
//! JSON answer goes through [`json`] before it leaves the server, so a new field or a log line
//! quoting a body cannot leak one.

use serde_json::Value;

/// Fields that hold a payment token or an e-mail address whatever their text looks like.
const EMAIL_KEYS: [&str; 2] = ["email", "emailAddress"];
const TOKEN_KEYS: [&str; 2] = ["paymentToken", "payment_token"];

/// `ana@example.com` → `a•••@example.com`.
pub fn email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_owned(),
    }
}

/// `tok_gateway_error` → `tok_…or`: the kind of token shows, never the whole of it.
pub fn token(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let head: String = chars.iter().take(4).collect();
    if chars.len() <= 8 {
        return format!("{head}…");
    }
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail}")
}

/// Free text with every word that looks like an e-mail address or a payment token masked.
pub fn text(s: &str) -> String {
    if !s.contains('@') && !s.contains("tok_") {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    for c in s.chars() {
        if is_word_char(c) {
            word.push(c);
        } else {
            out.push_str(&masked_word(&word));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(&masked_word(&word));
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '@' | '.' | '_' | '-' | '+')
}

fn masked_word(word: &str) -> String {
    if let Some(at) = word.find("tok_") {
        return format!("{}{}", &word[..at], token(&word[at..]));
    }
    let trimmed = word.trim_end_matches('.');
    if trimmed.contains('@') && trimmed.len() > 2 {
        return format!("{}{}", email(trimmed), &word[trimmed.len()..]);
    }
    word.to_owned()
}

/// Masks a JSON value in place: the named fields, and any string that holds one (a message
/// body is JSON inside a string: it is masked as text).
pub fn json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if EMAIL_KEYS.contains(&key.as_str()) => *s = email(s),
                    Value::String(s) if TOKEN_KEYS.contains(&key.as_str()) => *s = token(s),
                    other => json(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::String(s) => *s = text(s),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_email_address_keeps_its_first_letter_and_its_domain_only() {
        assert_eq!(email("ana@example.com"), "a•••@example.com");
        assert_eq!(email("not an address"), "•••");
    }

    #[test]
    fn a_payment_token_keeps_its_kind_and_never_its_whole_text() {
        assert_eq!(token("tok_gateway_error"), "tok_…or");
        assert_eq!(token("tok_visa"), "tok_…");
        assert_ne!(token("tok_declined"), "tok_declined");
    }

    #[test]
    fn free_text_is_masked_word_by_word() {
        assert_eq!(
            text("charge for ana@example.com with tok_declined failed."),
            "charge for a•••@example.com with tok_…ed failed."
        );
        assert_eq!(text("nothing to hide here"), "nothing to hide here");
    }

    #[test]
    fn json_fields_and_bodies_inside_strings_are_masked_everywhere() {
        let mut v = json!({
            "email": "ana@example.com",
            "order": {"paymentToken": "tok_visa", "items": [{"note": "bob@example.org"}]},
            "body": "{\"email\":\"cy@example.net\",\"paymentToken\":\"tok_gateway_error\"}"
        });
        json(&mut v);
        let out = v.to_string();
        for secret in [
            "ana@example.com",
            "tok_visa",
            "bob@example.org",
            "cy@example.net",
            "tok_gateway_error",
        ] {
            assert!(!out.contains(secret), "{secret} leaked: {out}");
        }
        assert_eq!(v["email"], "a•••@example.com");
        assert_eq!(v["order"]["paymentToken"], "tok_…");
    }
}
