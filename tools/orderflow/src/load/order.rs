//! One order of a load run: placed, then polled every 200 ms until it is final, which gives its
//! latency and the moment it completed.

use std::time::{Duration, Instant};

use orderflow_shared::domain::OrderStatus;

use super::plan::Planned;
use super::SAY;
use crate::harness::{Api, Lookup, Placed, Retry};

/// A load run's client retries conflicts too: a repeat of a key still being placed.
pub const RETRY: Retry = Retry {
    attempts: 20,
    backoff_steps: 10,
    conflict: true,
};

const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct Outcome {
    pub index: usize,
    pub accepted: bool,
    /// The final status, or what it was last seen as.
    pub status: Option<OrderStatus>,
    pub latency_ms: Option<u64>,
    /// Milliseconds after the run's start when the order was seen final.
    pub done_at_ms: Option<u64>,
}

impl Outcome {
    pub fn is(&self, status: OrderStatus) -> bool {
        self.status == Some(status)
    }
}

/// What every order of a run shares.
pub struct Clock {
    pub started: Instant,
    /// An order not final this long after it was placed is left as it is.
    pub order_timeout: Duration,
}

pub async fn one_order(
    api: &Api,
    clock: &Clock,
    index: usize,
    p: &Planned,
    token: Option<&str>,
) -> Outcome {
    let sent = Instant::now();
    let mut outcome = Outcome {
        index,
        accepted: false,
        status: None,
        latency_ms: None,
        done_at_ms: None,
    };
    let id = match api.place(&p.body.to_string(), &p.key, token, RETRY).await {
        Placed::Accepted(id) => id,
        Placed::Refused(why) => {
            SAY.line(&format!("not accepted: {} → {why}", p.key));
            return outcome;
        }
    };
    outcome.accepted = true;
    while sent.elapsed() < clock.order_timeout {
        tokio::time::sleep(POLL).await;
        if let Lookup::Found(status) = api.status(&id, token).await {
            outcome.status = Some(status);
            if status.is_terminal() {
                outcome.latency_ms = Some(millis(sent.elapsed()));
                outcome.done_at_ms = Some(millis(clock.started.elapsed()));
                break;
            }
        }
    }
    outcome
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
