//! In-memory adapters for unit tests (test code, `testing`): honest fakes with the
//! conditional-write semantics of the DynamoDB adapters (one lock = one transaction), plus
//! switches to inject failures.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::shards::{first_shard, pick, split, Pick};
use crate::domain::{Order, OrderId, OrderLine, OrderStatus, ShardCount, Sku};
use crate::events::{Envelope, Notification, Shortage};
use crate::idempotency::{
    AttemptClaim, AttemptStore, Claim, ClaimTimes, IdempotencyError, IdempotencyStore, Intent,
};
use crate::ports::{
    Catalog, CatalogEntry, ChargeRecord, Inventory, Notifier, NotifyError, OrderRepository,
    OrderWriteError, PaymentLedger, Product, PublishError, Recorded, ReleaseError, Reservation,
    ReserveError, ReservedLine, SettleError, Settlement, StoreError,
};

#[derive(Debug, Clone)]
struct IdempotencyRecord {
    payload_hash: String,
    result: Option<String>,
    lock_until: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// When the effect was first attempted under the key (`idempotency::attempt`).
    attempted_at: Option<DateTime<Utc>>,
}

impl IdempotencyRecord {
    /// The record of a claim just acquired, keeping `attempted_at`.
    fn claimed(payload_hash: &str, times: ClaimTimes, attempted_at: Option<DateTime<Utc>>) -> Self {
        IdempotencyRecord {
            payload_hash: payload_hash.to_owned(),
            result: None,
            lock_until: times.lock_until,
            expires_at: times.expires_at,
            attempted_at,
        }
    }
}

