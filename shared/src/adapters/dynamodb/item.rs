//! Items <-> domain values: one small function per shape, each failure naming the attribute.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::domain::shards::split;
use crate::domain::{
    Currency, CustomerId, Email, Money, Order, OrderId, OrderLine, OrderStatus, PaymentToken,
    Quantity, ShardCount, Sku, StatusChange,
};
use crate::ports::{
    index_time, CatalogEntry, ChargeOutcome, ChargeRecord, OpenShard, Product, Reservation,
    ReservedLine, StoreError,
};

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const PRODUCT_PREFIX: &str = "SKU#";
pub(super) const RESERVATION_PREFIX: &str = "RESERVATION#";
pub(super) const HELD: &str = "HELD";
pub(super) const RELEASED: &str = "RELEASED";
pub(super) const IN_PROGRESS: &str = "IN_PROGRESS";
pub(super) const COMPLETED: &str = "COMPLETED";
/// An order's last transition ([`index_time`]) and, while it is open, its [`OpenShard`]: the
/// sort and partition keys of the open-orders index.
pub(super) const UPDATED_AT: &str = "updatedAt";
pub(super) const OPEN_SHARD: &str = "openShard";

/// An idempotency record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IdempotencyRecord {
    pub(super) payload_hash: String,
    pub(super) completed: Option<String>,
    pub(super) lock_until_ms: i64,
    pub(super) expires_at_secs: i64,
    /// Who claimed it (random per claim); absent in records written before owners existed.
    pub(super) owner: Option<String>,
}

/// Prefixes a conversion error with the item it came from.
pub(super) fn context(err: StoreError, item: &str) -> StoreError {
    match err {
        StoreError::Corrupt(msg) => StoreError::Corrupt(format!("item {item}: {msg}")),
        other => other,
    }
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn time_to_av(at: DateTime<Utc>) -> AttributeValue {
    s(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

pub(super) fn product_key(sku: &Sku) -> String {
    format!("{PRODUCT_PREFIX}{sku}")
}

/// The item holding shard `shard` of a SKU's stock: shard 0 is the product item itself (so a
/// SKU of one shard is stored as before shards existed), shard i > 0 is `SKU#<sku>#<i>` (a SKU
/// has no `#`). Each shard is its own partition key, so their writes spread over partitions.
pub(super) fn shard_key(sku: &Sku, shard: u16) -> String {
    match shard {
        0 => product_key(sku),
        i => format!("{PRODUCT_PREFIX}{sku}#{i}"),
    }
}

pub(super) fn reservation_key(order_id: &OrderId) -> String {
    format!("{RESERVATION_PREFIX}{order_id}")
}

/// Reads attributes of one item (or nested map), naming the attribute's path on failure.
struct Fields<'a> {
    map: &'a Item,
    path: String,
}

impl<'a> Fields<'a> {
    fn top(map: &'a Item) -> Self {
        Fields {
            map,
            path: String::new(),
        }
    }

    fn corrupt(&self, name: &str, problem: impl Display) -> StoreError {
        StoreError::Corrupt(format!("attribute `{}{name}` {problem}", self.path))
    }

    fn get(&self, name: &str) -> Result<&'a AttributeValue, StoreError> {
        self.map
            .get(name)
            .ok_or_else(|| self.corrupt(name, "is missing"))
    }

    fn s(&self, name: &str) -> Result<&'a str, StoreError> {
        match self.get(name)? {
            AttributeValue::S(v) => Ok(v),
            _ => Err(self.corrupt(name, "is not a string (S)")),
        }
    }

    /// A number that may be absent.
    fn n_or<T: FromStr>(&self, name: &str, absent: T) -> Result<T, StoreError> {
        match self.map.get(name) {
            None => Ok(absent),
            Some(_) => self.n(name),
        }
    }

    fn n<T: FromStr>(&self, name: &str) -> Result<T, StoreError> {
        match self.get(name)? {
            AttributeValue::N(v) => v
                .parse()
                .map_err(|_| self.corrupt(name, format!("is not a valid number here: {v}"))),
            _ => Err(self.corrupt(name, "is not a number (N)")),
        }
    }

    fn parse<T, E: Display>(
        &self,
        name: &str,
        parser: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        let raw = self.s(name)?;
        parser(raw).map_err(|e| self.corrupt(name, format!("is invalid: {e}")))
    }

    fn time(&self, name: &str) -> Result<DateTime<Utc>, StoreError> {
        self.parse(name, |raw| {
            DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc))
        })
    }

    fn m(&self, name: &str) -> Result<Fields<'a>, StoreError> {
        match self.get(name)? {
            AttributeValue::M(map) => Ok(Fields {
                map,
                path: format!("{}{name}.", self.path),
            }),
            _ => Err(self.corrupt(name, "is not a map (M)")),
        }
    }

    /// A list of maps.
    fn l(&self, name: &str) -> Result<Vec<Fields<'a>>, StoreError> {
        let AttributeValue::L(list) = self.get(name)? else {
            return Err(self.corrupt(name, "is not a list (L)"));
        };
        list.iter()
            .enumerate()
            .map(|(i, v)| match v {
                AttributeValue::M(map) => Ok(Fields {
                    map,
                    path: format!("{}{name}[{i}].", self.path),
                }),
                _ => Err(self.corrupt(&format!("{name}[{i}]"), "is not a map (M)")),
            })
            .collect()
    }
}

