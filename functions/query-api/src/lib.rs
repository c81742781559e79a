//! query-api as a library: the handler, used by the `bootstrap` binary (`main.rs`) and by the
//! benches.

pub mod handler;