/// What a claim at `now` finds in a live `existing` record instead of acquiring it: its result,
/// or that it is in progress; `None` when the key is free, expired or its holder ran past its
/// deadline (the claim takes it over).
fn refusal(
    existing: Option<&IdempotencyRecord>,
    payload_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<Claim>, IdempotencyError> {
    let Some(live) = existing.filter(|r| r.expires_at > now) else {
        return Ok(None);
    };
    if live.payload_hash != payload_hash {
        return Err(IdempotencyError::PayloadMismatch);
    }
    if let Some(result) = &live.result {
        return Ok(Some(Claim::Completed(result.clone())));
    }
    Ok((live.lock_until > now).then_some(Claim::InProgress))
}

/// A catalog entry and its stock, one count per shard (`domain::shards`).
struct Stocked {
    product: Product,
    shards: Vec<u32>,
}

impl Stocked {
    fn total(&self) -> u32 {
        self.shards.iter().sum()
    }

    /// The product as the catalog shows it: its stock is the sum over the shards.
    fn view(&self) -> Product {
        Product {
            stock: self.total(),
            ..self.product.clone()
        }
    }

    fn count(&self) -> ShardCount {
        u32::try_from(self.shards.len())
            .ok()
            .and_then(|n| ShardCount::new(n).ok())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    orders: HashMap<OrderId, Order>,
    products: BTreeMap<Sku, Stocked>,
    reservations: HashMap<OrderId, Reservation>,
    ledger: HashMap<OrderId, ChargeRecord>,
    idempotency: HashMap<String, IdempotencyRecord>,
}

/// Orders, catalog and stock, reservations, ledger and idempotency records, behind one lock.
/// A clone is another handle on the same state, so one store can serve as several ports.
#[derive(Default, Clone)]
pub struct MemoryStore {
    inner: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// The next N store calls fail with `StoreError::Unavailable`.
    failures: AtomicUsize,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_products(products: impl IntoIterator<Item = Product>) -> Self {
        let store = Self::new();
        store.put_products(products);
        store
    }

    /// Puts products with their stock in one shard each.
    pub fn put_products(&self, products: impl IntoIterator<Item = Product>) {
        self.put_entries(products.into_iter().map(CatalogEntry::from));
    }

    /// Puts catalog entries, each product's stock split evenly over its shards.
    pub fn put_entries(&self, entries: impl IntoIterator<Item = CatalogEntry>) {
        let mut state = self.lock();
        for e in entries {
            let shards = split(e.product.stock, e.shards);
            state.products.insert(
                e.product.sku.clone(),
                Stocked {
                    product: e.product,
                    shards,
                },
            );
        }
    }

    /// Makes the next `n` store calls fail as if DynamoDB were throttling.
    pub fn fail_next(&self, n: usize) {
        self.inner.failures.store(n, Ordering::SeqCst);
    }

    /// A SKU's stock, summed over its shards.
    pub fn stock_of(&self, sku: &Sku) -> Option<u32> {
        self.lock().products.get(sku).map(Stocked::total)
    }

    /// A SKU's stock shard by shard.
    pub fn shard_stocks(&self, sku: &Sku) -> Option<Vec<u32>> {
        self.lock().products.get(sku).map(|p| p.shards.clone())
    }

    pub fn order(&self, id: &OrderId) -> Option<Order> {
        self.lock().orders.get(id).cloned()
    }

    pub fn orders(&self) -> Vec<Order> {
        self.lock().orders.values().cloned().collect()
    }

    pub fn reservation(&self, id: &OrderId) -> Option<Reservation> {
        self.lock().reservations.get(id).cloned()
    }

    pub fn ledger_entries(&self) -> Vec<ChargeRecord> {
        self.lock().ledger.values().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another test thread panicked; the data is still usable.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the lock for one call, or fails it when a failure was injected.
    fn begin(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let injected = self
            .inner
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if injected {
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        Ok(self.lock())
    }
}

#[async_trait]
impl OrderRepository for MemoryStore {
    async fn create(&self, order: &Order) -> Result<(), OrderWriteError> {
        let mut state = self.begin()?;
        if let Some(existing) = state.orders.get(&order.order_id) {
            return Err(OrderWriteError::AlreadyExists(Box::new(existing.clone())));
        }
        state.orders.insert(order.order_id.clone(), order.clone());
        Ok(())
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self.begin()?.orders.get(id).cloned())
    }

    async fn transition(
        &self,
        id: &OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
    ) -> Result<(), OrderWriteError> {
        from.transition(to)?;
        let mut state = self.begin()?;
        let order = state
            .orders
            .get_mut(id)
            .ok_or_else(|| OrderWriteError::NotFound(id.clone()))?;
        if order.status != from {
            return Err(OrderWriteError::Conflict {
                expected: from,
                actual: order.status,
            });
        }
        order.apply(to, at)?;
        Ok(())
    }
}

#[async_trait]
impl Catalog for MemoryStore {
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let state = self.begin()?;
        Ok(skus
            .iter()
            .filter_map(|s| state.products.get(s).map(Stocked::view))
            .collect())
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        Ok(self.begin()?.products.values().map(Stocked::view).collect())
    }
}

#[async_trait]
impl Inventory for MemoryStore {
    async fn reserve_stock(
        &self,
        order_id: &OrderId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> Result<(), ReserveError> {
        let mut state = self.begin()?;
        // The same precedence as the DynamoDB transaction's cancellation reasons:
        // an existing reservation, then the order's state, then stock.
        if state.reservations.contains_key(order_id) {
            return Err(ReserveError::AlreadyReserved);
        }
        let actual = state.orders.get(order_id).map(|o| o.status);
        if actual != Some(OrderStatus::Pending) {
            return Err(ReserveError::OrderNotPending { actual });
        }
        // The rules of `domain::shards`, over the shards as they are under the lock.
        let mut picks = Vec::with_capacity(lines.len());
        let mut shortages = Vec::new();
        for line in lines {
            let found = state.products.get(&line.sku).map(|p| {
                let start = first_shard(order_id, &line.sku, p.count());
                pick(&p.shards, start, line.quantity.get())
            });
            match found.unwrap_or(Pick::Short { available: 0 }) {
                Pick::Short { available } => shortages.push(Shortage {
                    sku: line.sku.clone(),
                    requested: line.quantity,
                    available,
                }),
                Pick::Take(shard) => picks.push((shard, None)),
                Pick::Rebalance(r) => picks.push((r.target, Some(r))),
            }
        }
        if !shortages.is_empty() {
            return Err(ReserveError::InsufficientStock(shortages));
        }
        let mut reserved = Vec::with_capacity(lines.len());
        for (line, (shard, moves)) in lines.iter().zip(picks) {
            let Some(stocked) = state.products.get_mut(&line.sku) else {
                return Err(StoreError::Corrupt(format!("SKU {} vanished", line.sku)).into());
            };
            // Under one lock, so the move and the take are one step, as DynamoDB's rebalance
            // transaction and the reservation after it are each atomic.
            if let Some(moves) = moves {
                for (donor, units) in &moves.donors {
                    stocked.shards[usize::from(*donor)] -= units;
                }
                stocked.shards[usize::from(shard)] += moves.units();
            }
            stocked.shards[usize::from(shard)] -= line.quantity.get();
            reserved.push(ReservedLine {
                line: line.clone(),
                shard,
            });
        }
        state.reservations.insert(
            order_id.clone(),
            Reservation {
                lines: reserved,
                released: false,
            },
        );
        if let Some(order) = state.orders.get_mut(order_id) {
            order
                .apply(OrderStatus::Reserved, at)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        Ok(())
    }

    async fn release_stock(
        &self,
        order_id: &OrderId,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderLine>, ReleaseError> {
        let mut state = self.begin()?;
        let lines = match state.reservations.get(order_id) {
            Some(r) if !r.released => r.lines.clone(),
            _ => return Err(ReleaseError::NotHeld),
        };
        let actual = state.orders.get(order_id).map(|o| o.status);
        if actual != Some(OrderStatus::PaymentFailed) {
            return Err(ReleaseError::OrderNotPaymentFailed { actual });
        }
        for reserved in &lines {
            let shard = state
                .products
                .get_mut(&reserved.line.sku)
                .and_then(|p| p.shards.get_mut(usize::from(reserved.shard)));
            if let Some(stock) = shard {
                *stock += reserved.line.quantity.get();
            }
        }
        if let Some(r) = state.reservations.get_mut(order_id) {
            r.released = true;
        }
        if let Some(order) = state.orders.get_mut(order_id) {
            order
                .apply(OrderStatus::Cancelled, at)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        Ok(lines.into_iter().map(|r| r.line).collect())
    }
}

#[async_trait]
impl PaymentLedger for MemoryStore {
    async fn record(&self, record: &ChargeRecord) -> Result<Recorded, StoreError> {
        let mut state = self.begin()?;
        if let Some(existing) = state.ledger.get(&record.order_id) {
            return Ok(Recorded::Existing(existing.clone()));
        }
        state.ledger.insert(record.order_id.clone(), record.clone());
        Ok(Recorded::New)
    }

    async fn charge_for(&self, order_id: &OrderId) -> Result<Option<ChargeRecord>, StoreError> {
        Ok(self.begin()?.ledger.get(order_id).cloned())
    }

    async fn settle(&self, settlement: &Settlement, at: DateTime<Utc>) -> Result<(), SettleError> {
        let order_id = &settlement.record.order_id;
        settlement.check()?;
        let mut state = self.begin()?;
        // Every condition first, as DynamoDB does, then every write.
        let mut refused = Vec::new();
        if state.ledger.contains_key(order_id) {
            refused.push("the order has a ledger entry");
        }
        let held = state
            .idempotency
            .get(&settlement.key)
            .is_some_and(|r| r.result.is_none());
        if !held {
            refused.push("the key is not held");
        }
        if state.orders.get(order_id).map(|o| o.status) != Some(OrderStatus::Reserved) {
            refused.push("the order is not RESERVED");
        }
        if !refused.is_empty() {
            return Err(SettleError::Refused(refused.join("; ")));
        }
        state
            .ledger
            .insert(order_id.clone(), settlement.record.clone());
        if let Some(record) = state.idempotency.get_mut(&settlement.key) {
            record.result = Some(settlement.result.clone());
        }
        if let Some(order) = state.orders.get_mut(order_id) {
            order
                .apply(settlement.to, at)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim(
        &self,
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
    ) -> Result<Claim, IdempotencyError> {
        let mut state = self.begin()?;
        if let Some(found) = refusal(state.idempotency.get(key), payload_hash, times.now)? {
            return Ok(found);
        }
        let fresh = IdempotencyRecord::claimed(payload_hash, times, None);
        state.idempotency.insert(key.to_owned(), fresh);
        Ok(Claim::Acquired)
    }

    async fn complete(&self, key: &str, result: &str) -> Result<(), IdempotencyError> {
        let mut state = self.begin()?;
        match state.idempotency.get_mut(key) {
            Some(rec) if rec.result.is_none() => {
                rec.result = Some(result.to_owned());
                Ok(())
            }
            // Completed with this very result already (DynamoDB: a retry after a lost answer).
            Some(rec) if rec.result.as_deref() == Some(result) => Ok(()),
            _ => Err(IdempotencyError::NotHeld),
        }
    }

    async fn release(&self, key: &str) -> Result<(), IdempotencyError> {
        let mut state = self.begin()?;
        match state.idempotency.get(key) {
            Some(rec) if rec.result.is_none() => {
                state.idempotency.remove(key);
                Ok(())
            }
            _ => Err(IdempotencyError::NotHeld),
        }
    }
}

#[async_trait]
impl AttemptStore for MemoryStore {
    async fn claim_attempt(
        &self,
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
        intent: Intent,
    ) -> Result<AttemptClaim, IdempotencyError> {
        let mut state = self.begin()?;
        let existing = state.idempotency.get(key);
        // The note survives everything but the record's deletion, as the DynamoDB update keeps it.
        let noted = existing.and_then(|r| r.attempted_at);
        if let Some(found) = refusal(existing, payload_hash, times.now)? {
            return Ok(AttemptClaim::new(found, None));
        }
        let attempting = (intent == Intent::Attempt).then_some(times.now);
        let fresh = IdempotencyRecord::claimed(payload_hash, times, noted.or(attempting));
        state.idempotency.insert(key.to_owned(), fresh);
        Ok(AttemptClaim::new(Claim::Acquired, noted))
    }

    async fn unlock(&self, key: &str) -> Result<(), IdempotencyError> {
        let mut state = self.begin()?;
        match state.idempotency.get_mut(key) {
            Some(rec) if rec.result.is_none() => {
                rec.lock_until = DateTime::<Utc>::MIN_UTC;
                Ok(())
            }
            _ => Err(IdempotencyError::NotHeld),
        }
    }
}

/// Records what was published; can refuse the next N publish calls.
#[derive(Default)]
pub struct MemoryEvents {
    published: Mutex<Vec<Envelope>>,
    failures: AtomicUsize,
}

impl MemoryEvents {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn published(&self) -> Vec<Envelope> {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl crate::ports::EventPublisher for MemoryEvents {
    async fn publish(&self, events: &[Envelope]) -> Result<(), PublishError> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(PublishError::Unavailable("injected failure".into()));
        }
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(events);
        Ok(())
    }
}

/// Records what customers were told; can refuse the next N sends.
#[derive(Default)]
pub struct MemoryNotifier {
    sent: Mutex<Vec<Notification>>,
    failures: AtomicUsize,
}

impl MemoryNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sent(&self) -> Vec<Notification> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl Notifier for MemoryNotifier {
    async fn notify(&self, notification: &Notification) -> Result<String, NotifyError> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(NotifyError::Unavailable("injected failure".into()));
        }
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.push(notification.clone());
        Ok(format!("msg-{}", sent.len()))
    }
}

mod open_orders;
#[cfg(test)]
mod tests;