fn money_to_av(money: Money) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("amount".to_owned(), n(money.amount)),
        ("currency".to_owned(), s(money.currency.as_str())),
    ]))
}

fn money_from(fields: &Fields<'_>, name: &str) -> Result<Money, StoreError> {
    let m = fields.m(name)?;
    Ok(Money::new(
        m.n("amount")?,
        m.parse("currency", Currency::parse)?,
    ))
}

fn line_to_map(line: &OrderLine) -> Item {
    HashMap::from([
        ("sku".to_owned(), s(line.sku.as_str())),
        ("quantity".to_owned(), n(line.quantity.get())),
        ("unitPrice".to_owned(), money_to_av(line.unit_price)),
    ])
}

fn lines_to_av(lines: &[OrderLine]) -> AttributeValue {
    AttributeValue::L(
        lines
            .iter()
            .map(|line| AttributeValue::M(line_to_map(line)))
            .collect(),
    )
}

fn line_from(line: &Fields<'_>) -> Result<OrderLine, StoreError> {
    let quantity: u32 = line.n("quantity")?;
    Ok(OrderLine {
        sku: line.parse("sku", Sku::parse)?,
        quantity: Quantity::new(quantity)
            .map_err(|e| line.corrupt("quantity", format!("is invalid: {e}")))?,
        unit_price: money_from(line, "unitPrice")?,
    })
}

fn lines_from(fields: &Fields<'_>, name: &str) -> Result<Vec<OrderLine>, StoreError> {
    fields.l(name)?.iter().map(line_from).collect()
}

pub(super) fn status_change_to_av(status: OrderStatus, at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("status".to_owned(), s(status.as_str())),
        ("at".to_owned(), time_to_av(at)),
    ]))
}

pub(super) fn order_to_item(order: &Order) -> Item {
    let mut item = HashMap::from([
        ("orderId".to_owned(), s(order.order_id.as_str())),
        ("customerId".to_owned(), s(order.customer_id.as_str())),
        ("email".to_owned(), s(order.email.as_str())),
        ("paymentToken".to_owned(), s(order.payment_token.as_str())),
        ("lines".to_owned(), lines_to_av(&order.lines)),
        ("total".to_owned(), money_to_av(order.total)),
        ("status".to_owned(), s(order.status.as_str())),
        (
            "history".to_owned(),
            AttributeValue::L(
                order
                    .history
                    .iter()
                    .map(|h| status_change_to_av(h.status, h.at))
                    .collect(),
            ),
        ),
        ("createdAt".to_owned(), time_to_av(order.created_at)),
    ]);
    item.extend(open_order_attributes(order));
    item
}

/// The open-orders index's attributes (`ports::OpenOrders`): the last transition's time, and
/// the shard while the order is not final (the index is sparse: a final order leaves it).
fn open_order_attributes(order: &Order) -> Vec<(String, AttributeValue)> {
    let mut attributes = vec![(UPDATED_AT.to_owned(), s(index_time(order.updated_at())))];
    if !order.status.is_terminal() {
        let shard = OpenShard::of(&order.order_id).to_string();
        attributes.push((OPEN_SHARD.to_owned(), s(shard)));
    }
    attributes
}

