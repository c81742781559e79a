//! Fault injection for the SQS consumers, switched on by environment so it runs inside the real
//! binaries under the local cloud. It is compiled in only with the `local-cloud` feature, which
//! deployment builds (`cargo lambda build --release`, `make package`, `sam build`) never enable:
//! a deployed function has no fault hook at all, whatever its environment says.
//!
//! `ORDERFLOW_FAULTS` is a comma-separated list of `kind=per-mille`:
//! - `error_before`: fail the record before its effect (a plain retry);
//! - `error_after`: do the effect, then fail the record (a redelivery of done work);
//! - `crash`: do the effect, then end the process mid-batch (the whole batch comes back);
//! - `delay`: sleep `delay_ms` (default 25 000) before the effect, past a short timeout;
//! - `crash_between_steps`: end the process right after a write call's answer arrived, before
//!   the code acts on it (an interceptor on every SDK client, [`crate::aws::crash`]; per
//!   mille of the process's successful write calls).
//!
//! `ORDERFLOW_FAULT_SEED` makes the choice reproducible: whether a fault hits is a hash of the
//! seed, the fault kind, the order, the event type and the receive count, so the same orders
//! delivered the same way meet the same faults, and a redelivery rolls again.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::{ConfigError, Lookup};
use crate::telemetry::messages::fault;

/// The variable listing the faults a consumer injects (`kind=per-mille,...`).
pub const FAULTS_VARIABLE: &str = "ORDERFLOW_FAULTS";
/// The variable seeding the choice of the deliveries a fault hits.
pub const SEED_VARIABLE: &str = "ORDERFLOW_FAULT_SEED";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    ErrorBefore,
    ErrorAfter,
    Crash,
    Delay,
    /// The event source mapping leaves a processed message undeleted (local cloud only).
    Duplicate,
    /// The AWS endpoint answers with a throttling error (local cloud's fault proxy).
    Throttle,
    /// The AWS endpoint answers 503 (local cloud's fault proxy).
    Unavailable,
    /// The AWS endpoint applies the call, then its answer is lost (local cloud's fault proxy).
    LostResponse,
    /// The process ends between a write call's answer and the next step.
    CrashBetweenSteps,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::ErrorBefore => fault::ERROR_BEFORE,
            Fault::ErrorAfter => fault::ERROR_AFTER,
            Fault::Crash => fault::CRASH,
            Fault::Delay => fault::DELAY,
            Fault::Duplicate => fault::DUPLICATE,
            Fault::Throttle => fault::THROTTLE,
            Fault::Unavailable => fault::UNAVAILABLE,
            Fault::LostResponse => fault::LOST_RESPONSE,
            Fault::CrashBetweenSteps => fault::CRASH_BETWEEN_STEPS,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    seed: u64,
    error_before: u32,
    error_after: u32,
    crash: u32,
    delay: u32,
    delay_ms: u64,
    duplicate: u32,
    throttle: u32,
    unavailable: u32,
    lost_response: u32,
    crash_between_steps: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ORDERFLOW_FAULTS: {0} (expected e.g. error_before=50,crash=10,delay=5,delay_ms=25000)")]
pub struct FaultConfigError(String);

impl Faults {
    /// No faults: what production runs.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// The faults `ORDERFLOW_FAULTS` and `ORDERFLOW_FAULT_SEED` ask for (none when unset).
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Faults, ConfigError> {
        let spec = lookup(FAULTS_VARIABLE).unwrap_or_default();
        let seed = lookup(SEED_VARIABLE).unwrap_or_default();
        Faults::parse(&spec, &seed).map_err(|e| ConfigError::Invalid {
            name: FAULTS_VARIABLE,
            reason: e.0,
        })
    }

