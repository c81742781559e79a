//! The workload of a load run: a seeded flash sale, and the catalog it is placed against.

use serde_json::{json, Value};

use orderflow_shared::domain::{Currency, Money, Sku};
use orderflow_shared::ports::Product;

use super::LoadError;
use crate::harness::Rng;

pub const HOT: &str = "SKU-LOAD-HOT";
pub const PLENTY: [&str; 3] = ["SKU-LOAD-TEE", "SKU-LOAD-MUG", "SKU-LOAD-CAP"];

#[derive(Debug, Clone)]
pub struct Planned {
    pub customer: String,
    pub key: String,
    pub sku: String,
    pub quantity: u32,
    pub body: Value,
}

/// Half the orders want one unit of the hot SKU, whose stock is a quarter of all orders; the
/// rest buy 1–2 units of plentiful SKUs; one order in 20 pays with a declined card.
pub fn plan(orders: usize, seed: u64) -> Result<(Vec<Planned>, Vec<Product>), LoadError> {
    let mut rng = Rng::new(seed);
    let planned: Vec<Planned> = (0..orders).map(|i| order(&mut rng, seed, i)).collect();
    let demand = |sku: &str| -> u32 {
        planned
            .iter()
            .filter(|p| p.sku == sku)
            .map(|p| p.quantity)
            .sum()
    };
    let hot_stock = u32::try_from(orders / 4).unwrap_or(u32::MAX).max(1);
    let mut catalog = vec![product(HOT, "Flash-sale sneaker", 8900, hot_stock)?];
    for (sku, (name, cents)) in
        PLENTY
            .iter()
            .zip([("Load tee", 1999), ("Load mug", 1200), ("Load cap", 2450)])
    {
        catalog.push(product(sku, name, cents, demand(sku) + 10)?);
    }
    Ok((planned, catalog))
}

fn order(rng: &mut Rng, seed: u64, i: usize) -> Planned {
    let (sku, quantity) = if rng.below(2) == 0 {
        (HOT, 1)
    } else {
        let pick = usize::try_from(rng.below(3)).unwrap_or(0);
        (PLENTY[pick], 1 + u32::try_from(rng.below(2)).unwrap_or(0))
    };
    let token = match rng.below(20) {
        0 => "tok_declined",
        1..=9 => "tok_visa",
        _ => "tok_mastercard",
    };
    let customer = format!("cust-load-{}", rng.below(64));
    let body = json!({
        "customerId": customer,
        "email": format!("{customer}@example.com"),
        "items": [{"sku": sku, "quantity": quantity}],
        "paymentToken": token,
    });
    Planned {
        customer,
        key: format!("load-{seed}-{i}"),
        sku: sku.to_owned(),
        quantity,
        body,
    }
}

fn product(sku: &str, name: &str, cents: i64, stock: u32) -> Result<Product, LoadError> {
    Ok(Product {
        sku: Sku::parse(sku).map_err(|e| LoadError::Setup(format!("{sku}: {e}")))?,
        name: name.to_owned(),
        price: Money::new(cents, Currency::EUR),
        stock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_seeded_sells_the_hot_sku_out_and_stocks_the_rest_for_every_order() {
        let (a, catalog) = plan(400, 7).unwrap();
        let (b, _) = plan(400, 7).unwrap();
        assert_eq!(
            a.iter().map(|p| p.body.to_string()).collect::<Vec<_>>(),
            b.iter().map(|p| p.body.to_string()).collect::<Vec<_>>()
        );
        let hot = a.iter().filter(|p| p.sku == HOT).count() as u32;
        let hot_stock = catalog[0].stock;
        assert_eq!(hot_stock, 100);
        assert!(hot > hot_stock, "{hot} hot orders, stock {hot_stock}");
        for sku in PLENTY {
            let demand: u32 = a.iter().filter(|p| p.sku == sku).map(|p| p.quantity).sum();
            let stock = catalog
                .iter()
                .find(|p| p.sku.as_str() == sku)
                .unwrap()
                .stock;
            assert!(stock >= demand);
        }
        assert!(a.iter().any(|p| p.body["paymentToken"] == "tok_declined"));
        for p in &a {
            assert!(
                orderflow_shared::api::parse_place_order(p.body.to_string().as_bytes()).is_ok()
            );
        }
    }
}
