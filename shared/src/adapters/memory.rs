//! In-memory adapters for unit tests: honest fakes with the conditional-write semantics of the
//! DynamoDB adapters (one lock = one transaction), plus switches to inject failures.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{Order, OrderId, OrderLine, OrderStatus, Sku};
use crate::events::{Envelope, Notification, Shortage};
use crate::ports::{
    Catalog, ChargeRecord, Claim, ClaimTimes, IdempotencyError, IdempotencyStore, Inventory,
    Notifier, NotifyError, OrderRepository, OrderWriteError, PaymentLedger, Product, PublishError,
    Recorded, ReleaseError, ReserveError, SettleError, Settlement, StoreError,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub lines: Vec<OrderLine>,
    pub released: bool,
}

#[derive(Debug, Clone)]
struct IdempotencyRecord {
    payload_hash: String,
    result: Option<String>,
    lock_until: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

#[derive(Default)]
struct State {
    orders: HashMap<OrderId, Order>,
    products: BTreeMap<Sku, Product>,
    reservations: HashMap<OrderId, Reservation>,
    ledger: HashMap<OrderId, ChargeRecord>,
    idempotency: HashMap<String, IdempotencyRecord>,
}

/// Orders, catalog and stock, reservations, ledger and idempotency records, behind one lock.
#[derive(Default)]
pub struct MemoryStore {
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

    pub fn put_products(&self, products: impl IntoIterator<Item = Product>) {
        let mut state = self.lock();
        for p in products {
            state.products.insert(p.sku.clone(), p);
        }
    }

    /// Makes the next `n` store calls fail as if DynamoDB were throttling.
    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }

