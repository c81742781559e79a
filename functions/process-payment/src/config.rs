//! What process-payment reads at start, and nothing else: a missing variable stops the start
//! with its name.

use chrono::Duration;
use orderflow_shared::config::{idempotency_policy, required, ConfigError, Lookup};
#[cfg(feature = "local-cloud")]
use orderflow_shared::faults::Faults;
use orderflow_shared::idempotency::Policy;
use orderflow_shared::sqs_batch::BatchRunner;

/// How many records of a batch are charged at once: the template's `BatchSize`.
pub const CHARGES_AT_ONCE: usize = 10;

#[derive(Debug, Clone)]
pub struct Config {
    /// Orders: the order moves out of `RESERVED` after a charge.
    pub orders_table: String,
    /// Payments: the ledger, one entry per order.
    pub payments_table: String,
    /// Idempotency: the charge's key.
    pub idempotency_table: String,
    /// Where `PaymentSucceeded` and `PaymentFailed` go.
    pub event_bus: String,
    /// `IDEMPOTENCY_LOCK_SECONDS` and `IDEMPOTENCY_KEEP_SECONDS`: how long a key is locked
    /// while its effect runs, and remembered after (the template derives both from the
    /// function's `Timeout` and its queues; its rules check them).
    pub policy: Policy,
    /// The simulated payment provider's own table.
    pub provider_table: String,
    /// How long the provider remembers an idempotency key (`PROVIDER_KEY_TTL_SECONDS`).
    pub provider_key_ttl: Duration,
    /// `ORDERFLOW_FAULTS`: faults injected around each record (local cloud only).
    #[cfg(feature = "local-cloud")]
    pub faults: Faults,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Config::from_lookup(&orderflow_shared::config::env)
    }

    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        Ok(Config {
            orders_table: required(lookup, "ORDERS_TABLE", "name of the Orders table")?,
            payments_table: required(
                lookup,
                "PAYMENTS_TABLE",
                "name of the Payments ledger table",
            )?,
            idempotency_table: required(
                lookup,
                "IDEMPOTENCY_TABLE",
                "name of the Idempotency table",
            )?,
            event_bus: required(
                lookup,
                "EVENT_BUS_NAME",
                "name of the orderflow EventBridge bus",
            )?,
            policy: idempotency_policy(lookup)?,
            provider_table: required(
                lookup,
                "PROVIDER_TABLE",
                "name of the simulated payment provider's table",
            )?,
            provider_key_ttl: key_ttl(lookup)?,
            #[cfg(feature = "local-cloud")]
            faults: Faults::from_lookup(lookup)?,
        })
    }

    /// How batches run: every charge of a batch at once (each waits on its claim, the provider
    /// and its settlement; one after another, ten of them made process-payment the chain's
    /// slowest stage).
    #[cfg(not(feature = "local-cloud"))]
    pub fn runner(&self) -> BatchRunner {
        BatchRunner::default().handling_at_once(CHARGES_AT_ONCE)
    }

    /// How batches run: as deployed, with the configured faults.
    #[cfg(feature = "local-cloud")]
    pub fn runner(&self) -> BatchRunner {
        BatchRunner::with_faults(self.faults.clone()).handling_at_once(CHARGES_AT_ONCE)
    }
}

/// `PROVIDER_KEY_TTL_SECONDS`: a positive number of seconds.
fn key_ttl(lookup: Lookup<'_>) -> Result<Duration, ConfigError> {
    const NAME: &str = "PROVIDER_KEY_TTL_SECONDS";
    let raw = required(
        lookup,
        NAME,
        "how long the payment provider remembers an idempotency key, in seconds",
    )?;
    match raw.trim().parse::<i64>() {
        Ok(seconds) if seconds > 0 => Ok(Duration::seconds(seconds)),
        _ => Err(ConfigError::Invalid {
            name: NAME,
            reason: format!("{raw:?} is not a positive number of seconds"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_shared::config::lookup_from;

    const ALL: [(&str, &str); 8] = [
        ("ORDERS_TABLE", "orders"),
        ("PAYMENTS_TABLE", "payments"),
        ("IDEMPOTENCY_TABLE", "idempotency"),
        ("EVENT_BUS_NAME", "bus"),
        ("IDEMPOTENCY_LOCK_SECONDS", "90"),
        ("IDEMPOTENCY_KEEP_SECONDS", "1296000"),
        ("PROVIDER_TABLE", "provider"),
        ("PROVIDER_KEY_TTL_SECONDS", "86400"),
    ];

    #[test]
    fn the_tables_the_bus_and_the_key_times_are_read_from_their_variables() {
        let config = Config::from_lookup(&lookup_from(&ALL)).unwrap();
        assert_eq!(config.orders_table, "orders");
        assert_eq!(config.payments_table, "payments");
        assert_eq!(config.idempotency_table, "idempotency");
        assert_eq!(config.event_bus, "bus");
        assert_eq!(config.policy.lock_for, chrono::Duration::seconds(90));
        assert_eq!(config.policy.keep_for, chrono::Duration::days(15));
        assert_eq!(config.provider_table, "provider");
        assert_eq!(config.provider_key_ttl, Duration::days(1));
    }

    #[test]
    fn a_key_ttl_that_is_not_a_positive_number_of_seconds_stops_the_start() {
        for bad in ["0", "-5", "a day", "1.5"] {
            let mut pairs = ALL.to_vec();
            pairs.retain(|(n, _)| *n != "PROVIDER_KEY_TTL_SECONDS");
            pairs.push(("PROVIDER_KEY_TTL_SECONDS", bad));
            let err = Config::from_lookup(&lookup_from(&pairs)).unwrap_err();
            assert_eq!(err.name(), "PROVIDER_KEY_TTL_SECONDS", "{bad}");
        }
    }

    #[test]
    fn a_missing_variable_stops_the_start_with_its_name() {
        for (missing, _) in ALL {
            let rest: Vec<_> = ALL.into_iter().filter(|(n, _)| *n != missing).collect();
            let err = Config::from_lookup(&lookup_from(&rest)).unwrap_err();
            assert_eq!(err.name(), missing);
        }
    }

    #[cfg(feature = "local-cloud")]
    #[test]
    fn the_local_clouds_faults_are_read_and_a_bad_spec_is_refused() {
        let mut pairs = ALL.to_vec();
        pairs.push(("ORDERFLOW_FAULTS", "crash=7"));
        assert!(Config::from_lookup(&lookup_from(&pairs))
            .unwrap()
            .faults
            .is_active());
        pairs.push(("ORDERFLOW_FAULTS", "explode=1"));
        let bad: Vec<_> = pairs.into_iter().filter(|(_, v)| *v != "crash=7").collect();
        let err = Config::from_lookup(&lookup_from(&bad)).unwrap_err();
        assert_eq!(err.name(), "ORDERFLOW_FAULTS");
    }
}
