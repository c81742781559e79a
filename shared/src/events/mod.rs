//! Domain events: one versioned envelope (EventBridge `detail`) around a typed catalogue, and
//! the trace context it carries ([`trace`]).

pub mod trace;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use trace::TraceContext;

use crate::domain::{
    CustomerId, Email, Money, Order, OrderId, OrderLine, PaymentToken, Quantity, Sku,
};

/// EventBridge `source` of every event this system publishes.
pub const EVENT_SOURCE: &str = "orderflow";

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event is not valid JSON or misses the envelope: {0}")]
    Malformed(String),
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("{event_type} version {version} is newer than the supported version {supported}")]
    UnsupportedVersion {
        event_type: EventType,
        version: u32,
        supported: u32,
    },
    #[error("{event_type} data does not match its schema: {reason}")]
    InvalidData {
        event_type: EventType,
        reason: String,
    },
    #[error("detail-type {detail_type:?} does not match metadata type {event_type}")]
    TypeMismatch {
        detail_type: String,
        event_type: EventType,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    OrderPlaced,
    InventoryReserved,
    InventoryRejected,
    PaymentSucceeded,
    PaymentFailed,
    InventoryReleased,
    ReservationExpired,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::OrderPlaced,
        EventType::InventoryReserved,
        EventType::InventoryRejected,
        EventType::PaymentSucceeded,
        EventType::PaymentFailed,
        EventType::InventoryReleased,
        EventType::ReservationExpired,
    ];

    /// The newest schema version this code reads and writes.
    pub fn current_version(self) -> u32 {
        1
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrderPlaced => "OrderPlaced",
            EventType::InventoryReserved => "InventoryReserved",
            EventType::InventoryRejected => "InventoryRejected",
            EventType::PaymentSucceeded => "PaymentSucceeded",
            EventType::PaymentFailed => "PaymentFailed",
            EventType::InventoryReleased => "InventoryReleased",
            EventType::ReservationExpired => "ReservationExpired",
        }
    }

    pub fn parse(s: &str) -> Result<Self, EventError> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| EventError::UnknownType(s.to_owned()))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub version: u32,
    /// The order the event is about: every event of one order shares it.
    pub correlation_id: OrderId,
    /// The `eventId` of the event that caused this one (absent for the first event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// When the order was placed (stored `PENDING`): every event of the order carries it, so a
    /// stage's latency is now − this (`telemetry::metrics::stage_latency`). Absent on events
    /// from before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed_at: Option<DateTime<Utc>>,
    /// The trace the event belongs to (W3C `traceparent`): every event of one order shares its
    /// trace id. Absent in events written before it; an invalid one reads as absent.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "trace")]
    pub traceparent: Option<TraceContext>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub email: Email,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub payment_token: PaymentToken,
}

