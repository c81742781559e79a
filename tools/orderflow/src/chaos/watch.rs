//! Watching accepted orders settle: what the API last said about each, re-read for every order
//! not yet final.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use orderflow_shared::domain::{OrderId, OrderStatus};
use tokio::sync::Semaphore;

use crate::harness::{Api, Lookup};

/// What the API last said about an accepted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not read yet, or never answered.
    Unknown,
    /// 404: accepted, then not found.
    Missing,
    Status(OrderStatus),
}

impl Seen {
    pub fn is_final(self) -> bool {
        matches!(self, Seen::Status(s) if s.is_terminal())
    }
}

/// Every accepted order and what was last seen of it.
pub type Statuses = BTreeMap<OrderId, Seen>;

/// Orders not final yet.
pub fn open(statuses: &Statuses) -> usize {
    statuses.values().filter(|s| !s.is_final()).count()
}

/// Reads the status of every order not yet final, `concurrency` at a time, each with its
/// customer's token; returns how many changed.
pub async fn refresh(
    api: &Api,
    statuses: &mut Statuses,
    tokens: &HashMap<OrderId, String>,
    concurrency: usize,
) -> usize {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for id in statuses
        .iter()
        .filter(|(_, s)| !s.is_final())
        .map(|(id, _)| id)
    {
        let (api, gate, id) = (api.clone(), gate.clone(), id.clone());
        let token = tokens.get(&id).cloned();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.ok();
            let seen = match api.status(&id, token.as_deref()).await {
                Lookup::Found(status) => Some(Seen::Status(status)),
                Lookup::Missing => Some(Seen::Missing),
                Lookup::Unknown => None,
            };
            (id, seen)
        });
    }
    let mut changed = 0;
    while let Some(Ok((id, seen))) = tasks.join_next().await {
        if let Some(seen) = seen {
            if statuses.insert(id, seen) != Some(seen) {
                changed += 1;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_confirmed_rejected_and_cancelled_are_final() {
        let finals: Vec<OrderStatus> = OrderStatus::ALL
            .into_iter()
            .filter(|s| Seen::Status(*s).is_final())
            .collect();
        assert_eq!(
            finals,
            [
                OrderStatus::Confirmed,
                OrderStatus::Rejected,
                OrderStatus::Cancelled
            ]
        );
        assert!(!Seen::Missing.is_final());
        assert!(!Seen::Unknown.is_final());
        let statuses = Statuses::from([
            (OrderId::new(), Seen::Missing),
            (OrderId::new(), Seen::Status(OrderStatus::Confirmed)),
        ]);
        assert_eq!(open(&statuses), 1);
    }
}
