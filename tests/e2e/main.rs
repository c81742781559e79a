//! The repository's own tests, in one binary (one link instead of one per file): rules the
//! whole repository keeps, and end to end against a local cloud of each test's own.
//!
//! - [`repository_rules`], [`design_layout`]: checked by reading the repository's files ([`function_length`]
//!   measures functions);
//! - [`order_flow`]: the three outcomes of an order, over HTTP; bad requests; auth;
//! - [`flash_sale`]: many buyers, little stock: exactly the stock is sold;
//! - [`delivery`]: how the event source mapping delivers, retries and dead-letters;
//! - [`expiry`]: a reservation that expires unpaid is declined, released and told;
//! - [`faults`]: every order right under every kind of injected fault;
//! - [`crash_between_steps`]: every order right when processes die between any two steps;
//! - [`two_clouds`]: the same scenarios on the local cloud and on the stack deployed into
//!   MiniStack with `sam deploy`, and `cargo lambda deploy` into it;
//! - [`fixtures`]: a function run outside the cloud with `orderflow local env`, the event
//!   fixtures loaded into the cloud and handled as their names say, SAM's generated events;
//! - [`auth`]: the API's JWT authorizer and the local issuer, with Cognito-shaped tokens;
//! - [`readme`]: every command README.md shows, run as written against a local cloud;
//! - [`reconcile`]: the reconciler finishes orders the chain left unfinished;
//! - [`metrics`]: the functions' EMF metrics, kept by the local cloud, add up to the run's orders;
//! - [`api_contract`]: the API against `infra/openapi.yaml`, by Schemathesis;
//! - [`chaos`], [`load`], [`token`]: the `orderflow chaos`, `orderflow load` and
//!   `orderflow local token` commands, end to end;
//! - [`trace`]: `orderflow trace` on orders retried under faults;
//! - [`console`]: the console in headless Chromium: an order to CONFIRMED, a dead letter
//!   redriven, a screenshot of each view;
//! - [`support`]: the cloud each test starts (through the `orderflow` harness), and helpers.
// Tests: a failed unwrap is a failed test, in helpers too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_contract;
mod auth;
mod chaos;
mod console;
mod crash_between_steps;
mod delivery;
mod design_layout;
mod expiry;
mod faults;
mod fixtures;
mod flash_sale;
mod function_length;
mod load;
mod metrics;
mod order_flow;
mod readme;
mod reconcile;
mod repository_rules;
mod support;
mod token;
mod trace;
mod two_clouds;
