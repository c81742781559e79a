//! The envelope and the catalogue: round trips, versions, malformed events.

use super::*;
use crate::domain::Currency;

fn order_id() -> OrderId {
    OrderId::parse("0b9a8f1e-3c1d-4a57-9a44-1f1f7b7c2d10").unwrap()
}

fn line() -> OrderLine {
    OrderLine {
        sku: Sku::parse("SKU-MUG").unwrap(),
        quantity: Quantity::new(2).unwrap(),
        unit_price: Money::new(1250, Currency::EUR),
    }
}

fn every_event() -> Vec<DomainEvent> {
    let customer_id = CustomerId::parse("cust-1").unwrap();
    let email = Email::parse("ana@example.com").unwrap();
    let total = Money::new(2500, Currency::EUR);
    let token = PaymentToken::parse("tok_visa").unwrap();
    vec![
        DomainEvent::OrderPlaced(OrderPlaced {
            order_id: order_id(),
            customer_id: customer_id.clone(),
            email: email.clone(),
            lines: vec![line()],
            total,
            payment_token: token.clone(),
        }),
        DomainEvent::InventoryReserved(InventoryReserved {
            order_id: order_id(),
            customer_id: customer_id.clone(),
            email: email.clone(),
            lines: vec![line()],
            total,
            payment_token: token,
        }),
        DomainEvent::InventoryRejected(InventoryRejected {
            order_id: order_id(),
            customer_id: customer_id.clone(),
            email: email.clone(),
            shortages: vec![Shortage {
                sku: Sku::parse("SKU-MUG").unwrap(),
                requested: Quantity::new(2).unwrap(),
                available: 1,
            }],
        }),
        DomainEvent::PaymentSucceeded(PaymentSucceeded {
            order_id: order_id(),
            customer_id: customer_id.clone(),
            email: email.clone(),
            total,
            charge_id: "ch_1".into(),
        }),
        DomainEvent::PaymentFailed(PaymentFailed {
            order_id: order_id(),
            customer_id: customer_id.clone(),
            email: email.clone(),
            total,
            reason: "card declined".into(),
        }),
        DomainEvent::InventoryReleased(InventoryReleased {
            order_id: order_id(),
            customer_id: customer_id.clone(),
            email: email.clone(),
            lines: vec![line()],
        }),
        DomainEvent::ReservationExpired(ReservationExpired {
            order_id: order_id(),
            customer_id,
            email,
            total,
            reserved_at: "2026-11-24T10:00:00Z".parse().unwrap(),
        }),
    ]
}

#[test]
fn every_event_type_round_trips_through_its_envelope() {
    let events = every_event();
    assert_eq!(events.len(), EventType::ALL.len());
    for event in events {
        let envelope = Envelope::new(event, Some("cause-1"));
        let json = envelope.to_json().unwrap();
        let back = Envelope::from_json(&json).unwrap();
        assert_eq!(back, envelope);
        assert_eq!(back.metadata.correlation_id, order_id());
    }
}

#[test]
fn the_envelope_has_the_documented_shape() {
    let envelope = Envelope::new(every_event().remove(0), None);
    let v: serde_json::Value = serde_json::from_str(&envelope.to_json().unwrap()).unwrap();
    let m = &v["metadata"];
    assert_eq!(m["type"], "OrderPlaced");
    assert_eq!(m["version"], 1);
    assert_eq!(m["correlationId"], order_id().as_str());
    assert!(m["eventId"].is_string());
    assert!(m["occurredAt"].is_string());
    assert_eq!(v["data"]["total"]["amount"], 2500);
    assert_eq!(v["data"]["lines"][0]["unitPrice"]["currency"], "EUR");
}

#[test]
fn a_caused_event_keeps_the_correlation_and_points_at_its_cause() {
    let first = Envelope::new(every_event().remove(0), None);
    let second = first.caused(every_event().remove(1));
    assert_eq!(
        second.metadata.causation_id.as_deref(),
        Some(first.metadata.event_id.as_str())
    );
    assert_eq!(
        second.metadata.correlation_id,
        first.metadata.correlation_id
    );
}

fn with_metadata(field: &str, value: serde_json::Value) -> String {
    let envelope = Envelope::new(every_event().remove(0), None);
    let mut v: serde_json::Value = serde_json::from_str(&envelope.to_json().unwrap()).unwrap();
    v["metadata"][field] = value;
    v.to_string()
}

#[test]
fn an_unknown_event_type_is_a_typed_error() {
    let err = Envelope::from_json(&with_metadata("type", "OrderShipped".into())).unwrap_err();
    assert!(matches!(err, EventError::UnknownType(t) if t == "OrderShipped"));
}

#[test]
fn a_newer_version_is_a_typed_error() {
    let err = Envelope::from_json(&with_metadata("version", 2.into())).unwrap_err();
    assert!(matches!(
        err,
        EventError::UnsupportedVersion {
            version: 2,
            supported: 1,
            ..
        }
    ));
}

#[test]
fn malformed_and_invalid_envelopes_are_typed_errors() {
    assert!(matches!(
        Envelope::from_json("{"),
        Err(EventError::Malformed(_))
    ));
    assert!(matches!(
        Envelope::from_json("[]"),
        Err(EventError::Malformed(_))
    ));
    let bad_data = with_metadata("type", "PaymentFailed".into());
    assert!(matches!(
        Envelope::from_json(&bad_data),
        Err(EventError::InvalidData { .. })
    ));
    let bad_corr = with_metadata(
        "correlationId",
        "0b9a8f1e-3c1d-4a57-9a44-1f1f7b7c2d11".into(),
    );
    assert!(matches!(
        Envelope::from_json(&bad_corr),
        Err(EventError::InvalidData { .. })
    ));
}

