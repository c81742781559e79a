//! One order of a load run: placed, and nothing more. Its end is read later from its own
//! history ([`super::follow`]), so the run does not compete with the pipeline for the API.

use orderflow_shared::domain::OrderId;

use super::plan::Planned;
use super::SAY;
use crate::harness::{Api, Placed, Retry};

/// A load run's client retries conflicts too: a repeat of a key still being placed.
pub const RETRY: Retry = Retry {
    attempts: 20,
    backoff_steps: 10,
    conflict: true,
};

/// What placing one planned order gave.
#[derive(Debug, Clone)]
pub struct Placement {
    pub index: usize,
    /// The accepted order's id (`None`: refused).
    pub id: Option<OrderId>,
}

pub async fn place(api: &Api, index: usize, p: &Planned, token: Option<&str>) -> Placement {
    match api.place(&p.body.to_string(), &p.key, token, RETRY).await {
        Placed::Accepted(id) => Placement {
            index,
            id: Some(id),
        },
        Placed::Refused(why) => {
            SAY.line(&format!("not accepted: {} → {why}", p.key));
            Placement { index, id: None }
        }
    }
}
