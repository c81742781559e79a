//! Every store over all four tables at once, for the local cloud (seeding the catalog, reading
//! orders and the ledger) and the adapter tests. Tool and test code (`testing`): a function
//! builds only the stores of the ports it uses.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::{
    DynamoCatalog, DynamoIdempotency, DynamoLedger, DynamoOrders, DynamoStock, LedgerTables,
    StockTables,
};
use crate::domain::{Order, OrderId, OrderLine, OrderStatus, Sku};
use crate::idempotency::{
    AttemptClaim, AttemptStore, Claim, ClaimTimes, IdempotencyError, IdempotencyStore, Intent,
};
use crate::ports::{
    Catalog, CatalogEntry, ChargeRecord, Inventory, Listing, OrderRepository, OrderWriteError,
    PaymentLedger, Product, Recorded, ReleaseError, Reservation, ReserveError, SettleError,
    Settlement, StoreError,
};

/// The physical names of the four tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub orders: String,
    pub inventory: String,
    pub payments: String,
    pub idempotency: String,
}

/// Every store port over DynamoDB: one client, four tables.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    tables: TableNames,
    orders: DynamoOrders,
    catalog: DynamoCatalog,
    stock: DynamoStock,
    ledger: DynamoLedger,
    keys: DynamoIdempotency,
}

impl DynamoStore {
    pub fn new(client: Client, tables: TableNames) -> Self {
        DynamoStore {
            orders: DynamoOrders::new(client.clone(), &tables.orders),
            catalog: DynamoCatalog::new(client.clone(), &tables.inventory),
            stock: DynamoStock::new(
                client.clone(),
                StockTables {
                    inventory: tables.inventory.clone(),
                    orders: tables.orders.clone(),
                },
            ),
            ledger: DynamoLedger::new(
                client.clone(),
                LedgerTables {
                    payments: tables.payments.clone(),
                    idempotency: tables.idempotency.clone(),
                    orders: tables.orders.clone(),
                },
            ),
            keys: DynamoIdempotency::new(client.clone(), &tables.idempotency),
            tables,
        }
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Writes a catalog entry with its stock in one shard, replacing any entry for the same SKU
    /// (seeding, tests).
    pub async fn put_product(&self, product: &Product) -> Result<(), StoreError> {
        self.catalog.put_product(product).await
    }

    /// Writes a catalog entry, its stock split over its shards (seeding, tests).
    pub async fn put_entry(&self, entry: &CatalogEntry) -> Result<(), StoreError> {
        self.catalog.put_entry(entry).await
    }

    /// The reservation recorded for an order, if any (consistent read).
    pub async fn reservation(&self, order_id: &OrderId) -> Result<Option<Reservation>, StoreError> {
        self.stock.reservation(order_id).await
    }
}

#[async_trait]
impl OrderRepository for DynamoStore {
    async fn create(&self, order: &Order) -> Result<(), OrderWriteError> {
        self.orders.create(order).await
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.orders.get(id).await
    }

    async fn transition(
        &self,
        id: &OrderId,
        from: OrderStatus,
        to: OrderStatus,
        at: DateTime<Utc>,
    ) -> Result<(), OrderWriteError> {
        self.orders.transition(id, from, to, at).await
    }
}

#[async_trait]
impl Catalog for DynamoStore {
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        self.catalog.products(skus).await
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        self.catalog.all_products().await
    }

    async fn listings(&self, skus: &[Sku]) -> Result<Vec<Listing>, StoreError> {
        self.catalog.listings(skus).await
    }
}

#[async_trait]
impl Inventory for DynamoStore {
    async fn reserve_stock(
        &self,
        order_id: &OrderId,
        lines: &[OrderLine],
        at: DateTime<Utc>,
    ) -> Result<(), ReserveError> {
        self.stock.reserve_stock(order_id, lines, at).await
    }

    async fn release_stock(
        &self,
        order_id: &OrderId,
        at: DateTime<Utc>,
    ) -> Result<Vec<OrderLine>, ReleaseError> {
        self.stock.release_stock(order_id, at).await
    }
}

#[async_trait]
impl PaymentLedger for DynamoStore {
    async fn record(&self, record: &ChargeRecord) -> Result<Recorded, StoreError> {
        self.ledger.record(record).await
    }

    async fn charge_for(&self, order_id: &OrderId) -> Result<Option<ChargeRecord>, StoreError> {
        self.ledger.charge_for(order_id).await
    }

    async fn settle(&self, settlement: &Settlement, at: DateTime<Utc>) -> Result<(), SettleError> {
        self.ledger.settle(settlement, at).await
    }
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim(
        &self,
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
    ) -> Result<Claim, IdempotencyError> {
        self.keys.claim(key, payload_hash, times).await
    }

    async fn complete(&self, key: &str, result: &str) -> Result<(), IdempotencyError> {
        self.keys.complete(key, result).await
    }

    async fn release(&self, key: &str) -> Result<(), IdempotencyError> {
        self.keys.release(key).await
    }

    async fn claim_many(
        &self,
        claims: &[(String, String)],
        times: ClaimTimes,
    ) -> Vec<Result<Claim, IdempotencyError>> {
        self.keys.claim_many(claims, times).await
    }

    async fn complete_many(&self, done: &[(String, String)]) -> Vec<Result<(), IdempotencyError>> {
        self.keys.complete_many(done).await
    }
}

#[async_trait]
impl AttemptStore for DynamoStore {
    async fn claim_attempt(
        &self,
        key: &str,
        payload_hash: &str,
        times: ClaimTimes,
        intent: Intent,
    ) -> Result<AttemptClaim, IdempotencyError> {
        self.keys
            .claim_attempt(key, payload_hash, times, intent)
            .await
    }

    async fn unlock(&self, key: &str) -> Result<(), IdempotencyError> {
        self.keys.unlock(key).await
    }
}
