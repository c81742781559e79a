//! One order of a load run: placed, and nothing more. Its end is read later from its own
//! history ([`super::follow`]), so the run does not compete with the pipeline for the API.

use std::time::Duration;

use orderflow_shared::domain::{CustomerId, OrderId};
use orderflow_shared::idempotency::IdempotencyKey;

use super::plan::Planned;
use super::SAY;
use crate::harness::{Api, Placed, Retry};

/// A load run's client retries conflicts too: a repeat of a key still being placed.
pub const RETRY: Retry = Retry {
    attempts: 20,
    backoff_steps: 10,
    conflict: true,
};

/// How long one order's placement may take, retries included: on a machine too busy to
/// answer, the run goes on with the order its key names (found in the table, or never stored).
pub const PLACING: Duration = Duration::from_secs(90);

/// What placing one planned order gave.
#[derive(Debug, Clone)]
pub struct Placement {
    pub index: usize,
    /// The accepted order's id (`None`: refused).
    pub id: Option<OrderId>,
    /// The API never answered in time: `id` is the order the key names, which may not exist.
    pub unanswered: bool,
}

pub async fn place(api: &Api, index: usize, p: &Planned, token: Option<&str>) -> Placement {
    let placed = tokio::time::timeout(
        PLACING,
        api.place(&p.body.to_string(), &p.key, token, RETRY),
    )
    .await;
    match placed {
        Ok(Placed::Accepted(id)) => Placement {
            index,
            id: Some(id),
            unanswered: false,
        },
        Ok(Placed::Refused(why)) => {
            SAY.line(&format!("not accepted: {} → {why}", p.key));
            Placement {
                index,
                id: None,
                unanswered: false,
            }
        }
        Err(_) => {
            SAY.line(&format!("no answer in {} s: {}", PLACING.as_secs(), p.key));
            Placement {
                index,
                id: named_by_key(p),
                unanswered: true,
            }
        }
    }
}

/// The order a planned order's key names for its customer.
fn named_by_key(p: &Planned) -> Option<OrderId> {
    let key = IdempotencyKey::parse(&p.key).ok()?;
    Some(key.order_id(&CustomerId::parse(&p.customer).ok()?))
}
