//! The workload of a chaos run: a seeded mix of orders of six kinds, each with the one outcome
//! it must reach, and the catalog they are placed against.

use serde::Serialize;
use serde_json::{json, Value};

use orderflow_shared::domain::{Currency, Money, Sku};
use orderflow_shared::ports::Product;

use super::ChaosError;
use crate::harness::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// An approved card, a SKU with plenty of stock: must be CONFIRMED.
    Approved,
    /// A declined card: must be CANCELLED, its stock given back.
    Declined,
    /// One unit of the flash-sale SKU, whose stock is a third of its orders.
    Hot,
    /// A SKU with no stock: must be REJECTED.
    OutOfStock,
    /// An approved order sent twice at once with one `Idempotency-Key`: one CONFIRMED order.
    DuplicateKey,
    /// An approved order sent without an `Idempotency-Key`, by a customer of its own (so every
    /// order it stores is found by its customer): CONFIRMED, and so is each extra order a
    /// retry placed (see `place::KEYLESS_RETRY`).
    Keyless,
}

#[derive(Debug, Clone)]
pub struct Planned {
    pub kind: Kind,
    pub customer: String,
    /// Its `Idempotency-Key`, or for a keyless order its label in the run's lines.
    pub key: String,
    pub sku: &'static str,
    pub quantity: u32,
    pub body: Value,
}

pub const PLENTY: [&str; 3] = ["SKU-CHAOS-TEE", "SKU-CHAOS-MUG", "SKU-CHAOS-CAP"];
pub const HOT: &str = "SKU-CHAOS-HOT";
pub const GONE: &str = "SKU-CHAOS-GONE";

/// The orders of a run and the catalog they are placed against.
pub fn plan(orders: usize, seed: u64) -> Result<(Vec<Planned>, Vec<Product>), ChaosError> {
    let mut rng = Rng::new(seed);
    let planned: Vec<Planned> = (0..orders).map(|i| order(&mut rng, seed, i)).collect();
    let catalog = catalog(&planned)?;
    Ok((hot_as_one_burst(planned), catalog))
}

/// A flash sale comes as a burst: the hot SKU's orders are placed one after another from the
/// middle of the run, so their reservations meet on its one item at once (transaction
/// conflicts, its write rate) while the rest of the mix is moving.
fn hot_as_one_burst(planned: Vec<Planned>) -> Vec<Planned> {
    let (hot, rest): (Vec<Planned>, Vec<Planned>) =
        planned.into_iter().partition(|p| p.kind == Kind::Hot);
    let middle = rest.len() / 2;
    let mut rest = rest.into_iter();
    let mut burst: Vec<Planned> = rest.by_ref().take(middle).collect();
    burst.extend(hot);
    burst.extend(rest);
    burst
}

fn order(rng: &mut Rng, seed: u64, i: usize) -> Planned {
    let kind = match rng.below(100) {
        0..=46 => Kind::Approved,
        47..=61 => Kind::Declined,
        62..=76 => Kind::Hot,
        77..=83 => Kind::OutOfStock,
        84..=89 => Kind::DuplicateKey,
        _ => Kind::Keyless,
    };
    let (sku, quantity) = match kind {
        Kind::Hot => (HOT, 1),
        Kind::OutOfStock => (GONE, 1),
        _ => {
            let pick = usize::try_from(rng.below(3)).unwrap_or(0);
            (PLENTY[pick], 1 + u32::try_from(rng.below(3)).unwrap_or(0))
        }
    };
    let token = match kind {
        Kind::Declined => "tok_declined",
        _ if rng.below(2) == 0 => "tok_visa",
        _ => "tok_mastercard",
    };
    let customer = match kind {
        Kind::Keyless => format!("cust-chaos-keyless-{seed}-{i}"),
        _ => format!("cust-chaos-{}", rng.below(64)),
    };
    let body = json!({
        "customerId": customer,
        "email": format!("{customer}@example.com"),
        "items": [{"sku": sku, "quantity": quantity}],
        "paymentToken": token,
    });
    Planned {
        kind,
        customer,
        key: format!("chaos-{seed}-{i}"),
        sku,
        quantity,
        body,
    }
}

