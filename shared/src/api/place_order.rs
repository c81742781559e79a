//! A `POST /orders` body read into typed values: every field problem is collected (not just the
//! first), each addressed by its path (`items[2].quantity`).

use serde::Serialize;
use serde_json::{Map, Value};

use super::json;
use super::MAX_LINES;
use crate::domain::{CustomerId, Email, PaymentToken, Quantity, Sku};

/// A `POST /orders` body once every field has been parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrderRequest {
    pub customer_id: CustomerId,
    pub email: Email,
    pub items: Vec<RequestedLine>,
    pub payment_token: PaymentToken,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

/// One problem with one field, addressed like `items[2].quantity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldIssue {
    pub field: String,
    pub message: String,
}

fn issue(field: impl Into<String>, message: impl Into<String>) -> FieldIssue {
    FieldIssue {
        field: field.into(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The body is not JSON at all.
    Malformed(String),
    /// JSON, but some fields are missing or invalid: every problem is listed.
    Invalid(Vec<FieldIssue>),
}

const TOP_FIELDS: [&str; 4] = ["customerId", "email", "items", "paymentToken"];
const ITEM_FIELDS: [&str; 2] = ["sku", "quantity"];

/// Parses a `POST /orders` body, collecting every field problem rather than stopping at the first.
pub fn parse_place_order(body: &[u8]) -> Result<PlaceOrderRequest, RequestError> {
    parse_place_order_for(body, None)
}

/// Parses a `POST /orders` body sent on behalf of `caller` (the token's customer): the body may
/// leave `customerId` out, and is then the caller's. One it does name is parsed as usual; the
/// handler refuses it when it is someone else.
pub fn parse_place_order_for(
    body: &[u8],
    caller: Option<&CustomerId>,
) -> Result<PlaceOrderRequest, RequestError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| RequestError::Malformed(format!("body is not valid JSON: {e}")))?;
    // A proxy or WAF in front may read the first of two members with one name, serde the last:
    // refuse the ambiguity instead of guessing.
    let duplicates = json::duplicate_members(body);
    if !duplicates.is_empty() {
        return Err(RequestError::Invalid(
            duplicates
                .into_iter()
                .map(|path| issue(path, "is given more than once; send each member once"))
                .collect(),
        ));
    }
    if let (Some(caller), Value::Object(obj)) = (caller, &mut value) {
        if !obj.contains_key("customerId") {
            obj.insert(
                "customerId".into(),
                Value::String(caller.as_str().to_owned()),
            );
        }
    }
    let Value::Object(obj) = value else {
        return Err(RequestError::Invalid(vec![issue(
            "",
            format!("expected a JSON object, found {}", kind(&value)),
        )]));
    };
    let mut issues = unknown_fields(&obj, &TOP_FIELDS, "");

    let customer_id = string_field(&obj, "customerId", &mut issues)
        .and_then(|s| collect(CustomerId::parse(s), "customerId", &mut issues));
    let email = string_field(&obj, "email", &mut issues)
        .and_then(|s| collect(Email::parse(s), "email", &mut issues));
    let payment_token = string_field(&obj, "paymentToken", &mut issues)
        .and_then(|s| collect(PaymentToken::parse(s), "paymentToken", &mut issues));
    let items = parse_items(obj.get("items"), &mut issues);

    match (customer_id, email, items, payment_token) {
        (Some(customer_id), Some(email), Some(items), Some(payment_token)) if issues.is_empty() => {
            Ok(PlaceOrderRequest {
                customer_id,
                email,
                items,
                payment_token,
            })
        }
        _ => Err(RequestError::Invalid(issues)),
    }
}

fn parse_items(value: Option<&Value>, issues: &mut Vec<FieldIssue>) -> Option<Vec<RequestedLine>> {
    let items = item_list(value, issues)?;
    let before = issues.len();
    let mut lines: Vec<RequestedLine> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("items[{i}]");
        let Some(line) = parse_line(&path, item, issues) else {
            continue;
        };
        if lines.iter().any(|l| l.sku == line.sku) {
            issues.push(issue(
                format!("{path}.sku"),
                format!(
                    "duplicate SKU {}: put all units of one SKU on one line",
                    line.sku
                ),
            ));
        } else {
            lines.push(line);
        }
    }
    (issues.len() == before).then_some(lines)
}

