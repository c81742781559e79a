//! The stock check of a run: what the confirmed orders took of each SKU, against the stock it
//! was seeded with and the stock the inventory table holds at the end.

use std::collections::HashMap;

use orderflow_shared::adapters::dynamodb::DynamoStore;
use orderflow_shared::domain::Sku;
use orderflow_shared::ports::{Catalog, Product};

/// One SKU at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuStock {
    pub sku: String,
    pub seeded: u64,
    /// Units the confirmed orders took.
    pub took: u64,
    /// What the inventory table holds; `None` when it could not be read.
    pub now: Option<u64>,
}

impl SkuStock {
    /// Units sold beyond the seeded stock.
    pub fn oversold(&self) -> u64 {
        self.took.saturating_sub(self.seeded)
    }

    /// Whether the table holds the seeded stock minus what was taken.
    pub fn adds_up(&self) -> bool {
        self.now == Some(self.seeded.saturating_sub(self.took))
    }
}

/// Each catalog SKU's end state, `sold` being units per SKU of the confirmed orders. A stock
/// that cannot be read is reported with `say` and leaves `now` empty.
pub async fn check(
    store: &DynamoStore,
    catalog: &[Product],
    sold: &HashMap<&str, u64>,
    say: impl Fn(&str),
) -> Vec<SkuStock> {
    let skus: Vec<Sku> = catalog.iter().map(|p| p.sku.clone()).collect();
    let now: HashMap<String, u32> = match store.products(&skus).await {
        Ok(products) => products
            .into_iter()
            .map(|p| (p.sku.as_str().to_owned(), p.stock))
            .collect(),
        Err(e) => {
            say(&format!("cannot read the stock: {e}"));
            HashMap::new()
        }
    };
    catalog
        .iter()
        .map(|p| SkuStock {
            sku: p.sku.as_str().to_owned(),
            seeded: u64::from(p.stock),
            took: sold.get(p.sku.as_str()).copied().unwrap_or(0),
            now: now.get(p.sku.as_str()).map(|s| u64::from(*s)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(seeded: u64, took: u64, now: Option<u64>) -> SkuStock {
        SkuStock {
            sku: "SKU-A".into(),
            seeded,
            took,
            now,
        }
    }

    #[test]
    fn a_stock_adds_up_when_the_table_holds_the_seed_minus_what_was_taken() {
        assert!(sku(10, 4, Some(6)).adds_up());
        assert!(!sku(10, 4, Some(7)).adds_up());
        assert!(!sku(10, 4, None).adds_up());
        assert_eq!(sku(10, 4, Some(6)).oversold(), 0);
    }

    #[test]
    fn taking_more_than_the_seed_is_oversold_by_the_difference() {
        let over = sku(3, 5, Some(0));
        assert_eq!(over.oversold(), 2);
        assert!(over.adds_up(), "the table cannot go below zero");
    }
}
