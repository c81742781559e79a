//! Properties over many generated values (proptest): the rules hold for every input, not
//! just the examples in `tests`.

use super::*;
use proptest::prelude::*;
use serde_json::json;

const CUSTOMER_ID: &str = "[A-Za-z0-9_.|@:-]{1,128}";
const SKU: &str = "[A-Z0-9][A-Z0-9-]{0,63}";
const EMAIL: &str = "[a-z0-9._%+-]{1,64}@[a-z0-9]{1,20}(\\.[a-z0-9-]{1,20}){1,3}";
const PAYMENT_TOKEN: &str = "tok_[a-z0-9_]{1,64}";
const CURRENCY: &str = "[A-Z]{3}";

fn currency() -> impl Strategy<Value = Currency> {
    CURRENCY.prop_map(|c| Currency::parse(&c).unwrap())
}

fn money() -> impl Strategy<Value = Money> {
    (any::<i64>(), currency()).prop_map(|(amount, currency)| Money::new(amount, currency))
}

/// An amount that is usually small, sometimes at the edges of `i64`.
fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        -1_000_000_i64..1_000_000,
        any::<i64>(),
        Just(i64::MAX),
        Just(i64::MIN)
    ]
}

/// JSON string, `Display` and `FromStr` all give back the same value.
fn round_trips<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize
        + for<'de> Deserialize<'de>
        + fmt::Display
        + std::str::FromStr
        + PartialEq
        + fmt::Debug,
    <T as std::str::FromStr>::Err: fmt::Debug,
{
    let json = serde_json::to_string(value).unwrap();
    prop_assert_eq!(&json, &serde_json::to_string(&value.to_string()).unwrap());
    prop_assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), value);
    prop_assert_eq!(&value.to_string().parse::<T>().unwrap(), value);
    Ok(())
}

fn accepted_by_serde<T: for<'de> Deserialize<'de>>(raw: &str) -> bool {
    serde_json::from_value::<T>(json!(raw)).is_ok()
}

