//! Ports: the small traits handlers are written against. Adapters (DynamoDB, EventBridge, SNS,
//! in-memory) implement them with the same semantics, conditional writes included. The
//! idempotency store's port lives with the rest of idempotency ([`crate::idempotency`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Money, Order, OrderId, OrderLine, OrderStatus, PaymentToken, ShardCount, Sku};
use crate::events::{Envelope, Notification, Shortage};

mod open_orders;
pub use open_orders::{
    index_time, OpenOrders, OpenOrdersCursor, OpenOrdersPage, OpenOrdersQuery, OpenShard,
    OPEN_SHARDS,
};

/// A failure of the storage behind a port. `Unavailable` is worth retrying; `Corrupt` is not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable, retry later: {0}")]
    Unavailable(String),
    #[error("stored item cannot be read: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderWriteError {
    /// The id is taken; here is the stored order (read in the same call), so a retry of the
    /// same request can answer as the first time without another read.
    #[error("order {} already exists", .0.order_id)]
    AlreadyExists(Box<Order>),
    #[error("order {0} not found")]
    NotFound(OrderId),
    #[error("order is {actual}, expected {expected}")]
    Conflict {
        expected: OrderStatus,
        actual: OrderStatus,
    },
    #[error(transparent)]
    Illegal(#[from] crate::domain::DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// Stores a new order; refuses to overwrite one with the same id.
    async fn create(&self, order: &Order) -> Result<(), OrderWriteError>;
    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError>;
    /// Moves the order from `from` to `to`, only if it is still in `from` (a conditional write).
    async fn transition(
        &self,
        id: &OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
    ) -> Result<(), OrderWriteError>;
}

/// A catalog entry with its live stock (the sum over its shards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: Sku,
    pub name: String,
    pub price: Money,
    pub stock: u32,
}

/// A product as the catalog stores it: its stock (`product.stock`, the total) spread over
/// `shards` items (`domain::shards`). What a catalog seed lists; one shard unless it says more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub product: Product,
    pub shards: ShardCount,
}

impl From<Product> for CatalogEntry {
    fn from(product: Product) -> Self {
        CatalogEntry {
            product,
            shards: ShardCount::ONE,
        }
    }
}

impl From<&Product> for CatalogEntry {
    fn from(product: &Product) -> Self {
        product.clone().into()
    }
}

impl From<&CatalogEntry> for CatalogEntry {
    fn from(entry: &CatalogEntry) -> Self {
        entry.clone()
    }
}

/// What pricing an order needs of a catalog entry: not its stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub sku: Sku,
    pub name: String,
    pub price: Money,
}