/// `items`: an array of 1 to [`MAX_LINES`] entries.
fn item_list<'a>(value: Option<&'a Value>, issues: &mut Vec<FieldIssue>) -> Option<&'a [Value]> {
    let problem = match value {
        None | Some(Value::Null) => "is required".to_owned(),
        Some(Value::Array(items)) if items.is_empty() => {
            "must contain at least one line".to_owned()
        }
        Some(Value::Array(items)) if items.len() > MAX_LINES => format!(
            "must contain at most {MAX_LINES} lines, found {}",
            items.len()
        ),
        Some(Value::Array(items)) => return Some(items.as_slice()),
        Some(other) => format!("must be an array, found {}", kind(other)),
    };
    issues.push(issue("items", problem));
    None
}

/// One entry of `items` at `path`: an object with a valid `sku` and `quantity`.
fn parse_line(path: &str, item: &Value, issues: &mut Vec<FieldIssue>) -> Option<RequestedLine> {
    let Value::Object(obj) = item else {
        issues.push(issue(
            path,
            format!("must be an object, found {}", kind(item)),
        ));
        return None;
    };
    issues.extend(unknown_fields(obj, &ITEM_FIELDS, path));
    let sku_path = format!("{path}.sku");
    let sku = string_member(obj, "sku", &sku_path, issues)
        .and_then(|s| collect(Sku::parse(s), &sku_path, issues));
    let quantity = quantity_member(obj, &format!("{path}.quantity"), issues);
    Some(RequestedLine {
        sku: sku?,
        quantity: quantity?,
    })
}

/// `quantity`: a whole number a [`Quantity`] accepts.
fn quantity_member(
    obj: &Map<String, Value>,
    path: &str,
    issues: &mut Vec<FieldIssue>,
) -> Option<Quantity> {
    match obj.get("quantity") {
        Some(Value::Number(n)) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => collect(Quantity::new(n), path, issues),
            None => {
                issues.push(issue(path, "must be an integer from 1 to 100"));
                None
            }
        },
        None | Some(Value::Null) => {
            issues.push(issue(path, "is required"));
            None
        }
        Some(other) => {
            issues.push(issue(
                path,
                format!("must be an integer, found {}", kind(other)),
            ));
            None
        }
    }
}

fn string_field<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    issues: &mut Vec<FieldIssue>,
) -> Option<&'a str> {
    string_member(obj, name, name, issues)
}

/// Member `name` of `obj`, addressed as `path`: a string.
fn string_member<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
    path: &str,
    issues: &mut Vec<FieldIssue>,
) -> Option<&'a str> {
    match obj.get(name) {
        Some(Value::String(s)) => Some(s),
        None | Some(Value::Null) => {
            issues.push(issue(path, "is required"));
            None
        }
        Some(other) => {
            issues.push(issue(
                path,
                format!("must be a string, found {}", kind(other)),
            ));
            None
        }
    }
}

fn collect<T>(
    parsed: Result<T, crate::domain::DomainError>,
    field: &str,
    issues: &mut Vec<FieldIssue>,
) -> Option<T> {
    parsed
        .map_err(|e| issues.push(issue(field, message_of(&e))))
        .ok()
}

fn message_of(e: &crate::domain::DomainError) -> String {
    match e {
        crate::domain::DomainError::Invalid { message, .. } => (*message).to_owned(),
        other => other.to_string(),
    }
}

