//! Port implementations: the simulated payment provider, the AWS adapters (production and the
//! local cloud, each behind the feature of the SDK crate it needs), and, for tests and tools
//! only (`testing`), the in-memory fakes and the SQS wrapper.

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod simulated_provider;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(all(feature = "sqs", feature = "testing"))]
pub mod sqs;
