//! The AWS adapters against a real moto server (started by `support`), plus replayed HTTP where
//! moto cannot stage a case (EventBridge partial failures).
#![cfg(feature = "aws")]
// Test code: a failed unwrap or panic is a failed assertion, helpers and harness included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(all(feature = "eventbridge", feature = "sqs"))]
mod eventbridge;
#[cfg(feature = "dynamodb")]
mod idempotency;
#[cfg(all(feature = "sns", feature = "sqs"))]
mod sns;
#[cfg(feature = "sqs")]
mod sqs;
