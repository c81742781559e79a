//! The catalog a local cloud starts with: a seed file (`infra/seed/catalog.json`, or one a run
//! writes for itself), read, written, and put into the inventory table.

use std::path::Path;

use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::domain::{Money, Sku};
use orderflow_shared::ports::Product;

use super::up::UpError;

#[derive(serde::Deserialize)]
struct SeedProduct {
    sku: String,
    name: String,
    price: Money,
    stock: u32,
}

fn seed_error(path: &Path, message: String) -> UpError {
    UpError::Seed {
        path: path.display().to_string(),
        message,
    }
}

pub fn read_seed(path: &Path) -> Result<Vec<Product>, UpError> {
    let err = |message: String| seed_error(path, message);
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let items: Vec<SeedProduct> = serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "expected a JSON array of {{sku, name, price: {{amount, currency}}, stock}}: {e}"
        ))
    })?;
    items
        .into_iter()
        .map(|p| {
            Ok(Product {
                sku: Sku::parse(&p.sku).map_err(|e| err(format!("{}: {e}", p.sku)))?,
                name: p.name,
                price: p.price,
                stock: p.stock,
            })
        })
        .collect()
}

/// Writes a catalog in the form `read_seed` reads (for runs that seed their own products).
pub fn write_seed(path: &Path, catalog: &[Product]) -> std::io::Result<()> {
    let items: Vec<serde_json::Value> = catalog
        .iter()
        .map(|p| {
            serde_json::json!({
                "sku": p.sku.as_str(),
                "name": p.name,
                "price": {"amount": p.price.amount, "currency": p.price.currency},
                "stock": p.stock,
            })
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
    let products = read_seed(path)?;
    let store = DynamoStore::new(
        dynamodb,
        TableNames {
            orders: String::new(),
            inventory,
            payments: String::new(),
            idempotency: String::new(),
        },
    );
    for p in &products {
        store
            .put_product(p)
            .await
            .map_err(|e| seed_error(path, e.to_string()))?;
    }
    Ok(products.len())
}

#[cfg(test)]
mod tests {
    use orderflow_shared::domain::Currency;

    use super::*;

    #[test]
    fn a_written_catalog_reads_back_the_same() {
        let path =
            std::env::temp_dir().join(format!("orderflow-seed-{}.json", uuid::Uuid::new_v4()));
        let catalog = vec![Product {
            sku: Sku::parse("SKU-SEED-1").unwrap(),
            name: "Seed mug".into(),
            price: Money::new(1250, Currency::EUR),
            stock: 7,
        }];
        write_seed(&path, &catalog).unwrap();
        let read = read_seed(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read, catalog);
    }

    #[test]
    fn the_shipped_catalog_reads_and_a_bad_sku_is_refused_with_its_path() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/seed/catalog.json");
        assert!(!read_seed(&shipped).unwrap().is_empty());
        let path =
            std::env::temp_dir().join(format!("orderflow-seed-{}.json", uuid::Uuid::new_v4()));
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
