//! Placing the workload the way a storefront does: `concurrency` requests at a time, each
//! retried with its own `Idempotency-Key`, a duplicate-key order sent twice at once, a keyless
//! order retried a little, without a key.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use orderflow_shared::domain::OrderId;
use tokio::sync::Semaphore;

use super::plan::{Kind, Planned};
use crate::harness::{Api, Placed, Retry, Say};

/// A storefront retries throttling and server errors with the same key, backing off to 2 s,
/// for about a minute.
pub const RETRY: Retry = Retry {
    attempts: 40,
    backoff_steps: 20,
    conflict: false,
};

/// A storefront without an `Idempotency-Key` cannot tell a POST that failed from one whose
/// answer was lost, and every retry may place another order. It retries a throttled, failed or
/// unanswered POST twice (three attempts in all), backing off 100 then 200 ms: few enough that
/// a customer is not charged many times over, enough that one lost answer is not a lost sale.
/// Every order it stores, accepted or not, is then counted (finished, told); those beyond the
/// first are `keyless_extra_orders`.
pub const KEYLESS_RETRY: Retry = Retry {
    attempts: 3,
    backoff_steps: 2,
    conflict: false,
};

/// What placing the workload came to.
#[derive(Debug, Default)]
pub struct Placing {
    /// Accepted order → the index of its planned order.
    pub accepted: BTreeMap<OrderId, usize>,
    /// Valid requests the API refused or never accepted.
    pub refused: usize,
    /// Twins (one key, sent at once) that got different answers.
    pub duplicate_key_violations: usize,
}

/// Places every planned order, each with its customer's token from `tokens`.
pub async fn place_all(
    api: &Api,
    planned: &[Planned],
    tokens: &HashMap<String, String>,
    concurrency: usize,
    say: Say,
) -> Placing {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, p) in planned.iter().enumerate() {
        let (api, gate, p) = (api.clone(), gate.clone(), p.clone());
        let token = tokens.get(&p.customer).cloned();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.ok();
            let (placed, twins_agree) = place_one(&api, &p, token.as_deref()).await;
            (index, placed, twins_agree)
        });
    }
    let mut placing = Placing::default();
    while let Some(joined) = tasks.join_next().await {
        let Ok((index, placed, twins_agree)) = joined else {
            placing.refused += 1;
            continue;
        };
        placing.duplicate_key_violations += usize::from(!twins_agree);
        match placed {
            Placed::Accepted(id) => {
                placing.accepted.insert(id, index);
            }
            Placed::Refused(why) => {
                placing.refused += 1;
                if placing.refused <= 5 {
                    say.line(&format!("refused: {} → {why}", planned[index].key));
                }
            }
        }
    }
    placing
}

/// One planned order; a duplicate-key order is sent twice at once and both answers must agree.
async fn place_one(api: &Api, p: &Planned, token: Option<&str>) -> (Placed, bool) {
    let body = p.body.to_string();
    let place = || api.place(&body, &p.key, token, RETRY);
    match p.kind {
        Kind::DuplicateKey => {
            let (a, b) = tokio::join!(place(), place());
            let agree = a == b;
            (a, agree)
        }
        Kind::Keyless => (api.place_keyless(&body, token, KEYLESS_RETRY).await, true),
        _ => (place().await, true),
    }
}