    pub fn stock_of(&self, sku: &Sku) -> Option<u32> {
        self.lock().products.get(sku).map(|p| p.stock)
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
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the lock for one call, or fails it when a failure was injected.
    fn begin(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let injected = self
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
            .filter_map(|s| state.products.get(s).cloned())
            .collect())
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        Ok(self.begin()?.products.values().cloned().collect())
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
        let shortages = Shortage::of(lines, |sku| state.products.get(sku).map(|p| p.stock));
        if !shortages.is_empty() {
            return Err(ReserveError::InsufficientStock(shortages));
        }
        for line in lines {
            if let Some(p) = state.products.get_mut(&line.sku) {
                p.stock -= line.quantity.get();
            }
        }
        state.reservations.insert(
            order_id.clone(),
            Reservation {
                lines: lines.to_vec(),
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
        for line in &lines {
            if let Some(p) = state.products.get_mut(&line.sku) {
                p.stock += line.quantity.get();
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
        Ok(lines)
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
        let fresh = IdempotencyRecord {
            payload_hash: payload_hash.to_owned(),
            result: None,
            lock_until: times.lock_until,
            expires_at: times.expires_at,
        };
        match state.idempotency.get(key) {
            Some(existing) if existing.expires_at > times.now => {
                if existing.payload_hash != payload_hash {
                    return Err(IdempotencyError::PayloadMismatch);
                }
                if let Some(result) = &existing.result {
                    return Ok(Claim::Completed(result.clone()));
                }
                if existing.lock_until > times.now {
                    return Ok(Claim::InProgress);
                }
                // The holder ran past its deadline: take the lock over.
                state.idempotency.insert(key.to_owned(), fresh);
                Ok(Claim::Acquired)
            }
            _ => {
                state.idempotency.insert(key.to_owned(), fresh);
                Ok(Claim::Acquired)
            }
        }
    }

    async fn complete(&self, key: &str, result: &str) -> Result<(), IdempotencyError> {
        let mut state = self.begin()?;
        match state.idempotency.get_mut(key) {
            Some(rec) if rec.result.is_none() => {
                rec.result = Some(result.to_owned());
                Ok(())
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, CustomerId, Email, Money, PaymentToken, Quantity};
    use crate::ports::{ChargeOutcome, EventPublisher};
    use chrono::Duration;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn product(s: &str, stock: u32) -> Product {
        Product {
            sku: sku(s),
            name: s.to_lowercase(),
            price: Money::new(1000, Currency::EUR),
            stock,
        }
    }

    fn line(s: &str, qty: u32) -> OrderLine {
        OrderLine {
            sku: sku(s),
            quantity: Quantity::new(qty).unwrap(),
            unit_price: Money::new(1000, Currency::EUR),
        }
    }

    async fn pending_order(store: &MemoryStore, lines: Vec<OrderLine>) -> OrderId {
        let order = Order::place(
            OrderId::new(),
            CustomerId::parse("c-1").unwrap(),
            Email::parse("a@example.com").unwrap(),
            PaymentToken::parse("tok_visa").unwrap(),
            lines,
            Utc::now(),
        )
        .unwrap();
        let id = order.order_id.clone();
        store.create(&order).await.unwrap();
        id
    }

    #[tokio::test]
    async fn creating_an_order_twice_is_refused() {
        let store = MemoryStore::new();
        let id = pending_order(&store, vec![line("SKU-A", 1)]).await;
        let order = store.order(&id).unwrap();
        assert_eq!(
            store.create(&order).await,
            Err(OrderWriteError::AlreadyExists(Box::new(order.clone())))
        );
    }

    #[tokio::test]
    async fn a_transition_applies_only_from_the_expected_state() {
        let store = MemoryStore::new();
        let id = pending_order(&store, vec![line("SKU-A", 1)]).await;
        let now = Utc::now();
        assert!(matches!(
            store
                .transition(&id, OrderStatus::Reserved, OrderStatus::Confirmed, now)
                .await,
            Err(OrderWriteError::Conflict {
                actual: OrderStatus::Pending,
                ..
            })
        ));
        store
            .transition(&id, OrderStatus::Pending, OrderStatus::Rejected, now)
            .await
            .unwrap();
        assert_eq!(store.order(&id).unwrap().status, OrderStatus::Rejected);
        assert!(matches!(
            store
                .transition(&id, OrderStatus::Pending, OrderStatus::Cancelled, now)
                .await,
            Err(OrderWriteError::Illegal(_))
        ));
        assert!(matches!(
            store
                .transition(
                    &OrderId::new(),
                    OrderStatus::Pending,
                    OrderStatus::Rejected,
                    now
                )
                .await,
            Err(OrderWriteError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_reservation_takes_all_lines_or_nothing() {
        let store = MemoryStore::with_products([product("SKU-A", 5), product("SKU-B", 1)]);
        let id = pending_order(&store, vec![line("SKU-A", 2), line("SKU-B", 2)]).await;
        let err = store
            .reserve_stock(&id, &store.order(&id).unwrap().lines, Utc::now())
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ReserveError::InsufficientStock(vec![Shortage {
                sku: sku("SKU-B"),
                requested: Quantity::new(2).unwrap(),
                available: 1
            }])
        );
        assert_eq!(
            store.stock_of(&sku("SKU-A")),
            Some(5),
            "nothing taken on failure"
        );
        assert_eq!(store.order(&id).unwrap().status, OrderStatus::Pending);
    }

    #[tokio::test]
    async fn a_reservation_never_takes_stock_below_zero_and_is_taken_once() {
        let store = MemoryStore::with_products([product("SKU-A", 1)]);
        let first = pending_order(&store, vec![line("SKU-A", 1)]).await;
        let second = pending_order(&store, vec![line("SKU-A", 1)]).await;
        let lines = vec![line("SKU-A", 1)];
        store
            .reserve_stock(&first, &lines, Utc::now())
            .await
            .unwrap();
        assert_eq!(store.order(&first).unwrap().status, OrderStatus::Reserved);
        assert_eq!(
            store.reserve_stock(&first, &lines, Utc::now()).await,
            Err(ReserveError::AlreadyReserved)
        );
        assert!(matches!(
            store.reserve_stock(&second, &lines, Utc::now()).await,
            Err(ReserveError::InsufficientStock(_))
        ));
        assert_eq!(store.stock_of(&sku("SKU-A")), Some(0));
    }

    #[tokio::test]
    async fn a_reservation_for_an_order_that_is_no_longer_pending_is_refused() {
        let store = MemoryStore::with_products([product("SKU-A", 3)]);
        let id = pending_order(&store, vec![line("SKU-A", 1)]).await;
        store
            .transition(&id, OrderStatus::Pending, OrderStatus::Rejected, Utc::now())
            .await
            .unwrap();
        assert_eq!(
            store
                .reserve_stock(&id, &[line("SKU-A", 1)], Utc::now())
                .await,
            Err(ReserveError::OrderNotPending {
                actual: Some(OrderStatus::Rejected)
            })
        );
        assert_eq!(store.stock_of(&sku("SKU-A")), Some(3));
    }

    #[tokio::test]
    async fn a_release_returns_the_stock_once_and_cancels_the_order() {
        let store = MemoryStore::with_products([product("SKU-A", 3)]);
        let id = pending_order(&store, vec![line("SKU-A", 2)]).await;
        store
            .reserve_stock(&id, &[line("SKU-A", 2)], Utc::now())
            .await
            .unwrap();
        assert_eq!(
            store.release_stock(&id, Utc::now()).await,
            Err(ReleaseError::OrderNotPaymentFailed {
                actual: Some(OrderStatus::Reserved)
            })
        );
        store
            .transition(
                &id,
                OrderStatus::Reserved,
                OrderStatus::PaymentFailed,
                Utc::now(),
            )
            .await
            .unwrap();
        let released = store.release_stock(&id, Utc::now()).await.unwrap();
        assert_eq!(released, vec![line("SKU-A", 2)]);
        assert_eq!(store.stock_of(&sku("SKU-A")), Some(3));
        assert_eq!(store.order(&id).unwrap().status, OrderStatus::Cancelled);
        assert_eq!(
            store.release_stock(&id, Utc::now()).await,
            Err(ReleaseError::NotHeld)
        );
        assert_eq!(store.stock_of(&sku("SKU-A")), Some(3));
    }

    #[tokio::test]
    async fn the_ledger_keeps_the_first_entry_per_order() {
        let store = MemoryStore::new();
        let order_id = OrderId::new();
        let entry = |charge_id: &str| ChargeRecord {
            order_id: order_id.clone(),
            amount: Money::new(100, Currency::EUR),
            outcome: ChargeOutcome::Approved {
                charge_id: charge_id.into(),
            },
            at: Utc::now(),
        };
        assert_eq!(store.record(&entry("ch_1")).await.unwrap(), Recorded::New);
        let again = store.record(&entry("ch_2")).await.unwrap();
        assert!(matches!(again, Recorded::Existing(r) if r.outcome == entry("ch_1").outcome));
        assert_eq!(store.ledger_entries().len(), 1);
    }

    fn settlement(order_id: &OrderId) -> Settlement {
        Settlement {
            record: ChargeRecord {
                order_id: order_id.clone(),
                amount: Money::new(1000, Currency::EUR),
                outcome: ChargeOutcome::Approved {
                    charge_id: "ch_1".into(),
                },
                at: Utc::now(),
            },
            key: format!("charge#{order_id}"),
            result: "approved".into(),
            to: OrderStatus::Confirmed,
        }
    }

    #[tokio::test]
    async fn a_settlement_writes_the_entry_completes_the_key_and_confirms_the_order_at_once() {
        let store = MemoryStore::with_products([product("SKU-A", 5)]);
        let id = pending_order(&store, vec![line("SKU-A", 1)]).await;
        store
            .reserve_stock(&id, &[line("SKU-A", 1)], Utc::now())
            .await
            .unwrap();
        let settle = settlement(&id);
        let now = Utc::now();
        store.claim(&settle.key, "h", times(now)).await.unwrap();

        store.settle(&settle, now).await.unwrap();

        assert_eq!(store.ledger_entries(), vec![settle.record.clone()]);
        assert_eq!(store.order(&id).unwrap().status, OrderStatus::Confirmed);
        assert_eq!(
            store.claim(&settle.key, "h", times(now)).await.unwrap(),
            Claim::Completed("approved".into())
        );
        let again = store.settle(&settle, now).await.unwrap_err();
        assert_eq!(
            again,
            SettleError::Refused(
                "the order has a ledger entry; the key is not held; the order is not RESERVED"
                    .into()
            )
        );
    }

    #[tokio::test]
    async fn a_refused_settlement_writes_nothing() {
        let store = MemoryStore::with_products([product("SKU-A", 5)]);
        let id = pending_order(&store, vec![line("SKU-A", 1)]).await;
        let settle = settlement(&id);
        let now = Utc::now();
        store.claim(&settle.key, "h", times(now)).await.unwrap();

        let refused = store.settle(&settle, now).await.unwrap_err();

        assert_eq!(
            refused,
            SettleError::Refused("the order is not RESERVED".into())
        );
        assert!(store.ledger_entries().is_empty());
        assert_eq!(store.order(&id).unwrap().status, OrderStatus::Pending);
        assert_eq!(
            store.claim(&settle.key, "h", times(now)).await.unwrap(),
            Claim::InProgress,
            "the key is still held, not completed"
        );
    }

    fn times(now: DateTime<Utc>) -> ClaimTimes {
        ClaimTimes {
            now,
            lock_until: now + Duration::seconds(30),
            expires_at: now + Duration::hours(24),
        }
    }

    #[tokio::test]
    async fn an_idempotency_key_is_claimed_once_then_reports_its_result() {
        let store = MemoryStore::new();
        let now = Utc::now();
        assert_eq!(
            store.claim("k", "h", times(now)).await.unwrap(),
            Claim::Acquired
        );
        assert_eq!(
            store.claim("k", "h", times(now)).await.unwrap(),
            Claim::InProgress
        );
        assert_eq!(
            store.claim("k", "other", times(now)).await,
            Err(IdempotencyError::PayloadMismatch)
        );
        store.complete("k", "done").await.unwrap();
        assert_eq!(
            store.claim("k", "h", times(now)).await.unwrap(),
            Claim::Completed("done".into())
        );
        assert_eq!(
            store.complete("k", "again").await,
            Err(IdempotencyError::NotHeld)
        );
    }

    #[tokio::test]
    async fn an_expired_lock_is_taken_over_and_an_expired_record_is_forgotten() {
        let store = MemoryStore::new();
        let now = Utc::now();
        store.claim("k", "h", times(now)).await.unwrap();
        let after_lock = now + Duration::seconds(31);
        assert_eq!(
            store.claim("k", "h", times(after_lock)).await.unwrap(),
            Claim::Acquired
        );
        store.complete("k", "done").await.unwrap();
        let after_expiry = now + Duration::hours(25);
        assert_eq!(
            store
                .claim("k", "new-payload", times(after_expiry))
                .await
                .unwrap(),
            Claim::Acquired
        );
    }

    #[tokio::test]
    async fn a_released_key_can_be_claimed_again_at_once() {
        let store = MemoryStore::new();
        let now = Utc::now();
        store.claim("k", "h", times(now)).await.unwrap();
        store.release("k").await.unwrap();
        assert_eq!(
            store.claim("k", "h", times(now)).await.unwrap(),
            Claim::Acquired
        );
    }

    #[tokio::test]
    async fn injected_store_failures_fail_exactly_the_next_calls() {
        let store = MemoryStore::with_products([product("SKU-A", 1)]);
        store.fail_next(2);
        assert!(store.all_products().await.is_err());
        assert!(store.all_products().await.is_err());
        assert_eq!(store.all_products().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_event_and_notification_fakes_record_and_can_fail() {
        let events = MemoryEvents::new();
        events.fail_next(1);
        assert!(events.publish(&[]).await.is_err());
        assert!(events.publish(&[]).await.is_ok());
        let notifier = MemoryNotifier::new();
        notifier.fail_next(1);
        let n = Notification {
            kind: crate::events::NotificationKind::OrderConfirmed,
            order_id: OrderId::new(),
            email: Email::parse("a@example.com").unwrap(),
            subject: "s".into(),
            text: "t".into(),
        };
        assert!(notifier.notify(&n).await.is_err());
        assert_eq!(notifier.notify(&n).await.unwrap(), "msg-1");
        assert_eq!(notifier.sent(), vec![n]);
    }
}
