//! What send-notification reads at start, and nothing else: a missing variable stops the start
//! with its name.

use orderflow_shared::config::{idempotency_policy, required, ConfigError, Lookup};
#[cfg(feature = "local-cloud")]
use orderflow_shared::faults::Faults;
use orderflow_shared::idempotency::Policy;
use orderflow_shared::sqs_batch::BatchRunner;

#[derive(Debug, Clone)]
pub struct Config {
    /// Idempotency: one key per order and outcome told.
    pub idempotency_table: String,
    /// The customer-notifications SNS topic.
    pub topic_arn: String,
    /// `IDEMPOTENCY_LOCK_SECONDS` and `IDEMPOTENCY_KEEP_SECONDS`: how long a key is locked
    /// while its effect runs, and remembered after (the template derives both from the
    /// function's `Timeout` and its queues; its rules check them).
    pub policy: Policy,
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
            idempotency_table: required(
                lookup,
                "IDEMPOTENCY_TABLE",
                "name of the Idempotency table",
            )?,
            topic_arn: required(
                lookup,
                "NOTIFICATION_TOPIC_ARN",
                "ARN of the customer-notifications SNS topic",
            )?,
            policy: idempotency_policy(lookup)?,
            #[cfg(feature = "local-cloud")]
            faults: Faults::from_lookup(lookup)?,
        })
    }

    /// How batches run.
    #[cfg(not(feature = "local-cloud"))]
    pub fn runner(&self) -> BatchRunner {
        BatchRunner::default()
    }

    /// How batches run: with the configured faults.
    #[cfg(feature = "local-cloud")]
    pub fn runner(&self) -> BatchRunner {
        BatchRunner::with_faults(self.faults.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_shared::config::lookup_from;

    const ALL: [(&str, &str); 4] = [
        ("IDEMPOTENCY_TABLE", "idempotency"),
        (
            "NOTIFICATION_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:t",
        ),
        ("IDEMPOTENCY_LOCK_SECONDS", "90"),
        ("IDEMPOTENCY_KEEP_SECONDS", "1296000"),
    ];

    #[test]
    fn the_table_the_topic_and_the_key_times_are_read_from_their_variables() {
        let config = Config::from_lookup(&lookup_from(&ALL)).unwrap();
        assert_eq!(config.idempotency_table, "idempotency");
        assert_eq!(config.topic_arn, "arn:aws:sns:us-east-1:123456789012:t");
        assert_eq!(config.policy.lock_for, chrono::Duration::seconds(90));
        assert_eq!(config.policy.keep_for, chrono::Duration::days(15));
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
