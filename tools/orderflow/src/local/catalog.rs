//! The catalog a local cloud starts with: a seed file (`infra/seed/catalog.json`, or one a run
//! writes for itself), read, written, and put into the inventory table.
//!
//! The seed is a JSON array of `{sku, name, price: {amount, currency}, stock, shards?}`:
//! `stock` is the SKU's total, `shards` (1 to 100, default 1) how many items hold it
//! (`orderflow_shared::domain::shards`), e.g. a flash sale's SKU at `"shards": 8`.

use std::path::Path;

use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::domain::{Money, ShardCount, Sku};
use orderflow_shared::ports::{CatalogEntry, Product};

use super::up::UpError;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedProduct {
    sku: String,
    name: String,
    price: Money,
    stock: u32,
    #[serde(default)]
    shards: ShardCount,
}

fn seed_error(path: &Path, message: String) -> UpError {
    UpError::Seed {
        path: path.display().to_string(),
        message,
    }
}

pub fn read_seed(path: &Path) -> Result<Vec<CatalogEntry>, UpError> {
    let err = |message: String| seed_error(path, message);
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let items: Vec<SeedProduct> = serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "expected a JSON array of {{sku, name, price: {{amount, currency}}, stock, shards?}}: {e}"
        ))
    })?;
    items
        .into_iter()
        .map(|p| {
            Ok(CatalogEntry {
                product: Product {
                    sku: Sku::parse(&p.sku).map_err(|e| err(format!("{}: {e}", p.sku)))?,
                    name: p.name,
                    price: p.price,
                    stock: p.stock,
                },
                shards: p.shards,
            })
        })
        .collect()
}

/// Writes a catalog in the form `read_seed` reads (for runs that seed their own products):
/// products (one shard each) or catalog entries (`shards` written when more than one).
pub fn write_seed<E: Into<CatalogEntry>>(
    path: &Path,
    catalog: impl IntoIterator<Item = E>,
) -> std::io::Result<()> {
    let items: Vec<serde_json::Value> = catalog
        .into_iter()
        .map(|e| {
            let CatalogEntry { product: p, shards } = e.into();
            let mut item = serde_json::json!({
                "sku": p.sku.as_str(),
                "name": p.name,
                "price": {"amount": p.price.amount, "currency": p.price.currency},
                "stock": p.stock,
            });
            if shards != ShardCount::ONE {
                item["shards"] = serde_json::json!(shards);
            }
            item
        })
        .collect();
    std::fs::write(path, serde_json::to_vec_pretty(&items)?)
}

/// Puts every product of the seed file at `path` into `inventory`; returns how many.
pub async fn seed(
    dynamodb: aws_sdk_dynamodb::Client,
    inventory: String,
    path: &Path,
) -> Result<usize, UpError> {
    let entries = read_seed(path)?;
    let store = DynamoStore::new(
        dynamodb,
        TableNames {
            orders: String::new(),
            inventory,
            payments: String::new(),
            idempotency: String::new(),
        },
    );
    for entry in &entries {
        store
            .put_entry(entry)
            .await
            .map_err(|e| seed_error(path, e.to_string()))?;
    }
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use orderflow_shared::domain::Currency;

    use super::*;

    fn temp_seed() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("orderflow-seed-{}.json", uuid::Uuid::new_v4()))
    }

    fn mug(stock: u32) -> Product {
        Product {
            sku: Sku::parse("SKU-SEED-1").unwrap(),
            name: "Seed mug".into(),
            price: Money::new(1250, Currency::EUR),
            stock,
        }
    }

    #[test]
    fn a_written_catalog_reads_back_the_same() {
        let path = temp_seed();
        let catalog = vec![mug(7)];
        write_seed(&path, &catalog).unwrap();
        let read = read_seed(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read, vec![CatalogEntry::from(mug(7))]);
    }

    #[test]
    fn a_sharded_entry_is_written_with_its_shards_and_read_back() {
        let path = temp_seed();
        let entry = CatalogEntry {
            product: mug(20),
            shards: ShardCount::new(8).unwrap(),
        };
        write_seed(&path, [&entry, &CatalogEntry::from(mug(3))]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let read = read_seed(&path).unwrap();
        std::fs::write(
            &path,
            r#"[{"sku":"SKU-A","name":"x","price":{"amount":1,"currency":"EUR"},"stock":1,"shards":0}]"#,
        )
        .unwrap();
        let zero = read_seed(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read, vec![entry, CatalogEntry::from(mug(3))]);
        assert_eq!(
            text.matches("\"shards\"").count(),
            1,
            "one shard is not written: {text}"
        );
        assert!(zero.contains("shards"), "{zero}");
    }

    #[test]
    fn the_shipped_catalog_reads_and_a_bad_sku_is_refused_with_its_path() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/seed/catalog.json");
        assert!(!read_seed(&shipped).unwrap().is_empty());
        let path = temp_seed();
        std::fs::write(
            &path,
            r#"[{"sku":"not a sku","name":"x","price":{"amount":1,"currency":"EUR"},"stock":1}]"#,
        )
        .unwrap();
        let error = read_seed(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(
            error.contains("not a sku") && error.contains("orderflow-seed-"),
            "{error}"
        );
    }
}