/// Plenty of stock for every plentiful SKU's orders (so an approved order has exactly one
/// right outcome), counting every attempt of a keyless order as an order, a third of the hot
/// SKU's, none of the sold-out one.
fn catalog(planned: &[Planned]) -> Result<Vec<Product>, ChaosError> {
    let demand = |sku: &str| -> u32 {
        planned
            .iter()
            .filter(|p| p.sku == sku)
            .map(|p| match p.kind {
                Kind::Keyless => p.quantity * super::place::KEYLESS_RETRY.attempts,
                _ => p.quantity,
            })
            .sum()
    };
    let hot_orders =
        u32::try_from(planned.iter().filter(|p| p.kind == Kind::Hot).count()).unwrap_or(u32::MAX);
    let mut catalog = Vec::new();
    for (sku, (name, cents)) in PLENTY.iter().zip([
        ("Chaos tee", 1999),
        ("Chaos mug", 1200),
        ("Chaos cap", 2450),
    ]) {
        catalog.push(product(sku, name, cents, demand(sku) + 25)?);
    }
    catalog.push(product(
        HOT,
        "Chaos flash sneaker",
        8900,
        (hot_orders / 3).max(1),
    )?);
    catalog.push(product(GONE, "Chaos sold-out jacket", 12900, 0)?);
    Ok(catalog)
}

fn product(sku: &str, name: &str, cents: i64, stock: u32) -> Result<Product, ChaosError> {
    Ok(Product {
        sku: Sku::parse(sku).map_err(|e| ChaosError::Setup(format!("{sku}: {e}")))?,
        name: name.to_owned(),
        price: Money::new(cents, Currency::EUR),
        stock,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_same_seed_plans_the_same_orders_and_another_seed_does_not() {
        let (a, catalog_a) = plan(200, 7).unwrap();
        let (b, catalog_b) = plan(200, 7).unwrap();
        let (c, _) = plan(200, 8).unwrap();
        let bodies = |p: &[Planned]| p.iter().map(|p| p.body.to_string()).collect::<Vec<_>>();
        assert_eq!(bodies(&a), bodies(&b));
        assert_eq!(catalog_a, catalog_b);
        assert_ne!(bodies(&a), bodies(&c));
    }

    #[test]
    fn the_plan_mixes_every_kind_and_stocks_the_plentiful_skus_for_all_their_orders() {
        let (planned, catalog) = plan(1000, 7).unwrap();
        for kind in [
            Kind::Approved,
            Kind::Declined,
            Kind::Hot,
            Kind::OutOfStock,
            Kind::DuplicateKey,
            Kind::Keyless,
        ] {
            let n = planned.iter().filter(|p| p.kind == kind).count();
            assert!(n > 30, "{kind:?}: only {n} of 1000");
        }
        for sku in PLENTY {
            let demand: u32 = planned
                .iter()
                .filter(|p| p.sku == sku)
                .map(|p| p.quantity)
                .sum();
            let stock = catalog
                .iter()
                .find(|p| p.sku.as_str() == sku)
                .unwrap()
                .stock;
            assert!(stock >= demand, "{sku}: {stock} < {demand}");
        }
        let hot = planned.iter().filter(|p| p.kind == Kind::Hot).count() as u32;
        let hot_stock = catalog
            .iter()
            .find(|p| p.sku.as_str() == HOT)
            .unwrap()
            .stock;
        assert!(hot_stock < hot, "the hot SKU sells out");
        let keys: HashSet<&str> = planned.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys.len(), planned.len(), "one key per planned order");
        let keyless: Vec<&Planned> = planned.iter().filter(|p| p.kind == Kind::Keyless).collect();
        let customers: HashSet<&str> = keyless.iter().map(|p| p.customer.as_str()).collect();
        assert_eq!(customers.len(), keyless.len(), "a customer of its own each");
        assert!(keyless.iter().all(|p| PLENTY.contains(&p.sku)));
    }

    #[test]
    fn the_hot_skus_orders_come_as_one_burst_in_the_middle_of_the_run() {
        let (planned, _) = plan(1000, 7).unwrap();
        let hot: Vec<usize> = planned
            .iter()
            .enumerate()
            .filter(|(_, p)| p.kind == Kind::Hot)
            .map(|(i, _)| i)
            .collect();
        let (first, last) = (hot[0], hot[hot.len() - 1]);
        assert_eq!(
            last - first + 1,
            hot.len(),
            "one unbroken run of hot orders"
        );
        assert_eq!(first, (planned.len() - hot.len()) / 2);
    }

    #[test]
    fn every_planned_body_is_a_request_the_api_accepts() {
        let (planned, _) = plan(300, 3).unwrap();
        for p in planned {
            let body = p.body.to_string();
            assert!(
                orderflow_shared::api::parse_place_order(body.as_bytes()).is_ok(),
                "{body}"
            );
        }
    }
}
