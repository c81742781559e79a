//! reconcile-orders as a library: its configuration and its handler, used by the `bootstrap`
//! binary (`main.rs`) and by the tests.
//!
//! - [`config`]: what it reads at start;
//! - [`due`]: what one open order is due, from its state and how long it has been in it;
//! - [`republish`]: the event that finishes it, built from the stored order;
//! - [`report`]: what a run did, and its one log line (the stranded-order alarm reads it);
//! - [`handler`]: the run: every shard of the open orders, page by page, within a budget.

pub mod config;
pub mod due;
pub mod handler;
pub mod report;
pub mod republish;
#[cfg(test)]
mod test_orders;
