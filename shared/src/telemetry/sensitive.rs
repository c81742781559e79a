//! The scan the end-to-end tests and `orderflow chaos` run over every captured log line:
//! nothing a customer would not want logged (an e-mail address, a payment token) may appear.

/// What a log line must never carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitive {
    Email,
    PaymentToken,
}

/// The first e-mail address or payment token (`tok_…`) in `line`, if any: the scan the
/// end-to-end tests and `orderflow chaos` run over every captured log line.
pub fn find_sensitive(line: &str) -> Option<(Sensitive, String)> {
    let bytes = line.as_bytes();
    let token_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    let mut from = 0;
    while let Some(at) = line[from..].find("tok_").map(|i| i + from) {
        let starts_word = at == 0 || !bytes[at - 1].is_ascii_alphanumeric();
        let end = at
            + 4
            + bytes[at + 4..]
                .iter()
                .take_while(|b| token_char(**b))
                .count();
        if starts_word && end > at + 4 {
            return Some((Sensitive::PaymentToken, line[at..end].to_owned()));
        }
        from = at + 4;
    }
    let local_char = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let domain_char = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    for (at, _) in line.match_indices('@') {
        let start = at
            - bytes[..at]
                .iter()
                .rev()
                .take_while(|b| local_char(**b))
                .count();
        let end = at
            + 1
            + bytes[at + 1..]
                .iter()
                .take_while(|b| domain_char(**b))
                .count();
        let domain = line[at + 1..end].trim_end_matches('.');
        let has_tld = domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())
        });
        if start < at && has_tld {
            return Some((
                Sensitive::Email,
                line[start..at + 1 + domain.len()].to_owned(),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_finds_an_email_or_a_payment_token_anywhere_in_a_line() {
        assert_eq!(
            find_sensitive(r#"{"message":"sent","to":"ada@example.com"}"#),
            Some((Sensitive::Email, "ada@example.com".into()))
        );
        assert_eq!(
            find_sensitive("charging tok_visa_4242 now"),
            Some((Sensitive::PaymentToken, "tok_visa_4242".into()))
        );
        assert_eq!(
            find_sensitive(r#"token="tok_declined""#),
            Some((Sensitive::PaymentToken, "tok_declined".into()))
        );
    }

    #[test]
    fn the_scan_leaves_redacted_values_rules_and_arns_alone() {
        for clean in [
            r#"{"email":"Email(<redacted>)","token":"PaymentToken(<redacted>)"}"#,
            "paymentToken must match ^tok_[a-z0-9_]{1,64}$",
            "arn:aws:sqs:us-east-1:123456789012:orderflow-local-InventoryQueue",
            "user@localhost has no domain",
            "a stock_level field",
            "",
        ] {
            assert_eq!(find_sensitive(clean), None, "{clean}");
        }
    }
}