pub(super) fn order_from_item(item: &Item) -> Result<Order, StoreError> {
    let f = Fields::top(item);
    let parse = || -> Result<Order, StoreError> {
        Ok(Order {
            order_id: f.parse("orderId", OrderId::parse)?,
            customer_id: f.parse("customerId", CustomerId::parse)?,
            email: f.parse("email", Email::parse)?,
            payment_token: f.parse("paymentToken", PaymentToken::parse)?,
            lines: lines_from(&f, "lines")?,
            total: money_from(&f, "total")?,
            status: f.parse("status", OrderStatus::from_str)?,
            history: f
                .l("history")?
                .iter()
                .map(|h| {
                    Ok(StatusChange {
                        status: h.parse("status", OrderStatus::from_str)?,
                        at: h.time("at")?,
                    })
                })
                .collect::<Result<_, StoreError>>()?,
            created_at: f.time("createdAt")?,
        })
    };
    parse().map_err(|e| context(e, &order_label(item)))
}

pub(super) fn status_from_item(item: &Item) -> Result<OrderStatus, StoreError> {
    Fields::top(item)
        .parse("status", OrderStatus::from_str)
        .map_err(|e| context(e, &order_label(item)))
}

fn order_label(item: &Item) -> String {
    match item.get("orderId") {
        Some(AttributeValue::S(id)) => format!("order {id}"),
        _ => "order (no orderId)".to_owned(),
    }
}

fn pk_label(item: &Item) -> String {
    match item.get("pk") {
        Some(AttributeValue::S(pk)) => pk.clone(),
        _ => "(no pk)".to_owned(),
    }
}

/// A product's items: the product item (name, price, the `sku` the catalog index is keyed on,
/// shard 0's stock and, when there are several, the shard count) and one item per further
/// shard (`pk` and `stock` only, so the catalog index leaves them out), the total split evenly.
pub(super) fn entry_to_items(entry: &CatalogEntry) -> Vec<Item> {
    let product = &entry.product;
    let stocks = split(product.stock, entry.shards);
    let mut items = Vec::with_capacity(stocks.len());
    for (shard, stock) in entry.shards.indexes().zip(stocks) {
        let mut item = HashMap::from([
            ("pk".to_owned(), s(shard_key(&product.sku, shard))),
            ("stock".to_owned(), n(stock)),
        ]);
        if shard == 0 {
            item.insert("sku".to_owned(), s(product.sku.as_str()));
            item.insert("name".to_owned(), s(&product.name));
            item.insert("price".to_owned(), money_to_av(product.price));
            if entry.shards != ShardCount::ONE {
                item.insert(SHARDS.to_owned(), n(entry.shards));
            }
        }
        items.push(item);
    }
    items
}

/// The attribute of a product item that counts its shards; absent means one.
pub(super) const SHARDS: &str = "shards";

/// The stock of a product or shard item.
pub(super) fn stock_from_item(item: &Item) -> Result<u32, StoreError> {
    Fields::top(item)
        .n("stock")
        .map_err(|e| context(e, &pk_label(item)))
}

/// How many shards a product item says its stock is spread over.
pub(super) fn shards_from_item(item: &Item) -> Result<ShardCount, StoreError> {
    let f = Fields::top(item);
    let count: u32 = f.n_or(SHARDS, 1).map_err(|e| context(e, &pk_label(item)))?;
    ShardCount::new(count).map_err(|e| context(f.corrupt(SHARDS, e), &pk_label(item)))
}

/// What the catalog index holds of a product item (no stock): the product with `stock` 0, and
/// its shard count.
pub(super) fn listing_from_item(item: &Item) -> Result<(Product, ShardCount), StoreError> {
    let f = Fields::top(item);
    let parse = || -> Result<Product, StoreError> {
        Ok(Product {
            sku: f.parse("sku", Sku::parse)?,
            name: f.s("name")?.to_owned(),
            price: money_from(&f, "price")?,
            stock: 0,
        })
    };
    let product = parse().map_err(|e| context(e, &pk_label(item)))?;
    Ok((product, shards_from_item(item)?))
}

/// A product item read whole: the product with `stock` set to shard 0's, and its shard count.
pub(super) fn product_from_item(item: &Item) -> Result<(Product, ShardCount), StoreError> {
    let (product, shards) = listing_from_item(item)?;
    Ok((
        Product {
            stock: stock_from_item(item)?,
            ..product
        },
        shards,
    ))
}

/// A reservation's lines: an order's lines, each with the shard it came from when not shard 0
/// (so a reservation of one-shard SKUs is stored as before shards existed).
fn reserved_lines_to_av(lines: &[ReservedLine]) -> AttributeValue {
    AttributeValue::L(
        lines
            .iter()
            .map(|reserved| {
                let mut map = line_to_map(&reserved.line);
                if reserved.shard != 0 {
                    map.insert("shard".to_owned(), n(reserved.shard));
                }
                AttributeValue::M(map)
            })
            .collect(),
    )
}

