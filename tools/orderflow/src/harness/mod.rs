//! One harness for everything that drives orders through a cloud: `orderflow chaos`,
//! `orderflow load` and the end-to-end tests (`tests/`).
//!
//! - [`cloud`]: the [`Cloud`] a run works against, whichever [`Target`] it is — one this
//!   process starts, `orderflow local up` as a child process, or one at `--api-url` — and what
//!   it reaches through it (tables, queues, tokens, the log, stopping faults);
//! - [`args`]: the command-line arguments that choose and start it ([`CloudArgs`]);
//! - [`child`]: the child-process cloud of the end-to-end tests; [`deployed`]: the same for
//!   `orderflow deploy local`;
//! - [`names`]: what a cloud's resources are called, local or deployed;
//! - [`api`]: the order API as a storefront uses it ([`Api`]), statuses as `OrderStatus`;
//! - [`inbox`]: what customers were told ([`Inbox`]);
//! - [`scan`]: a table read back, some attributes of every item (chaos's and load's one reader);
//! - [`stock`]: what the confirmed orders took of each SKU, against the table;
//! - [`rng`]: the seeded generator that plans a workload;
//! - [`progress`]: progress lines and bars on stderr.

pub mod api;
pub mod args;
pub mod child;
pub mod cloud;
pub mod deployed;
pub mod inbox;
pub mod names;
pub mod progress;
pub mod rng;
pub mod scan;
pub mod stock;

pub use api::{Answer, Api, Lookup, Placed, Retry};
pub use args::CloudArgs;
pub use child::{ChildError, ChildOptions};
pub use cloud::{Cloud, HarnessError, OwnCloud, Target};
pub use inbox::{Delivery, Inbox, InboxError};
pub use names::StackNames;
pub use progress::Say;
pub use rng::Rng;