    pub fn parse(spec: &str, seed: &str) -> Result<Faults, FaultConfigError> {
        let mut f = Faults {
            seed: if seed.trim().is_empty() {
                0
            } else {
                seed.trim()
                    .parse()
                    .map_err(|_| FaultConfigError(format!("seed {seed:?} is not an integer")))?
            },
            delay_ms: 25_000,
            ..Faults::default()
        };
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| FaultConfigError(format!("{part:?} is not kind=value")))?;
            let n: u64 = value
                .trim()
                .parse()
                .map_err(|_| FaultConfigError(format!("{value:?} is not a whole number")))?;
            let per_mille = || {
                u32::try_from(n).ok().filter(|n| *n <= 1000).ok_or_else(|| {
                    FaultConfigError(format!("{key}: {n} is not a per-mille (0..=1000)"))
                })
            };
            match key.trim() {
                fault::ERROR_BEFORE => f.error_before = per_mille()?,
                fault::ERROR_AFTER => f.error_after = per_mille()?,
                fault::CRASH => f.crash = per_mille()?,
                fault::DELAY => f.delay = per_mille()?,
                "delay_ms" => f.delay_ms = n,
                fault::DUPLICATE => f.duplicate = per_mille()?,
                fault::THROTTLE => f.throttle = per_mille()?,
                fault::UNAVAILABLE => f.unavailable = per_mille()?,
                fault::LOST_RESPONSE => f.lost_response = per_mille()?,
                fault::CRASH_BETWEEN_STEPS => f.crash_between_steps = per_mille()?,
                other => return Err(FaultConfigError(format!("unknown fault {other:?}"))),
            }
        }
        Ok(f)
    }

    pub fn is_active(&self) -> bool {
        [
            self.error_before,
            self.error_after,
            self.crash,
            self.delay,
            self.duplicate,
            self.throttle,
            self.unavailable,
            self.lost_response,
            self.crash_between_steps,
        ]
        .iter()
        .any(|r| *r > 0)
    }

    /// Whether `fault` is asked for at all (a rate above 0).
    pub fn injects(&self, fault: Fault) -> bool {
        self.rate(fault) > 0
    }

    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms)
    }

    fn rate(&self, fault: Fault) -> u32 {
        match fault {
            Fault::ErrorBefore => self.error_before,
            Fault::ErrorAfter => self.error_after,
            Fault::Crash => self.crash,
            Fault::Delay => self.delay,
            Fault::Duplicate => self.duplicate,
            Fault::Throttle => self.throttle,
            Fault::Unavailable => self.unavailable,
            Fault::LostResponse => self.lost_response,
            Fault::CrashBetweenSteps => self.crash_between_steps,
        }
    }

    /// Whether `fault` hits the delivery identified by `key`.
    pub fn hits(&self, fault: Fault, key: &str) -> bool {
        let rate = self.rate(fault);
        if rate == 0 {
            return false;
        }
        let digest =
            Sha256::digest(format!("{}\u{0}{}\u{0}{key}", self.seed, fault.as_str()).as_bytes());
        let roll = u16::from_be_bytes([digest[0], digest[1]]) % 1000;
        u32::from(roll) < rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_variable_means_no_faults() {
        let f = Faults::parse("", "").unwrap();
        assert!(!f.is_active());
        assert!(!f.hits(Fault::Crash, "anything"));
    }

    #[test]
    fn a_spec_sets_each_rate_and_bad_specs_are_refused_with_the_reason() {
        let f = Faults::parse("error_before=100, crash=5,delay=1,delay_ms=40000", "7").unwrap();
        assert!(f.is_active());
        assert!(f.injects(Fault::Crash) && !f.injects(Fault::CrashBetweenSteps));
        let between = Faults::parse("crash_between_steps=10", "7").unwrap();
        assert!(between.is_active() && between.injects(Fault::CrashBetweenSteps));
        assert_eq!(f.delay(), Duration::from_millis(40_000));
        for bad in ["crash", "crash=x", "crash=1001", "explode=1"] {
            assert!(Faults::parse(bad, "").is_err(), "{bad}");
        }
        assert!(Faults::parse("crash=1", "seven").is_err());
    }

    #[test]
    fn the_variables_are_read_from_the_lookup_and_a_bad_one_is_named() {
        let pairs = [(FAULTS_VARIABLE, "crash=1000"), (SEED_VARIABLE, "3")];
        let f = Faults::from_lookup(&crate::config::lookup_from(&pairs)).unwrap();
        assert!(f.hits(Fault::Crash, "any"));
        assert!(!Faults::from_lookup(&|_| None).unwrap().is_active());
        let bad = [(FAULTS_VARIABLE, "explode=1")];
        let err = Faults::from_lookup(&crate::config::lookup_from(&bad)).unwrap_err();
        assert_eq!(err.name(), FAULTS_VARIABLE);
        assert!(err.to_string().contains("explode"), "{err}");
    }

    #[test]
    fn the_choice_is_reproducible_and_close_to_the_rate() {
        let f = Faults::parse("error_after=200", "42").unwrap();
        let hits: Vec<bool> = (0..5000)
            .map(|i| f.hits(Fault::ErrorAfter, &format!("order-{i}")))
            .collect();
        let again: Vec<bool> = (0..5000)
            .map(|i| f.hits(Fault::ErrorAfter, &format!("order-{i}")))
            .collect();
        assert_eq!(hits, again);
        let share = hits.iter().filter(|h| **h).count();
        assert!((850..1150).contains(&share), "{share} of 5000 at 20%");
        let other_seed = Faults::parse("error_after=200", "43").unwrap();
        let differs =
            (0..100).any(|i| other_seed.hits(Fault::ErrorAfter, &format!("order-{i}")) != hits[i]);
        assert!(differs, "another seed makes other choices");
        assert!(
            !f.hits(Fault::Crash, "order-1"),
            "kinds without a rate never hit"
        );
    }
}