#[test]
fn an_eventbridge_wrapper_must_agree_with_the_envelope_type() {
    let envelope = Envelope::new(every_event().remove(0), None);
    let detail: serde_json::Value = serde_json::from_str(&envelope.to_json().unwrap()).unwrap();
    let body =
        serde_json::json!({"detail-type": "OrderPlaced", "source": EVENT_SOURCE, "detail": detail});
    assert_eq!(
        envelope_from_eventbridge_json(&body.to_string()).unwrap(),
        envelope
    );
    let wrong = serde_json::json!({"detail-type": "PaymentFailed", "detail": detail});
    assert!(matches!(
        envelope_from_eventbridge_json(&wrong.to_string()),
        Err(EventError::TypeMismatch { .. })
    ));
    assert!(matches!(
        envelope_from_eventbridge_json("not json"),
        Err(EventError::Malformed(_))
    ));
}

#[test]
fn a_notification_id_is_its_order_and_kind_whatever_its_content() {
    let order_id = OrderId::new();
    let told = |kind, text: &str| Notification {
        kind,
        order_id: order_id.clone(),
        email: Email::parse("ana@example.com").unwrap(),
        subject: "s".into(),
        text: text.into(),
    };
    let confirmed = told(NotificationKind::OrderConfirmed, "one");
    assert_eq!(confirmed.id(), format!("{order_id}:OrderConfirmed"));
    assert_eq!(
        confirmed.id(),
        told(NotificationKind::OrderConfirmed, "two").id()
    );
    assert_ne!(
        confirmed.id(),
        told(NotificationKind::OrderCancelled, "one").id()
    );
}

#[test]
fn a_reservation_expired_event_has_the_documented_shape() {
    let expired = every_event()
        .into_iter()
        .find(|e| e.event_type() == EventType::ReservationExpired)
        .unwrap();
    let envelope = Envelope::new(expired, None);
    let v: serde_json::Value = serde_json::from_str(&envelope.to_json().unwrap()).unwrap();
    assert_eq!(v["metadata"]["type"], "ReservationExpired");
    assert_eq!(v["metadata"]["version"], 1);
    let data = v["data"].as_object().unwrap();
    let mut fields: Vec<&str> = data.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["customerId", "email", "orderId", "reservedAt", "total"]
    );
    assert_eq!(v["data"]["reservedAt"], "2026-11-24T10:00:00Z");
}

#[test]
fn the_reservation_expired_fixture_reads_as_that_event() {
    let batch = crate::testing::sqs_fixture("sqs-reservation-expired.json").unwrap();
    let body = batch.records[0].body.as_deref().unwrap();
    let envelope = envelope_from_eventbridge_json(body).unwrap();
    let DomainEvent::ReservationExpired(e) = envelope.event else {
        panic!("expected ReservationExpired, got {:?}", envelope.event)
    };
    assert_eq!(e.order_id.as_str(), crate::testing::FIXTURE_ORDER_ID);
    assert_eq!(e.total.amount, 5198);
}

#[test]
fn the_placed_time_travels_with_every_caused_event_and_round_trips_as_placed_at() {
    let placed = "2026-05-01T10:00:00Z".parse().unwrap();
    let first = Envelope::new(every_event().remove(0), None).placed_at(placed);
    let third = first
        .caused(every_event().remove(1))
        .caused(every_event().remove(3));
    assert_eq!(third.metadata.placed_at, Some(placed));
    let json: serde_json::Value = serde_json::from_str(&third.to_json().unwrap()).unwrap();
    assert_eq!(json["metadata"]["placedAt"], "2026-05-01T10:00:00Z");
    let back = Envelope::from_json(&third.to_json().unwrap()).unwrap();
    assert_eq!(back.metadata.placed_at, Some(placed));
    let without = Envelope::new(every_event().remove(0), None);
    assert!(!without.to_json().unwrap().contains("placedAt"));
}

#[test]
fn a_caused_event_stays_in_its_cause_s_trace_with_a_span_of_its_own() {
    let first = Envelope::new(every_event().remove(0), None);
    let second = first.caused(every_event().remove(1));
    let (a, b) = (first.trace().unwrap(), second.trace().unwrap());
    assert_eq!(a.trace_id(), b.trace_id());
    assert_ne!(a.parent_id(), b.parent_id());
    let unrelated = Envelope::new(every_event().remove(0), None);
    assert_ne!(unrelated.trace().unwrap().trace_id(), a.trace_id());
}

#[test]
fn the_trace_travels_in_the_metadata_as_a_w3c_traceparent() {
    let trace =
        TraceContext::from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .unwrap();
    let envelope = Envelope::new(every_event().remove(0), None).in_trace(&trace);
    let v: serde_json::Value = serde_json::from_str(&envelope.to_json().unwrap()).unwrap();
    let header = v["metadata"]["traceparent"].as_str().unwrap();
    assert!(
        header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{header}"
    );
    let back = Envelope::from_json(&v.to_string()).unwrap();
    assert_eq!(back.trace(), envelope.trace());
}

#[test]
fn an_event_without_a_trace_or_with_an_invalid_one_is_still_read() {
    for value in [
        serde_json::Value::Null,
        "not-a-traceparent".into(),
        7.into(),
    ] {
        let json = with_metadata("traceparent", value.clone());
        let envelope = Envelope::from_json(&json).unwrap();
        assert_eq!(envelope.trace(), None, "{value}");
        let caused = envelope.caused(every_event().remove(1));
        assert!(caused.trace().is_some(), "a new trace starts from it");
    }
    let mut v: serde_json::Value = serde_json::from_str(&with_metadata("x", 1.into())).unwrap();
    v["metadata"].as_object_mut().unwrap().remove("traceparent");
    assert_eq!(Envelope::from_json(&v.to_string()).unwrap().trace(), None);
}
