//! The `orderflow` tools as a library: the `orderflow` binary (src/main.rs) parses the command
//! line and calls into it, and the end-to-end tests (`tests/`) drive the same harness.
//!
//! - [`local`]: the local cloud (`orderflow local up`, `orderflow local token`);
//! - [`deploy`]: the stack deployed into MiniStack with `sam deploy`, its API served
//!   (`orderflow deploy local`);
//! - [`dlq`]: the dead-letter queue tools (`orderflow dlq list|redrive`);
//! - [`chaos`]: a mixed workload under injected faults and the count of what went wrong;
//! - [`load`]: a measured flash sale;
//! - [`console`]: the browser console `local up` serves (orders, pipeline, DLQs, charts);
//! - [`trace`]: one order's timeline from what the local cloud recorded (`orderflow trace`);
//! - [`harness`]: what `chaos`, `load` and the end-to-end tests share: the cloud they run
//!   against, its API, the customer inbox, a seeded generator, progress;
//! - [`cli`]: what every subcommand does at its edge.

pub mod chaos;
pub mod cli;
pub mod console;
pub mod deploy;
pub mod dlq;
pub mod harness;
pub mod load;
pub mod local;
pub mod trace;