fn unknown_fields(obj: &Map<String, Value>, known: &[&str], path: &str) -> Vec<FieldIssue> {
    obj.keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| {
            let field = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            issue(
                field,
                format!("unknown field; expected one of: {}", known.join(", ")),
            )
        })
        .collect()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<PlaceOrderRequest, RequestError> {
        parse_place_order(v.to_string().as_bytes())
    }

    fn fields(r: Result<PlaceOrderRequest, RequestError>) -> Vec<String> {
        match r {
            Err(RequestError::Invalid(issues)) => issues.into_iter().map(|i| i.field).collect(),
            other => panic!("expected field issues, got {other:?}"),
        }
    }

    fn valid() -> Value {
        json!({"customerId": "cust-1", "email": "ana@example.com",
               "items": [{"sku": "SKU-MUG", "quantity": 2}], "paymentToken": "tok_visa"})
    }

    #[test]
    fn a_valid_body_parses_into_typed_values() {
        let req = parse(valid()).unwrap();
        assert_eq!(req.customer_id.as_str(), "cust-1");
        assert_eq!(req.items[0].quantity.get(), 2);
    }

    #[test]
    fn every_invalid_field_is_reported_not_just_the_first() {
        let body = json!({"customerId": 7, "email": "nope", "items": [{"sku": "bad sku", "quantity": 0}],
                          "paymentToken": "4111111111111111", "price": 1});
        let mut got = fields(parse(body));
        got.sort();
        assert_eq!(
            got,
            [
                "customerId",
                "email",
                "items[0].quantity",
                "items[0].sku",
                "paymentToken",
                "price"
            ]
        );
    }

    #[test]
    fn missing_fields_are_each_required() {
        let mut got = fields(parse(json!({})));
        got.sort();
        assert_eq!(got, ["customerId", "email", "items", "paymentToken"]);
    }

    #[test]
    fn quantities_must_be_whole_numbers_in_range() {
        for q in [
            json!(0),
            json!(101),
            json!(1.5),
            json!(-1),
            json!("2"),
            json!(null),
            json!(1e10),
        ] {
            let mut body = valid();
            body["items"][0]["quantity"] = q.clone();
            assert_eq!(fields(parse(body)), ["items[0].quantity"], "quantity {q}");
        }
    }

    #[test]
    fn duplicate_skus_empty_items_and_too_many_lines_are_refused() {
        let mut dup = valid();
        dup["items"] =
            json!([{"sku": "SKU-MUG", "quantity": 1}, {"sku": "SKU-MUG", "quantity": 2}]);
        assert_eq!(fields(parse(dup)), ["items[1].sku"]);
        let mut empty = valid();
        empty["items"] = json!([]);
        assert_eq!(fields(parse(empty)), ["items"]);
        let mut many = valid();
        many["items"] = Value::Array(
            (0..51)
                .map(|i| json!({"sku": format!("SKU-{i}"), "quantity": 1}))
                .collect(),
        );
        assert_eq!(fields(parse(many)), ["items"]);
        let mut fifty = valid();
        fifty["items"] = Value::Array(
            (0..50)
                .map(|i| json!({"sku": format!("SKU-{i}"), "quantity": 1}))
                .collect(),
        );
        assert!(parse(fifty).is_ok());
    }

    #[test]
    fn non_json_and_non_object_bodies_are_refused_clearly() {
        assert!(
            matches!(parse_place_order(b"{\"customerId\":"), Err(RequestError::Malformed(m)) if m.contains("line 1"))
        );
        assert!(matches!(
            parse_place_order(b""),
            Err(RequestError::Malformed(_))
        ));
        assert!(matches!(
            parse_place_order(&[0xff, 0xfe]),
            Err(RequestError::Malformed(_))
        ));
        assert_eq!(fields(parse(json!([1, 2]))), [""]);
    }

    #[test]
    fn a_body_sent_for_a_token_customer_may_leave_the_customer_out_and_is_theirs() {
        let caller = CustomerId::parse("cust-sub").unwrap();
        let body = br#"{"email":"a@example.com","items":[{"sku":"SKU-MUG","quantity":1}],"paymentToken":"tok_visa"}"#;
        let parsed = parse_place_order_for(body, Some(&caller)).unwrap();
        assert_eq!(parsed.customer_id, caller);
        // Without a caller the field is still required.
        let Err(RequestError::Invalid(issues)) = parse_place_order(body) else {
            panic!("customerId is required on an open API")
        };
        assert_eq!(issues[0].field, "customerId");
        // A body that names a customer keeps it (the handler compares it with the caller).
        let named = br#"{"customerId":"cust-other","email":"a@example.com","items":[{"sku":"SKU-MUG","quantity":1}],"paymentToken":"tok_visa"}"#;
        let parsed = parse_place_order_for(named, Some(&caller)).unwrap();
        assert_eq!(parsed.customer_id.as_str(), "cust-other");
    }

    #[test]
    fn a_member_given_twice_is_refused_naming_it_at_any_depth() {
        let body = br#"{"customerId":"c","email":"a@example.com","email":"b@example.com",
            "items":[{"sku":"SKU-MUG","quantity":1,"quantity":9}],"paymentToken":"tok_visa"}"#;
        assert_eq!(
            fields(parse_place_order(body)),
            ["email", "items[0].quantity"]
        );
        // Names are compared as JSON reads them: an escape does not make another member.
        let escaped = br#"{"customerId":"c","email":"a@example.com","\u0065mail":"b@example.com",
            "items":[{"sku":"SKU-MUG","quantity":1}],"paymentToken":"tok_visa"}"#;
        assert_eq!(fields(parse_place_order(escaped)), ["email"]);
        // Even inside a member that is unknown anyway.
        let nested = br#"{"customerId":"c","email":"a@example.com","x":{"y":[{"z":1,"z":2}]},
            "items":[{"sku":"SKU-MUG","quantity":1}],"paymentToken":"tok_visa"}"#;
        assert_eq!(fields(parse_place_order(nested)), ["x.y[0].z"]);
    }
}