/// What validate-order publishes for a stored order (and what the reconciler publishes again).
impl From<&Order> for OrderPlaced {
    fn from(order: &Order) -> Self {
        OrderPlaced {
            order_id: order.order_id.clone(),
            customer_id: order.customer_id.clone(),
            email: order.email.clone(),
            lines: order.lines.clone(),
            total: order.total,
            payment_token: order.payment_token.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryReserved {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub email: Email,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub payment_token: PaymentToken,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shortage {
    pub sku: Sku,
    pub requested: Quantity,
    pub available: u32,
}

impl Shortage {
    /// The lines that `stock_of` cannot cover (an unknown SKU has no stock).
    pub fn of(lines: &[OrderLine], stock_of: impl Fn(&Sku) -> Option<u32>) -> Vec<Shortage> {
        lines
            .iter()
            .filter_map(|line| {
                let available = stock_of(&line.sku).unwrap_or(0);
                (available < line.quantity.get()).then(|| Shortage {
                    sku: line.sku.clone(),
                    requested: line.quantity,
                    available,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryRejected {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub email: Email,
    pub shortages: Vec<Shortage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSucceeded {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub email: Email,
    pub total: Money,
    pub charge_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFailed {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub email: Email,
    pub total: Money,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryReleased {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub email: Email,
    pub lines: Vec<OrderLine>,
}

/// A reservation held past its bound without a payment outcome (published by the reconciler):
/// process-payment settles it as a decline unless the provider has a charge for the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservationExpired {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub email: Email,
    pub total: Money,
    /// When the order became `RESERVED`.
    pub reserved_at: DateTime<Utc>,
}

/// The catalogue: what an envelope can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    OrderPlaced(OrderPlaced),
    InventoryReserved(InventoryReserved),
    InventoryRejected(InventoryRejected),
    PaymentSucceeded(PaymentSucceeded),
    PaymentFailed(PaymentFailed),
    InventoryReleased(InventoryReleased),
    ReservationExpired(ReservationExpired),
}

impl DomainEvent {
    pub fn event_type(&self) -> EventType {
        match self {
            DomainEvent::OrderPlaced(_) => EventType::OrderPlaced,
            DomainEvent::InventoryReserved(_) => EventType::InventoryReserved,
            DomainEvent::InventoryRejected(_) => EventType::InventoryRejected,
            DomainEvent::PaymentSucceeded(_) => EventType::PaymentSucceeded,
            DomainEvent::PaymentFailed(_) => EventType::PaymentFailed,
            DomainEvent::InventoryReleased(_) => EventType::InventoryReleased,
            DomainEvent::ReservationExpired(_) => EventType::ReservationExpired,
        }
    }

    pub fn order_id(&self) -> &OrderId {
        match self {
            DomainEvent::OrderPlaced(e) => &e.order_id,
            DomainEvent::InventoryReserved(e) => &e.order_id,
            DomainEvent::InventoryRejected(e) => &e.order_id,
            DomainEvent::PaymentSucceeded(e) => &e.order_id,
            DomainEvent::PaymentFailed(e) => &e.order_id,
            DomainEvent::InventoryReleased(e) => &e.order_id,
            DomainEvent::ReservationExpired(e) => &e.order_id,
        }
    }

    fn data_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            DomainEvent::OrderPlaced(e) => serde_json::to_value(e),
            DomainEvent::InventoryReserved(e) => serde_json::to_value(e),
            DomainEvent::InventoryRejected(e) => serde_json::to_value(e),
            DomainEvent::PaymentSucceeded(e) => serde_json::to_value(e),
            DomainEvent::PaymentFailed(e) => serde_json::to_value(e),
            DomainEvent::InventoryReleased(e) => serde_json::to_value(e),
            DomainEvent::ReservationExpired(e) => serde_json::to_value(e),
        }
    }

    fn from_data(event_type: EventType, data: serde_json::Value) -> Result<Self, EventError> {
        let invalid = |e: serde_json::Error| EventError::InvalidData {
            event_type,
            reason: e.to_string(),
        };
        Ok(match event_type {
            EventType::OrderPlaced => {
                DomainEvent::OrderPlaced(serde_json::from_value(data).map_err(invalid)?)
            }
            EventType::InventoryReserved => {
                DomainEvent::InventoryReserved(serde_json::from_value(data).map_err(invalid)?)
            }
            EventType::InventoryRejected => {
                DomainEvent::InventoryRejected(serde_json::from_value(data).map_err(invalid)?)
            }
            EventType::PaymentSucceeded => {
                DomainEvent::PaymentSucceeded(serde_json::from_value(data).map_err(invalid)?)
            }
            EventType::PaymentFailed => {
                DomainEvent::PaymentFailed(serde_json::from_value(data).map_err(invalid)?)
            }
            EventType::InventoryReleased => {
                DomainEvent::InventoryReleased(serde_json::from_value(data).map_err(invalid)?)
            }
            EventType::ReservationExpired => {
                DomainEvent::ReservationExpired(serde_json::from_value(data).map_err(invalid)?)
            }
        })
    }
}

/// `{ "metadata": {...}, "data": {...} }`: the EventBridge `detail` of every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub metadata: Metadata,
    pub event: DomainEvent,
}

#[derive(Serialize, Deserialize)]
struct RawEnvelope {
    metadata: RawMetadata,
    data: serde_json::Value,
}

/// Metadata read leniently first, so the type and version can be judged before the rest.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    #[serde(rename = "type")]
    event_type: String,
    version: u32,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

impl Envelope {
    /// A new event about `event.order_id()`, caused by `causation_id` when there is one, in a
    /// new trace ([`in_trace`](Self::in_trace) puts it in an existing one).
    pub fn new(event: DomainEvent, causation_id: Option<&str>) -> Envelope {
        Envelope::traced(event, causation_id, TraceContext::new_root())
    }

    /// A new event in `trace` (its span already chosen).
    fn traced(event: DomainEvent, causation_id: Option<&str>, trace: TraceContext) -> Envelope {
        let event_type = event.event_type();
        Envelope {
            metadata: Metadata {
                event_id: Uuid::new_v4().to_string(),
                event_type,
                version: event_type.current_version(),
                correlation_id: event.order_id().clone(),
                causation_id: causation_id.map(str::to_owned),
                occurred_at: Utc::now(),
                placed_at: None,
                traceparent: Some(trace),
            },
            event,
        }
    }

    /// The same event, saying its order was placed at `at`.
    pub fn placed_at(mut self, at: DateTime<Utc>) -> Envelope {
        self.metadata.placed_at = Some(at);
        self
    }

    /// A new event caused by this one (same correlation id, causation = this event's id, the
    /// same placed time, same trace: a new trace only if this one carries none).
    pub fn caused(&self, event: DomainEvent) -> Envelope {
        // Per record: no root trace is made only to be replaced (each id is a getrandom call).
        let trace = self
            .metadata
            .traceparent
            .as_ref()
            .map_or_else(TraceContext::new_root, TraceContext::child);
        let mut caused = Envelope::traced(event, Some(&self.metadata.event_id), trace);
        caused.metadata.placed_at = self.metadata.placed_at;
        caused
    }

    /// This event, published from a span of `trace` (same trace id, a new span id).
    pub fn in_trace(mut self, trace: &TraceContext) -> Envelope {
        self.metadata.traceparent = Some(trace.child());
        self
    }

    /// The trace the event belongs to, if it carries one.
    pub fn trace(&self) -> Option<&TraceContext> {
        self.metadata.traceparent.as_ref()
    }

    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            metadata: &'a Metadata,
            data: serde_json::Value,
        }
        serde_json::to_string(&Out {
            metadata: &self.metadata,
            data: self.event.data_json()?,
        })
    }

    pub fn from_json(json: &str) -> Result<Envelope, EventError> {
        let raw: RawEnvelope =
            serde_json::from_str(json).map_err(|e| EventError::Malformed(e.to_string()))?;
        Envelope::from_raw(raw)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Envelope, EventError> {
        let raw: RawEnvelope =
            serde_json::from_value(value).map_err(|e| EventError::Malformed(e.to_string()))?;
        Envelope::from_raw(raw)
    }

    fn from_raw(raw: RawEnvelope) -> Result<Envelope, EventError> {
        let event_type = EventType::parse(&raw.metadata.event_type)?;
        if raw.metadata.version > event_type.current_version() || raw.metadata.version == 0 {
            return Err(EventError::UnsupportedVersion {
                event_type,
                version: raw.metadata.version,
                supported: event_type.current_version(),
            });
        }
        let metadata_json = serde_json::to_value(&raw.metadata)
            .map_err(|e| EventError::Malformed(e.to_string()))?;
        let metadata: Metadata = serde_json::from_value(metadata_json)
            .map_err(|e| EventError::Malformed(format!("metadata: {e}")))?;
        let event = DomainEvent::from_data(event_type, raw.data)?;
        if event.order_id() != &metadata.correlation_id {
            return Err(EventError::InvalidData {
                event_type,
                reason: "data.orderId differs from metadata.correlationId".into(),
            });
        }
        Ok(Envelope { metadata, event })
    }
}

/// The EventBridge event as SQS delivers it from a rule target; only the fields we use.
#[derive(Debug, Deserialize)]
struct EventBridgeEvent {
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: serde_json::Value,
}

/// Reads an SQS message body that holds an EventBridge event whose detail is an envelope.
pub fn envelope_from_eventbridge_json(body: &str) -> Result<Envelope, EventError> {
    let outer: EventBridgeEvent = serde_json::from_str(body)
        .map_err(|e| EventError::Malformed(format!("not an EventBridge event: {e}")))?;
    let envelope = Envelope::from_value(outer.detail)?;
    if outer.detail_type != envelope.metadata.event_type.as_str() {
        return Err(EventError::TypeMismatch {
            detail_type: outer.detail_type,
            event_type: envelope.metadata.event_type,
        });
    }
    Ok(envelope)
}

/// Which outcome a notification tells; also its SNS message attribute `kind`, which
/// subscriptions filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NotificationKind {
    OrderConfirmed,
    OrderRejected,
    OrderCancelled,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::OrderConfirmed => "OrderConfirmed",
            NotificationKind::OrderRejected => "OrderRejected",
            NotificationKind::OrderCancelled => "OrderCancelled",
        }
    }
}

/// What the customer is told: published to the customer-notifications SNS topic, once per
/// order and kind as far as the mechanism allows, and always with the same content for one
/// [`Notification::id`] (it is rendered only from facts written once per order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub kind: NotificationKind,
    pub order_id: OrderId,
    pub email: Email,
    pub subject: String,
    pub text: String,
}

impl Notification {
    /// `<orderId>:<kind>`: the same for every publish of this notification, so subscribers can
    /// drop a repeat (the SNS message attribute `notificationId`).
    pub fn id(&self) -> String {
        format!("{}:{}", self.order_id, self.kind.as_str())
    }
}

#[cfg(test)]
mod tests;
