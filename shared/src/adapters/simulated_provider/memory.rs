//! The simulated provider in memory, for unit tests (test code): the rules of the module above,
//! forgetting keys by an injected [`Clock`], plus switches for an outage (nothing charged) and
//! a lost answer (charged, the caller told it failed).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::ProviderCharge;
use crate::clock::Clock;
use crate::domain::OrderId;
use crate::ports::{ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway};

#[derive(Default)]
struct State {
    /// Idempotency key → the charge it holds and when it is forgotten.
    keys: HashMap<String, (String, DateTime<Utc>)>,
    /// Charge id → the charge, for good.
    charges: BTreeMap<String, ProviderCharge>,
}

pub struct MemoryProvider {
    state: Mutex<State>,
    retention: Duration,
    clock: Clock,
    /// The next N calls fail before doing anything.
    outages: AtomicUsize,
    /// The next N charges take effect, and then the caller is told they failed.
    lost_answers: AtomicUsize,
    charge_calls: AtomicUsize,
}

impl MemoryProvider {
    /// A provider that remembers a key for `retention`, by `clock`.
    pub fn new(retention: Duration, clock: Clock) -> Self {
        MemoryProvider {
            state: Mutex::default(),
            retention,
            clock,
            outages: AtomicUsize::new(0),
            lost_answers: AtomicUsize::new(0),
            charge_calls: AtomicUsize::new(0),
        }
    }

    /// Makes the next `n` calls (charges or lookups) fail before they do anything.
    pub fn fail_next(&self, n: usize) {
        self.outages.store(n, Ordering::SeqCst);
    }

    /// Makes the next `n` charges take effect and then answer a transient failure.
    pub fn lose_next_answers(&self, n: usize) {
        self.lost_answers.store(n, Ordering::SeqCst);
    }

    /// How many times `charge` was called.
    pub fn charge_calls(&self) -> usize {
        self.charge_calls.load(Ordering::SeqCst)
    }

    /// Every charge made, by charge id.
    pub fn charges(&self) -> Vec<ProviderCharge> {
        self.lock().charges.values().cloned().collect()
    }

