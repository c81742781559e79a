//! The orderflow library: everything the Lambda functions share.
//!
//! - [`domain`]: values parsed at the boundary and the order state machine;
//! - [`events`]: the versioned envelope and the event catalogue;
//! - [`ports`]: the traits handlers are written against;
//! - [`adapters`]: in-memory fakes, the simulated payment gateway and the AWS adapters;
//! - [`sqs_batch`]: partial batch failure handling for SQS consumers;
//! - [`telemetry`]: logging set-up.

pub mod adapters;
pub mod api;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod domain;
pub mod events;
pub mod faults;
#[cfg(feature = "http")]
pub mod http;
pub mod idempotency;
pub mod ports;
pub mod sqs_batch;
pub mod telemetry;
pub mod testing;