proptest! {
    #[test]
    fn parsing_any_string_never_panics_and_accepts_only_what_the_rules_allow(raw in any::<String>()) {
        if let Ok(id) = CustomerId::parse(&raw) {
            prop_assert_eq!(id.as_str(), raw.as_str());
            prop_assert!((1..=128).contains(&raw.len()));
            prop_assert!(raw.chars().all(|c| c.is_ascii_alphanumeric() || "-_.|@:".contains(c)));
        }
        if let Ok(sku) = Sku::parse(&raw) {
            prop_assert_eq!(sku.as_str(), raw.as_str());
            prop_assert!((1..=64).contains(&raw.len()) && !raw.starts_with('-'));
            prop_assert!(raw.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'));
        }
        if let Ok(email) = Email::parse(&raw) {
            prop_assert_eq!(email.as_str(), raw.as_str());
            prop_assert_eq!(raw.matches('@').count(), 1);
            prop_assert!(raw.len() <= 254 && !raw.chars().any(|c| c.is_whitespace() || c.is_control()));
        }
        if let Ok(token) = PaymentToken::parse(&raw) {
            prop_assert_eq!(token.as_str(), raw.as_str());
            prop_assert!(raw.starts_with("tok_") && (5..=68).contains(&raw.len()));
        }
        if let Ok(currency) = Currency::parse(&raw) {
            prop_assert_eq!(currency.as_str(), raw.as_str());
        }
        if let Ok(id) = OrderId::parse(&raw) {
            prop_assert!(uuid::Uuid::parse_str(&raw).is_ok());
            prop_assert_eq!(id.as_str().len(), 36);
        }
    }

    #[test]
    fn deserializing_accepts_exactly_what_parsing_accepts(raw in any::<String>()) {
        prop_assert_eq!(accepted_by_serde::<CustomerId>(&raw), CustomerId::parse(&raw).is_ok());
        prop_assert_eq!(accepted_by_serde::<Sku>(&raw), Sku::parse(&raw).is_ok());
        prop_assert_eq!(accepted_by_serde::<Email>(&raw), Email::parse(&raw).is_ok());
        prop_assert_eq!(accepted_by_serde::<PaymentToken>(&raw), PaymentToken::parse(&raw).is_ok());
        prop_assert_eq!(accepted_by_serde::<Currency>(&raw), Currency::parse(&raw).is_ok());
        prop_assert_eq!(accepted_by_serde::<OrderId>(&raw), OrderId::parse(&raw).is_ok());
    }

    #[test]
    fn valid_identifiers_round_trip_through_json_display_and_parse(
        customer in CUSTOMER_ID, sku in SKU, email in EMAIL, token in PAYMENT_TOKEN,
    ) {
        round_trips(&CustomerId::parse(&customer).unwrap())?;
        round_trips(&Sku::parse(&sku).unwrap())?;
        round_trips(&Email::parse(&email).unwrap())?;
        round_trips(&PaymentToken::parse(&token).unwrap())?;
    }

    #[test]
    fn an_order_id_of_any_uuid_spelling_parses_to_one_canonical_form(bits in any::<u128>()) {
        let uuid = uuid::Uuid::from_u128(bits);
        let id = OrderId::from_uuid(uuid);
        round_trips(&id)?;
        let spellings = [
            uuid.hyphenated().to_string().to_uppercase(),
            uuid.simple().to_string(),
            uuid.braced().to_string(),
            uuid.urn().to_string(),
        ];
        for spelling in spellings {
            prop_assert_eq!(&OrderId::parse(&spelling).unwrap(), &id);
        }
    }

    #[test]
    fn a_currency_is_exactly_three_upper_case_ascii_letters(raw in any::<String>(), code in CURRENCY) {
        let three_upper = raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase());
        prop_assert_eq!(Currency::parse(&raw).is_ok(), three_upper);
        let currency = Currency::parse(&code).unwrap();
        prop_assert_eq!(currency.as_str(), code.as_str());
        let json = serde_json::to_string(&currency).unwrap();
        prop_assert_eq!(serde_json::from_str::<Currency>(&json).unwrap(), currency);
    }

    #[test]
    fn identifiers_too_long_or_with_a_foreign_character_are_refused(
        customer in CUSTOMER_ID, sku in SKU, token in PAYMENT_TOKEN,
        foreign in "[ /#\\\\\"'<>\n\t\u{0}é€]", at in any::<prop::sample::Index>(),
        extra in 1_usize..200,
    ) {
        let insert = |s: &str| {
            let mut s = s.to_owned();
            s.insert_str(at.index(s.len() + 1), &foreign);
            s
        };
        prop_assert!(CustomerId::parse(&insert(&customer)).is_err());
        prop_assert!(CustomerId::parse(&"c".repeat(128 + extra)).is_err());
        prop_assert!(Sku::parse(&insert(&sku)).is_err());
        prop_assert!(Sku::parse(&sku.to_lowercase()).is_err() || sku.to_lowercase() == sku);
        let dashed = format!("-{sku}");
        prop_assert!(Sku::parse(&dashed).is_err());
        prop_assert!(Sku::parse(&"S".repeat(64 + extra)).is_err());
        prop_assert!(PaymentToken::parse(&insert(&token)).is_err());
        let bare = &token["tok_".len()..];
        prop_assert!(PaymentToken::parse(bare).is_err() || bare.starts_with("tok_"));
        prop_assert!(PaymentToken::parse(&token.to_uppercase()).is_err());
        let long_token = format!("tok_{}", "a".repeat(64 + extra));
        prop_assert!(PaymentToken::parse(&long_token).is_err());
    }

    #[test]
    fn an_email_without_one_at_sign_a_local_part_or_a_dotted_domain_is_refused(
        email in EMAIL, blank in "[ \t\n\r\u{0}\u{7f}\u{a0}]", at in any::<prop::sample::Index>(),
        extra in 1_usize..200,
    ) {
        let (local, domain) = email.split_once('@').unwrap();
        let mut spaced = email.clone();
        spaced.insert_str(at.index(email.len() + 1), &blank);
        for bad in [
            format!("{local}{domain}"),
            format!("@{domain}"),
            format!("{local}@"),
            format!("{local}@{}", domain.replace('.', "")),
            format!("{local}@.{domain}"),
            format!("{local}@{domain}."),
            format!("{local}@{}", domain.replacen('.', "..", 1)),
            format!("{email}@{domain}"),
            format!("{}@{domain}", "l".repeat(64 + extra)),
            format!("{local}@{}.com", "d".repeat(254 + extra)),
            spaced,
        ] {
            prop_assert!(Email::parse(&bad).is_err(), "{:?} should be refused", bad);
        }
    }

    #[test]
    fn a_quantity_is_accepted_from_one_to_one_hundred_and_nothing_else(n in any::<u32>(), wide in any::<i64>()) {
        let in_range = (1..=100).contains(&n);
        prop_assert_eq!(Quantity::new(n).is_ok(), in_range);
        prop_assert_eq!(serde_json::from_str::<Quantity>(&n.to_string()).is_ok(), in_range);
        prop_assert_eq!(
            serde_json::from_str::<Quantity>(&wide.to_string()).is_ok(),
            (1..=100).contains(&wide)
        );
        if let Ok(q) = Quantity::new(n) {
            prop_assert_eq!(q.get(), n);
            prop_assert_eq!(serde_json::to_string(&q).unwrap(), n.to_string());
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output(email in EMAIL, token in PAYMENT_TOKEN) {
        let email = Email::parse(&email).unwrap();
        let token = PaymentToken::parse(&token).unwrap();
        prop_assert_eq!(format!("{email:?}"), "Email(<redacted>)");
        prop_assert_eq!(format!("{token:?}"), "PaymentToken(<redacted>)");
        let nested = format!("{:#?}", (Some(&email), vec![&token]));
        prop_assert!(!nested.contains(email.as_str()) && !nested.contains(token.as_str()));
    }

    #[test]
    fn multiplying_money_is_exact_or_an_overflow_error(amount in amount(), n in any::<u32>(), currency in currency()) {
        let exact = i128::from(amount) * i128::from(n);
        match Money::new(amount, currency).times(n) {
            Ok(product) => {
                prop_assert_eq!(i128::from(product.amount), exact);
                prop_assert_eq!(product.currency, currency);
            }
            Err(e) => {
                prop_assert_eq!(e, DomainError::AmountOverflow);
                prop_assert!(i64::try_from(exact).is_err());
            }
        }
    }

    #[test]
    fn adding_money_is_exact_commutative_or_an_overflow_error(a in amount(), b in amount(), currency in currency()) {
        let (x, y) = (Money::new(a, currency), Money::new(b, currency));
        let exact = i128::from(a) + i128::from(b);
        prop_assert_eq!(x.plus(y), y.plus(x));
        match x.plus(y) {
            Ok(sum) => {
                prop_assert_eq!(i128::from(sum.amount), exact);
                prop_assert_eq!(sum.currency, currency);
            }
            Err(e) => {
                prop_assert_eq!(e, DomainError::AmountOverflow);
                prop_assert!(i64::try_from(exact).is_err());
            }
        }
        prop_assert_eq!(x.plus(Money::zero(currency)), Ok(x));
    }

    #[test]
    fn adding_money_is_associative_when_no_step_overflows(a in amount(), b in amount(), c in amount()) {
        let m = |amount| Money::new(amount, Currency::EUR);
        let left = m(a).plus(m(b)).and_then(|ab| ab.plus(m(c)));
        let right = m(b).plus(m(c)).and_then(|bc| m(a).plus(bc));
        if let (Ok(left), Ok(right)) = (left, right) {
            prop_assert_eq!(left, right);
        }
    }

    #[test]
    fn multiplying_money_equals_adding_it_that_many_times(amount in amount(), n in 0_u32..20) {
        let price = Money::new(amount, Currency::EUR);
        let mut sum = Ok(Money::zero(Currency::EUR));
        for _ in 0..n {
            sum = sum.and_then(|s| s.plus(price));
        }
        if let Ok(sum) = sum {
            prop_assert_eq!(price.times(n), Ok(sum));
        }
        prop_assert_eq!(price.times(0), Ok(Money::zero(Currency::EUR)));
        prop_assert_eq!(price.times(1), Ok(price));
    }

    #[test]
    fn money_in_different_currencies_never_adds_whatever_the_amounts(x in money(), y in money()) {
        prop_assume!(x.currency != y.currency);
        prop_assert_eq!(
            x.plus(y),
            Err(DomainError::CurrencyMismatch { expected: x.currency, found: y.currency })
        );
    }

    #[test]
    fn money_round_trips_through_json_and_displays_its_exact_amount(money in money()) {
        let json = serde_json::to_string(&money).unwrap();
        prop_assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            json!({"amount": money.amount, "currency": money.currency.as_str()})
        );
        prop_assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), money);

        let shown = money.to_string();
        let (number, code) = shown.split_once(' ').unwrap();
        prop_assert_eq!(code, money.currency.as_str());
        let (units, cents) = number.trim_start_matches('-').split_once('.').unwrap();
        prop_assert_eq!(cents.len(), 2);
        let magnitude = units.parse::<i128>().unwrap() * 100 + cents.parse::<i128>().unwrap();
        let sign = if number.starts_with('-') { -1 } else { 1 };
        prop_assert_eq!(sign * magnitude, i128::from(money.amount));
    }
}
