//! The catalog in the Inventory table as [`Catalog`]. A product item (`SKU#<sku>`) holds the
//! name, the price, shard 0's stock and the shard count; further shards are `SKU#<sku>#<i>`
//! (`item::shard_key`). The same table holds one reservation item per order ever reserved, so
//! the whole catalog is never read by scanning the table: only product items carry the `sku`
//! attribute that the sparse index [`CATALOG_INDEX`] is keyed on, so scanning the index reads
//! the catalog and nothing else, however many orders there were. Stock is not projected into
//! the index (a reservation writes only the table, never the index), so the list reads it
//! from the shard items in one `BatchGetItem`. An order's SKUs are one `BatchGetItem` of their
//! product items (and, for their stock, one more of their further shards; pricing an order
//! needs no stock: `listings`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use aws_sdk_dynamodb::Client;

use super::item::{
    entry_to_items, listing_from_item, product_from_item, product_key, s, shard_key,
    shards_from_item, stock_from_item, Item,
};
use super::retry::send;
use super::table::{build_error, unavailable, Table};
use crate::domain::{ShardCount, Sku};
use crate::ports::{Catalog, CatalogEntry, Listing, Product, StoreError};

/// The Inventory table's sparse global secondary index of product items, keyed on `sku`,
/// projecting `name`, `price` and `shards` (infra/template.yaml).
pub const CATALOG_INDEX: &str = "catalog";

/// DynamoDB's limit on the keys of one `BatchGetItem`.
const MAX_BATCH_GET_KEYS: usize = 100;
/// How often unprocessed keys of a `BatchGetItem` are asked for again before giving up.
const BATCH_GET_ATTEMPTS: u32 = 5;

/// The catalog over DynamoDB: the Inventory table only, read-only but for seeding.
#[derive(Debug, Clone)]
pub struct DynamoCatalog {
    pub(super) inventory: Table,
}

impl DynamoCatalog {
    pub fn new(client: Client, inventory_table: impl Into<String>) -> Self {
        DynamoCatalog {
            inventory: Table::new(client, inventory_table),
        }
    }

    /// Writes a catalog entry with its stock in one shard, replacing any entry for the same
    /// SKU (seeding, tests).
    pub async fn put_product(&self, product: &Product) -> Result<(), StoreError> {
        self.put_entry(&CatalogEntry::from(product)).await
    }

    /// Writes a catalog entry, its stock split evenly over its shards, replacing any entry for
    /// the same SKU and deleting shards beyond the new count (seeding and tests, while the SKU
    /// does not sell: the items are written one by one).
    pub async fn put_entry(&self, entry: &CatalogEntry) -> Result<(), StoreError> {
        let sku = &entry.product.sku;
        let before = self
            .inventory
            .get_item("pk", product_key(sku), "GetItem (product)")
            .await?
            .map(|item| shards_from_item(&item))
            .transpose()?
            .unwrap_or(ShardCount::ONE);
        for item in entry_to_items(entry) {
            let request = self
                .inventory
                .client
                .put_item()
                .table_name(&self.inventory.name)
                .set_item(Some(item));
            send("PutItem (product)", || request.clone().send())
                .await
                .map_err(|e| unavailable("PutItem (product)", e))?;
        }
        for shard in entry.shards.get()..before.get() {
            let request = self
                .inventory
                .client
                .delete_item()
                .table_name(&self.inventory.name)
                .key("pk", s(shard_key(sku, shard)));
            send("DeleteItem (shard)", || request.clone().send())
                .await
                .map_err(|e| unavailable("DeleteItem (shard)", e))?;
        }
        Ok(())
    }