#[async_trait]
pub trait Catalog: Send + Sync {
    /// The products for these SKUs; unknown SKUs are simply absent from the answer.
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError>;
    /// The whole catalog, sorted by SKU.
    async fn all_products(&self) -> Result<Vec<Product>, StoreError>;
    /// The listings for these SKUs, without their stock (which a sharded SKU spreads over
    /// several items, so that every order of a hot SKU need not read them all); unknown SKUs
    /// are absent. The default reads the products.
    async fn listings(&self, skus: &[Sku]) -> Result<Vec<Listing>, StoreError> {
        Ok(self
            .products(skus)
            .await?
            .into_iter()
            .map(|p| Listing {
                sku: p.sku,
                name: p.name,
                price: p.price,
            })
            .collect())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReserveError {
    #[error("insufficient stock for {} SKU(s)", .0.len())]
    InsufficientStock(Vec<Shortage>),
    #[error("stock is already reserved for this order")]
    AlreadyReserved,
    #[error("order is not PENDING (found {actual:?})")]
    OrderNotPending { actual: Option<OrderStatus> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("no held reservation for this order (never reserved, or already released)")]
    NotHeld,
    #[error("order is not PAYMENT_FAILED (found {actual:?})")]
    OrderNotPaymentFailed { actual: Option<OrderStatus> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One line of a reservation: its units came from (and go back to) one shard of its SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedLine {
    pub line: OrderLine,
    pub shard: u16,
}

/// The stock an order holds: the lines taken from stock, and whether they were put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub lines: Vec<ReservedLine>,
    pub released: bool,
}

impl Reservation {
    /// The order lines, without their shards.
    pub fn order_lines(&self) -> Vec<OrderLine> {
        self.lines.iter().map(|r| r.line.clone()).collect()
    }
}

#[async_trait]
pub trait Inventory: Send + Sync {
    /// Atomically: takes every line's quantity from stock (never below zero), each line whole
    /// from one shard of its SKU, records the reservation with each line's shard, and moves the
    /// order `PENDING → RESERVED`. All or nothing. Refused for stock only when a line's SKU
    /// has less than the line in all its shards together (`domain::shards::pick`).
    async fn reserve_stock(
        &self,
        order_id: &OrderId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> Result<(), ReserveError>;

    /// Atomically: puts a held reservation's quantities back, each into the shard it came
    /// from, marks it released, and moves the order `PAYMENT_FAILED → CANCELLED`. Returns the
    /// released lines.
    async fn release_stock(
        &self,
        order_id: &OrderId,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderLine>, ReleaseError>;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeOutcome {
    #[serde(rename_all = "camelCase")]
    Approved { charge_id: String },
    #[serde(rename_all = "camelCase")]
    Declined { reason: String },
}

/// One entry of the payments ledger: at most one per order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRecord {
    pub order_id: OrderId,
    pub amount: Money,
    #[serde(flatten)]
    pub outcome: ChargeOutcome,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// This call wrote the entry.
    New,
    /// An entry for the order was already there; it is returned unchanged.
    Existing(ChargeRecord),
}

/// Everything that follows from one charge, written at once by [`PaymentLedger::settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The ledger entry; written only if the order has none yet.
    pub record: ChargeRecord,
    /// The charge's idempotency key, held `IN_PROGRESS` by the caller: completed with `result`.
    pub key: String,
    pub result: String,
    /// The order moves `RESERVED → to` (`CONFIRMED` or `PAYMENT_FAILED`).
    pub to: OrderStatus,
}

impl Settlement {
    /// Refuses a settlement whose move out of `RESERVED` is not a legal transition.
    pub fn check(&self) -> Result<(), SettleError> {
        OrderStatus::Reserved
            .transition(self.to)
            .map(|_| ())
            .map_err(|e| {
                SettleError::Store(StoreError::Corrupt(format!(
                    "settlement of {}: {e}",
                    self.record.order_id
                )))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
    /// A condition did not hold (the order has a ledger entry, the key is no longer held, or
    /// the order is not `RESERVED`) and nothing was written: settle step by step instead.
    #[error("settlement refused, nothing written: {0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait PaymentLedger: Send + Sync {
    /// Writes the entry unless the order already has one (conditional write).
    async fn record(&self, record: &ChargeRecord) -> Result<Recorded, StoreError>;
    async fn charge_for(&self, order_id: &OrderId) -> Result<Option<ChargeRecord>, StoreError>;
    /// Atomically (one transaction): writes the ledger entry, completes the charge's
    /// idempotency key with its result and moves the order out of `RESERVED`. All or nothing.
    async fn settle(&self, settlement: &Settlement, at: DateTime<Utc>) -> Result<(), SettleError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    pub order_id: OrderId,
    pub amount: Money,
    pub token: PaymentToken,
    /// Sent to the provider so that it, too, charges a key at most once.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The provider could not answer; whether it charged is unknown (ask [`PaymentGateway::find`]).
    #[error("payment provider unavailable, retry later: {0}")]
    Transient(String),
    /// The provider refused the request itself (e.g. an idempotency key reused with another
    /// amount): nothing was charged, and sending it again cannot help.
    #[error("payment provider refused the request: {0}")]
    Refused(String),
}

/// A payment provider, as real ones work: a charge is keyed by an idempotency key, which the
/// provider remembers for [`key_retention`](Self::key_retention) and then forgets (the same key
/// charges again), and a charge can be looked up by its key while the key is remembered.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Charges once per idempotency key while the key is remembered: the same key gets the same
    /// outcome (the same charge id) again.
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError>;
    /// The outcome of the charge made under `idempotency_key`, if the provider still remembers
    /// the key; `None` when nothing was charged under it, or the key is forgotten.
    async fn find(&self, idempotency_key: &str) -> Result<Option<ChargeOutcome>, GatewayError>;
    /// How long the provider remembers an idempotency key after its charge.
    fn key_retention(&self) -> chrono::Duration;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("{failed} of {total} event(s) were not accepted: {reason}")]
    Rejected {
        failed: usize,
        total: usize,
        reason: String,
    },
    #[error("event bus unavailable, retry later: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes every event or reports failure; a partial success is retried inside.
    async fn publish(&self, events: &[Envelope]) -> Result<(), PublishError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("notification channel unavailable, retry later: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Notifier: Send + Sync {
    /// Publishes one notification; returns the channel's message id.
    async fn notify(&self, notification: &Notification) -> Result<String, NotifyError>;

    /// Publishes several, in as few calls as the channel allows; one answer per notification,
    /// in order. The default publishes them one by one.
    async fn notify_many(
        &self,
        notifications: &[Notification],
    ) -> Vec<Result<String, NotifyError>> {
        let mut answers = Vec::with_capacity(notifications.len());
        for n in notifications {
            answers.push(self.notify(n).await);
        }
        answers
    }
}
