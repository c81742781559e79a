//! The orderflow library: everything the Lambda functions share.
//!
//! - [`domain`]: values parsed at the boundary and the order state machine;
//! - [`events`]: the versioned envelope and the event catalogue;
//! - [`ports`]: the traits handlers are written against;
//! - [`adapters`]: the simulated payment provider and the AWS adapters (DynamoDB by port,
//!   EventBridge, SNS), plus, for tests and tools only, the in-memory fakes and the SQS wrapper;
//! - [`idempotency`]: keys claimed, completed and released around an effect, and the
//!   `Idempotency-Key` of `POST /orders`;
//! - [`api`]: the HTTP API's bodies (request parsing, response shapes), free of any HTTP library;
//! - `http`: the HTTP edge (`http` feature): routing, callers, problem+json, one edge step
//!   per request;
//! - [`sqs_batch`]: the SQS edge and partial batch failures;
//! - `aws`: the SDK config, the HTTPS client and the SDK clients (`aws` feature);
//! - [`config`]: reading a function's configuration at start-up;
//! - [`clock`]: the time, as a port tests can move;
//! - [`telemetry`]: logging set-up and the log messages the tools read back.
//!
//! Test and tool code (`testing` feature): [`adapters`]`::memory`, `testing` (fixtures, captured
//! logs, the API contract), `telemetry::find_sensitive`, `adapters::sqs` and the all-tables
//! `adapters::dynamodb::DynamoStore`. Only the local cloud's builds (`local-cloud` feature):
//! `faults`, `aws::counting` and `aws::crash`.

pub mod adapters;
pub mod api;
#[cfg(feature = "aws")]
pub mod aws;
pub mod clock;
pub mod config;
pub mod domain;
pub mod events;
#[cfg(feature = "local-cloud")]
pub mod faults;
#[cfg(feature = "http")]
pub mod http;
pub mod idempotency;
pub mod ports;
pub mod sqs_batch;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