    /// The approved charges of one order.
    pub fn approved_for(&self, order_id: &OrderId) -> Vec<ProviderCharge> {
        self.charges()
            .into_iter()
            .filter(|c| &c.record.order_id == order_id)
            .filter(|c| matches!(c.record.outcome, ChargeOutcome::Approved { .. }))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn outage(&self) -> Result<(), GatewayError> {
        match take_one(&self.outages) {
            true => Err(GatewayError::Transient("injected provider outage".into())),
            false => Ok(()),
        }
    }

    /// The charge `key` holds, if remembered at `now`.
    fn remembered(state: &State, key: &str, now: DateTime<Utc>) -> Option<ProviderCharge> {
        let (charge_id, forget_at) = state.keys.get(key)?;
        (*forget_at > now)
            .then(|| state.charges.get(charge_id).cloned())
            .flatten()
    }
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[async_trait]
impl PaymentGateway for MemoryProvider {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        self.charge_calls.fetch_add(1, Ordering::SeqCst);
        self.outage()?;
        let now = self.clock.now();
        let new = ProviderCharge::new(request, now)?;
        let answer = {
            let mut state = self.lock();
            match Self::remembered(&state, &request.idempotency_key, now) {
                Some(earlier) => earlier.answer(request),
                None => {
                    state.keys.insert(
                        request.idempotency_key.clone(),
                        (new.charge_id.clone(), now + self.retention),
                    );
                    state.charges.insert(new.charge_id.clone(), new.clone());
                    new.log_new();
                    Ok(new.record.outcome)
                }
            }
        };
        if answer.is_ok() && take_one(&self.lost_answers) {
            return Err(GatewayError::Transient("injected lost answer".into()));
        }
        answer
    }

    async fn find(&self, idempotency_key: &str) -> Result<Option<ChargeOutcome>, GatewayError> {
        self.outage()?;
        let state = self.lock();
        Ok(Self::remembered(&state, idempotency_key, self.clock.now()).map(|c| c.record.outcome))
    }

    fn key_retention(&self) -> Duration {
        self.retention
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::simulated_provider::{DECLINED_TOKEN, GATEWAY_ERROR_TOKEN};
    use crate::clock::ManualClock;
    use crate::domain::{Currency, Money, PaymentToken};

    fn request(token: &str) -> ChargeRequest {
        let order_id = OrderId::new();
        ChargeRequest {
            idempotency_key: order_id.to_string(),
            order_id,
            amount: Money::new(100, Currency::EUR),
            token: PaymentToken::parse(token).unwrap(),
        }
    }

    fn provider() -> (MemoryProvider, ManualClock) {
        let manual = ManualClock::new();
        (
            MemoryProvider::new(Duration::days(1), manual.clock()),
            manual,
        )
    }

    fn charge_id(outcome: &ChargeOutcome) -> &str {
        match outcome {
            ChargeOutcome::Approved { charge_id } => charge_id,
            ChargeOutcome::Declined { .. } => panic!("declined: {outcome:?}"),
        }
    }

    #[tokio::test]
    async fn the_token_approves_declines_or_fails_and_an_outage_charges_nothing() {
        let (p, _) = provider();
        assert!(matches!(
            p.charge(&request("tok_visa")).await,
            Ok(ChargeOutcome::Approved { .. })
        ));
        assert!(matches!(
            p.charge(&request(DECLINED_TOKEN)).await,
            Ok(ChargeOutcome::Declined { .. })
        ));
        let down = request(GATEWAY_ERROR_TOKEN);
        assert!(matches!(
            p.charge(&down).await,
            Err(GatewayError::Transient(_))
        ));
        assert_eq!(p.find(&down.idempotency_key).await, Ok(None));
        assert_eq!(p.charges().len(), 2, "a declined charge is recorded too");
    }

    #[tokio::test]
    async fn the_same_key_gets_the_same_charge_while_it_is_remembered() {
        let (p, clock) = provider();
        let req = request("tok_mastercard");
        let first = p.charge(&req).await.unwrap();
        clock.advance(Duration::hours(23));
        assert_eq!(p.charge(&req).await.unwrap(), first);
        assert_eq!(p.find(&req.idempotency_key).await, Ok(Some(first)));
        assert_eq!(p.charges().len(), 1);
    }

    #[tokio::test]
    async fn a_forgotten_key_charges_again_under_a_new_charge_id() {
        let (p, clock) = provider();
        let req = request("tok_visa");
        let first = p.charge(&req).await.unwrap();
        clock.advance(Duration::days(1) + Duration::seconds(1));
        assert_eq!(p.find(&req.idempotency_key).await, Ok(None));
        let second = p.charge(&req).await.unwrap();
        assert_ne!(charge_id(&first), charge_id(&second));
        assert_eq!(p.approved_for(&req.order_id).len(), 2, "a double charge");
    }

    #[tokio::test]
    async fn a_key_reused_for_another_amount_is_refused() {
        let (p, _) = provider();
        let req = request("tok_visa");
        p.charge(&req).await.unwrap();
        let other = ChargeRequest {
            amount: Money::new(999, Currency::EUR),
            ..req
        };
        assert!(matches!(
            p.charge(&other).await,
            Err(GatewayError::Refused(_))
        ));
        assert_eq!(p.charges().len(), 1);
    }

    #[tokio::test]
    async fn a_lost_answer_took_effect_and_an_outage_did_not() {
        let (p, _) = provider();
        let req = request("tok_visa");
        p.fail_next(1);
        assert!(p.charge(&req).await.is_err());
        assert_eq!(p.find(&req.idempotency_key).await, Ok(None));
        p.lose_next_answers(1);
        assert!(p.charge(&req).await.is_err());
        let found = p.find(&req.idempotency_key).await.unwrap();
        assert!(matches!(found, Some(ChargeOutcome::Approved { .. })));
        assert_eq!(p.charge(&req).await.ok(), found);
        assert_eq!((p.charges().len(), p.charge_calls()), (1, 3));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn each_new_charge_is_logged_once_as_the_tools_read_it() {
        use crate::telemetry::messages::{CHARGE_ID, ORDER_ID, PROVIDER_CHARGE_APPROVED};
        let logs = crate::testing::CapturedLogs::start();
        let (p, _) = provider();
        let req = request("tok_visa");
        let outcome = p.charge(&req).await.unwrap();
        p.charge(&req).await.unwrap();
        let approved: Vec<_> = logs
            .lines()
            .into_iter()
            .filter(|l| l["message"] == PROVIDER_CHARGE_APPROVED)
            .collect();
        assert_eq!(approved.len(), 1, "{approved:?}");
        assert_eq!(approved[0][ORDER_ID], req.order_id.as_str());
        assert_eq!(approved[0][CHARGE_ID], charge_id(&outcome));
    }
}
