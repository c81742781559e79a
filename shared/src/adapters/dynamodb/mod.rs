//! DynamoDB adapters, one store per port (or per aggregate), each holding the names of exactly
//! the tables it reads and writes, so a function cannot reach a table it was not given:
//!
//! - [`DynamoOrders`] ([`OrderRepository`](crate::ports::OrderRepository)): Orders;
//! - [`DynamoOpenOrders`] ([`OpenOrders`](crate::ports::OpenOrders)): the Orders table's
//!   open-orders index;
//! - [`DynamoCatalog`] ([`Catalog`](crate::ports::Catalog)): Inventory, the whole catalog
//!   through its sparse index [`CATALOG_INDEX`];
//! - [`DynamoStock`] ([`Inventory`](crate::ports::Inventory) and `Catalog`): Inventory, and
//!   Orders for the order's move inside the reservation transaction;
//! - [`DynamoLedger`] ([`PaymentLedger`](crate::ports::PaymentLedger)): Payments, and
//!   Idempotency and Orders for the settlement transaction;
//! - [`DynamoIdempotency`] ([`IdempotencyStore`](crate::idempotency::IdempotencyStore)):
//!   Idempotency;
//! - [`DynamoProvider`] ([`PaymentGateway`](crate::ports::PaymentGateway)): the simulated
//!   payment provider's own table (`adapters::simulated_provider` has its rules).
//!
//! Each has the semantics of the in-memory store (`adapters::memory`). Every state change is a
//! conditional write; the reservation, its release and a settlement are each one
//! `TransactWriteItems`, and a cancelled transaction is turned into a domain error from its
//! cancellation reasons (by item index), never from a message string. `DynamoStore` (tool and
//! test code, `testing`) is all of them over the four tables.
//!
//! Contention (a transaction conflict, a throttle) is retried inside the store (`retry`).
//! Every transaction carries a `ClientRequestToken` derived from what it writes
//! (`request_token`), so a resend of one that was applied (its answer lost) succeeds instead of
//! failing its own conditions; a single write retried after a lost answer reads what it finds
//! (its own claim's owner, its own move, its own result) as its own.

mod catalog;
#[cfg(feature = "testing")]
mod facade;
mod idempotency;
mod item;
mod ledger;
mod open_orders;
mod orders;
mod provider;
mod request_token;
mod retry;
mod shards;
mod stock;
mod table;
mod transaction;

pub use catalog::{DynamoCatalog, CATALOG_INDEX};
#[cfg(feature = "testing")]
pub use facade::{DynamoStore, TableNames};
pub use idempotency::DynamoIdempotency;
pub use ledger::{DynamoLedger, LedgerTables};
pub use open_orders::DynamoOpenOrders;
pub use orders::DynamoOrders;
pub use provider::DynamoProvider;
pub use stock::{DynamoStock, StockTables};
