//! The catalog in the Inventory table (`SKU#<sku>` items) as [`Catalog`]: a batch read for an
//! order's SKUs, a scan for the whole list.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use aws_sdk_dynamodb::Client;

use super::item::{product_from_item, product_key, product_to_item, s, Item, PRODUCT_PREFIX};
use super::table::{build_error, unavailable, Table};
use crate::domain::Sku;
use crate::ports::{Catalog, Product, StoreError};

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

    /// Writes a catalog entry, replacing any entry for the same SKU (seeding, tests).
    pub async fn put_product(&self, product: &Product) -> Result<(), StoreError> {
        self.inventory
            .client
            .put_item()
            .table_name(&self.inventory.name)
            .set_item(Some(product_to_item(product)))
            .send()
            .await
            .map_err(|e| unavailable("PutItem (product)", e))?;
        Ok(())
    }

    /// One chunk of keys through `BatchGetItem`, asking again for unprocessed keys.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let table = &self.inventory.name;
        let mut items = Vec::new();
        let mut pending = keys;
        for attempt in 0..BATCH_GET_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
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
}

#[async_trait]
impl Catalog for DynamoCatalog {
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let unique: Vec<&Sku> = {
            let mut seen = HashSet::new();
            skus.iter().filter(|s| seen.insert(*s)).collect()
        };
        let mut found: HashMap<Sku, Product> = HashMap::new();
        for chunk in unique.chunks(MAX_BATCH_GET_KEYS) {
            let keys = chunk
                .iter()
                .map(|sku| HashMap::from([("pk".to_owned(), s(product_key(sku)))]))
                .collect();
            for item in self.batch_get(keys).await? {
                let product = product_from_item(&item)?;
                found.insert(product.sku.clone(), product);
            }
        }
        Ok(skus.iter().filter_map(|s| found.get(s).cloned()).collect())
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        let mut products = Vec::new();
        let mut start_key: Option<Item> = None;
        loop {
            let out = self
                .inventory
                .client
                .scan()
                .table_name(&self.inventory.name)
                .filter_expression("begins_with(pk, :prefix)")
                .expression_attribute_values(":prefix", s(PRODUCT_PREFIX))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(|e| unavailable("Scan (catalog)", e))?;
            for item in out.items() {
                products.push(product_from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => break,
            }
        }
        products.sort_by(|a, b| a.sku.cmp(&b.sku));
        Ok(products)
    }
}
