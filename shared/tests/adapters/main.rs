//! The AWS adapters against a real moto server (started by `support`), plus replayed HTTP where
//! moto cannot stage a case (EventBridge partial failures).
#![cfg(feature = "aws")]
// Test code: a failed unwrap or panic is a failed assertion, helpers and harness included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

#[cfg(all(feature = "dynamodb", feature = "testing"))]
mod attempts;
#[cfg(all(feature = "dynamodb", feature = "testing"))]
mod catalog_cost;
#[cfg(all(feature = "dynamodb", feature = "testing"))]
mod contention;
#[cfg(all(feature = "dynamodb", feature = "testing"))]
mod dynamodb;
#[cfg(all(feature = "eventbridge", feature = "sqs"))]
mod eventbridge;
#[cfg(all(feature = "dynamodb", feature = "testing"))]
mod idempotency;
#[cfg(all(feature = "dynamodb", feature = "testing"))]
mod lost_responses;
#[cfg(all(feature = "dynamodb", feature = "testing"))]
mod open_orders;
#[cfg(all(feature = "dynamodb", feature = "testing"))]
mod provider;
#[cfg(all(feature = "dynamodb", feature = "testing"))]
mod shards;
#[cfg(all(feature = "sns", feature = "sqs", feature = "testing"))]
mod sns;
#[cfg(all(feature = "sqs", feature = "testing"))]
mod sqs;
