//! Port implementations. The in-memory ones serve unit tests; the AWS ones serve production
//! and the local cloud, each behind the feature of the SDK crate it needs.

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;
pub mod memory;
pub mod simulated_gateway;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "sqs")]
pub mod sqs;