fn reserved_lines_from(fields: &Fields<'_>, name: &str) -> Result<Vec<ReservedLine>, StoreError> {
    fields
        .l(name)?
        .iter()
        .map(|line| {
            Ok(ReservedLine {
                line: line_from(line)?,
                shard: line.n_or("shard", 0)?,
            })
        })
        .collect()
}

pub(super) fn reservation_to_item(
    order_id: &OrderId,
    lines: &[ReservedLine],
    status: &str,
    at: DateTime<Utc>,
) -> Item {
    HashMap::from([
        ("pk".to_owned(), s(reservation_key(order_id))),
        ("orderId".to_owned(), s(order_id.as_str())),
        ("lines".to_owned(), reserved_lines_to_av(lines)),
        ("status".to_owned(), s(status)),
        ("at".to_owned(), time_to_av(at)),
    ])
}

pub(super) fn reservation_from_item(item: &Item) -> Result<Reservation, StoreError> {
    let f = Fields::top(item);
    let parse = || -> Result<Reservation, StoreError> {
        let released = match f.s("status")? {
            HELD => false,
            RELEASED => true,
            other => {
                return Err(f.corrupt("status", format!("is neither HELD nor RELEASED: {other}")))
            }
        };
        Ok(Reservation {
            lines: reserved_lines_from(&f, "lines")?,
            released,
        })
    };
    parse().map_err(|e| context(e, &pk_label(item)))
}

pub(super) fn charge_to_item(record: &ChargeRecord) -> Item {
    let mut item = HashMap::from([
        ("orderId".to_owned(), s(record.order_id.as_str())),
        ("amount".to_owned(), money_to_av(record.amount)),
        ("at".to_owned(), time_to_av(record.at)),
    ]);
    match &record.outcome {
        ChargeOutcome::Approved { charge_id } => {
            item.insert("result".to_owned(), s("APPROVED"));
            item.insert("chargeId".to_owned(), s(charge_id));
        }
        ChargeOutcome::Declined { reason } => {
            item.insert("result".to_owned(), s("DECLINED"));
            item.insert("reason".to_owned(), s(reason));
        }
    }
    item
}

pub(super) fn charge_from_item(item: &Item) -> Result<ChargeRecord, StoreError> {
    let f = Fields::top(item);
    let parse = || -> Result<ChargeRecord, StoreError> {
        let outcome = match f.s("result")? {
            "APPROVED" => ChargeOutcome::Approved {
                charge_id: f.s("chargeId")?.to_owned(),
            },
            "DECLINED" => ChargeOutcome::Declined {
                reason: f.s("reason")?.to_owned(),
            },
            other => {
                return Err(f.corrupt(
                    "result",
                    format!("is neither APPROVED nor DECLINED: {other}"),
                ))
            }
        };
        Ok(ChargeRecord {
            order_id: f.parse("orderId", OrderId::parse)?,
            amount: money_from(&f, "amount")?,
            outcome,
            at: f.time("at")?,
        })
    };
    parse().map_err(|e| context(e, &format!("ledger entry {}", order_label(item))))
}

pub(super) fn idempotency_from_item(item: &Item) -> Result<IdempotencyRecord, StoreError> {
    let f = Fields::top(item);
    let parse = || -> Result<IdempotencyRecord, StoreError> {
        let completed = match f.s("status")? {
            IN_PROGRESS => None,
            COMPLETED => Some(f.s("result")?.to_owned()),
            other => {
                return Err(f.corrupt(
                    "status",
                    format!("is neither IN_PROGRESS nor COMPLETED: {other}"),
                ))
            }
        };
        Ok(IdempotencyRecord {
            payload_hash: f.s("payloadHash")?.to_owned(),
            completed,
            lock_until_ms: f.n("lockUntil")?,
            expires_at_secs: f.n("expiresAt")?,
            owner: match item.get("owner") {
                Some(_) => Some(f.s("owner")?.to_owned()),
                None => None,
            },
        })
    };
    let label = match item.get("id") {
        Some(AttributeValue::S(id)) => format!("idempotency record {id:?}"),
        _ => "idempotency record (no id)".to_owned(),
    };
    parse().map_err(|e| context(e, &label))
}

#[cfg(test)]
mod tests;
