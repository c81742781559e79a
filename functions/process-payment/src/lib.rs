//! process-payment as a library: its configuration and its handler, used by the `bootstrap`
//! binary (`main.rs`) and by the benches.

pub mod config;
pub mod handler;
