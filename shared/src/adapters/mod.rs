//! Port implementations. The in-memory ones serve unit tests; the AWS ones serve production
//! and the local cloud, each behind the feature of the SDK crate it needs.

pub mod memory;
pub mod simulated_gateway;
