//! `orderflow local up`: the whole chain on one machine, no Docker, no AWS account.
//!
//! - [`up`](mod@up): starting it step by step into a running [`LocalCloud`] ([`cloud`]);
//! - [`endpoint`]: the AWS endpoint (moto, or `AWS_ENDPOINT_URL`) and the SDK configuration;
//! - [`moto`]: starting moto server;
//! - [`resources`]: the template's tables, queues, topics, bus and rules, created on it;
//! - [`catalog`]: the catalog seed file, read, written and put into the inventory table;
//! - [`functions`]: each function's processes, HTTP routes and event source mappings;
//! - [`runtime`]: the Lambda Runtime API the function processes talk to; [`hot_reload`]: a
//!   rebuilt binary replaces its function's processes between invocations;
//! - [`esm`]: the SQS event source mappings; [`schedule`]: the `Schedule` events;
//! - [`api_gateway`]: the HTTP API; [`auth`]: its JWT issuer and authorizer;
//! - [`faults`]: the faults the cloud injects and the switch that stops them;
//!   [`fault_proxy`]: the proxy in front of the AWS endpoint that injects AWS errors;
//! - [`logs`]: the one log stream and the DLQ failure reasons; [`messages`]: the lines other
//!   code reads back;
//! - [`dev_env`]: the running cloud's file, each function's environment for tools beside it;
//! - [`fixtures`]: the orders an event fixture names, put into a running cloud;
//! - [`command`]: the `orderflow local` subcommands.

pub mod api_gateway;
pub mod auth;
pub mod catalog;
pub mod cloud;
pub mod command;
pub mod dev_env;
pub mod endpoint;
pub mod esm;
pub mod fault_proxy;
pub mod faults;
pub mod fixtures;
pub mod functions;
pub mod hot_reload;
pub mod logs;
pub mod messages;
pub mod metrics;
pub mod moto;
pub mod port;
pub mod resources;
pub mod runtime;
pub mod schedule;
pub mod up;

pub use catalog::{read_seed, write_seed};
pub use cloud::{stopped, LocalCloud};
pub use endpoint::{sdk_config, REGION};
pub use faults::{FaultSwitch, FAULTS_VARIABLE, FAULT_SEED_VARIABLE, FUNCTION_FAULT_VARIABLES};
pub use port::free_port;
pub use resources::stack_tables;
pub use up::{up, UpError, UpOptions};

/// The stack name of a local cloud unless told otherwise: physical names are
/// `<stack>-<LogicalId>`.
pub const DEFAULT_STACK: &str = "orderflow-local";

/// The variable that tells the HTTP functions whether a request must carry the authorizer's
/// claims (the template says `true`; the open local cloud says `false`).
pub const REQUIRE_AUTH: &str = "REQUIRE_AUTH";
