//! Examples of every value's rules.

use super::*;

#[test]
fn order_id_is_normalised_to_lower_case_hyphenated_uuid() {
    let id = OrderId::parse("9F1C2A52-4B38-4E59-9D53-3C8A1C5A8F00").unwrap();
    assert_eq!(id.as_str(), "9f1c2a52-4b38-4e59-9d53-3c8a1c5a8f00");
    assert!(OrderId::parse("not-a-uuid").is_err());
    assert!(OrderId::parse(OrderId::new().as_str()).is_ok());
}

#[test]
fn sku_accepts_upper_case_letters_digits_and_dashes_only() {
    assert!(Sku::parse("SKU-TSHIRT-M").is_ok());
    for bad in [
        "",
        "sku-lower",
        "SKU TSHIRT",
        "-SKU",
        &"A".repeat(65),
        "SKU_1",
    ] {
        assert!(Sku::parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn quantity_accepts_one_to_one_hundred() {
    assert!(Quantity::new(0).is_err());
    assert_eq!(Quantity::new(1).unwrap().get(), 1);
    assert_eq!(Quantity::new(100).unwrap().get(), 100);
    assert!(Quantity::new(101).is_err());
    assert!(serde_json::from_str::<Quantity>("101").is_err());
    assert!(serde_json::from_str::<Quantity>("1.5").is_err());
    assert!(serde_json::from_str::<Quantity>("-1").is_err());
}

#[test]
fn payment_token_must_match_the_token_pattern() {
    assert!(PaymentToken::parse("tok_visa").is_ok());
    assert!(PaymentToken::parse(&format!("tok_{}", "a".repeat(64))).is_ok());
    for bad in [
        "tok_",
        "visa",
        "tok_Visa",
        "tok_visa-1",
        "4111111111111111",
        &format!("tok_{}", "a".repeat(65)),
    ] {
        assert!(
            PaymentToken::parse(bad).is_err(),
            "{bad:?} should be refused"
        );
    }
}

#[test]
fn email_needs_a_local_part_and_a_dotted_domain() {
    assert!(Email::parse("ana@example.com").is_ok());
    for bad in [
        "",
        "ana",
        "ana@",
        "@example.com",
        "ana@example",
        "a b@example.com",
        "ana@example..com",
        "a@b@c.com",
    ] {
        assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn secrets_and_personal_data_are_redacted_in_debug_output() {
    let email = Email::parse("ana@example.com").unwrap();
    let token = PaymentToken::parse("tok_visa").unwrap();
    assert!(!format!("{email:?}").contains("ana"));
    assert!(!format!("{token:?}").contains("visa"));
}

#[test]
fn customer_id_refuses_empty_long_and_odd_characters() {
    assert!(CustomerId::parse("cust-42").is_ok());
    assert!(CustomerId::parse("").is_err());
    assert!(CustomerId::parse(&"c".repeat(129)).is_err());
    assert!(CustomerId::parse("cust 42").is_err());
    assert!(CustomerId::parse("cust/42").is_err());
}

#[test]
fn money_adds_and_multiplies_exactly_and_refuses_overflow_and_mixed_currencies() {
    let eur = Currency::EUR;
    let usd = Currency::parse("USD").unwrap();
    let price = Money::new(1999, eur);
    assert_eq!(price.times(3).unwrap(), Money::new(5997, eur));
    assert_eq!(
        price.plus(Money::new(1, eur)).unwrap(),
        Money::new(2000, eur)
    );
    assert!(matches!(
        price.plus(Money::new(1, usd)),
        Err(DomainError::CurrencyMismatch { .. })
    ));
    assert_eq!(
        Money::new(i64::MAX, eur).times(2),
        Err(DomainError::AmountOverflow)
    );
    assert_eq!(
        Money::new(i64::MAX, eur).plus(price),
        Err(DomainError::AmountOverflow)
    );
    assert_eq!(price.to_string(), "19.99 EUR");
}

#[test]
fn money_round_trips_as_integer_minor_units_and_currency() {
    let json = serde_json::to_string(&Money::new(1999, Currency::EUR)).unwrap();
    assert_eq!(json, r#"{"amount":1999,"currency":"EUR"}"#);
    assert!(serde_json::from_str::<Money>(r#"{"amount":19.99,"currency":"EUR"}"#).is_err());
    assert!(serde_json::from_str::<Money>(r#"{"amount":1999,"currency":"eur"}"#).is_err());
}