    /// Items by key through `BatchGetItem` (chunks of 100, unprocessed keys asked again),
    /// `projection` naming the attributes wanted (`None`: all).
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Item>,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut keys = keys.into_iter().peekable();
        while keys.peek().is_some() {
            let chunk: Vec<Item> = keys.by_ref().take(MAX_BATCH_GET_KEYS).collect();
            items.extend(self.batch_get_chunk(chunk, projection).await?);
        }
        Ok(items)
    }

    async fn batch_get_chunk(
        &self,
        keys: Vec<Item>,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let table = &self.inventory.name;
        let mut items = Vec::new();
        let mut pending = keys;
        for attempt in 0..BATCH_GET_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .set_projection_expression(projection.map(str::to_owned))
                .build()
                .map_err(build_error)?;
            let out = self
                .inventory
                .client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| unavailable("BatchGetItem (catalog)", e))?;
            if let Some(mut responses) = out.responses {
                items.extend(responses.remove(table).unwrap_or_default());
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(items);
            }
        }
        Err(StoreError::Unavailable(format!(
            "BatchGetItem (catalog): {} key(s) still unprocessed after {BATCH_GET_ATTEMPTS} attempts (throttled); retry",
            pending.len()
        )))
    }

    /// Adds to each product the stock of its shards `from..N`, read in one `BatchGetItem`
    /// (a shard that is missing holds nothing).
    async fn add_shard_stock(
        &self,
        products: &mut [(Product, ShardCount)],
        from: u16,
    ) -> Result<(), StoreError> {
        let keys: Vec<Item> = products
            .iter()
            .flat_map(|(p, shards)| (from..shards.get()).map(|i| shard_key(&p.sku, i)))
            .map(|key| HashMap::from([("pk".to_owned(), s(key))]))
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let mut stock_by_key = HashMap::new();
        for item in self.batch_get(keys, Some("pk, stock")).await? {
            if let Some(aws_sdk_dynamodb::types::AttributeValue::S(pk)) = item.get("pk") {
                stock_by_key.insert(pk.clone(), stock_from_item(&item)?);
            }
        }
        for (product, shards) in products.iter_mut() {
            for i in from..shards.get() {
                let stock = stock_by_key
                    .get(&shard_key(&product.sku, i))
                    .copied()
                    .unwrap_or(0);
                product.stock = product.stock.saturating_add(stock);
            }
        }
        Ok(())
    }

    /// The product items of these SKUs (each asked once), in one `BatchGetItem` per 100.
    async fn product_items(&self, skus: &[Sku]) -> Result<Vec<Item>, StoreError> {
        let mut seen = HashSet::new();
        let keys = skus
            .iter()
            .filter(|s| seen.insert(*s))
            .map(|sku| HashMap::from([("pk".to_owned(), s(product_key(sku)))]))
            .collect();
        self.batch_get(keys, None).await
    }

    /// Every product item, through the sparse catalog index (pages of up to 1 MB).
    async fn catalog_index(&self) -> Result<Vec<(Product, ShardCount)>, StoreError> {
        let mut listings = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let out = self
                .inventory
                .client
                .scan()
                .table_name(&self.inventory.name)
                .index_name(CATALOG_INDEX)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| unavailable("Scan (catalog index)", e))?;
            for item in out.items() {
                listings.push(listing_from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(listings),
            }
        }
    }
}

#[async_trait]
impl Catalog for DynamoCatalog {
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let mut found = self
            .product_items(skus)
            .await?
            .iter()
            .map(product_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        // The product items hold shard 0; only sharded SKUs cost a second read.
        self.add_shard_stock(&mut found, 1).await?;
        let by_sku: HashMap<Sku, Product> =
            found.into_iter().map(|(p, _)| (p.sku.clone(), p)).collect();
        Ok(skus.iter().filter_map(|s| by_sku.get(s).cloned()).collect())
    }

    /// The product items alone: an order's prices never read the further shards.
    async fn listings(&self, skus: &[Sku]) -> Result<Vec<Listing>, StoreError> {
        let found: HashMap<Sku, Listing> = self
            .product_items(skus)
            .await?
            .iter()
            .map(|item| {
                let (p, _) = listing_from_item(item)?;
                Ok((
                    p.sku.clone(),
                    Listing {
                        sku: p.sku,
                        name: p.name,
                        price: p.price,
                    },
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(skus.iter().filter_map(|s| found.get(s).cloned()).collect())
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        let mut listed = self.catalog_index().await?;
        self.add_shard_stock(&mut listed, 0).await?;
        let mut products: Vec<Product> = listed.into_iter().map(|(p, _)| p).collect();
        products.sort_by(|a, b| a.sku.cmp(&b.sku));
        Ok(products)
    }
}
