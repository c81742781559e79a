//! Reading a function's configuration once, at start-up: each function's own `Config` (in its
//! `config.rs`) names exactly the variables it needs and reads them through these helpers, from
//! a lookup that is the process environment in `main` and a map in tests.

use chrono::Duration;

use crate::idempotency::Policy;

/// Where variables come from: `|name| std::env::var(name).ok()` in `main`, a map in tests.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment as a [`Lookup`].
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A variable is missing, empty or unusable; the message names it.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is not set: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl ConfigError {
    /// The variable at fault.
    pub fn name(&self) -> &'static str {
        match self {
            ConfigError::Missing { name, .. } | ConfigError::Invalid { name, .. } => name,
        }
    }
}

/// `main` returns this error, and Rust prints a returned error with `Debug`: make that readable.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Reads one required variable.
pub fn required(
    lookup: Lookup<'_>,
    name: &'static str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing { name, hint })
}

/// Reads an optional on/off switch: on only when set to `1` (the local cloud's switches).
pub fn switch(lookup: Lookup<'_>, name: &str) -> bool {
    lookup(name).is_some_and(|v| v.trim() == "1")
}

/// `IDEMPOTENCY_LOCK_SECONDS`: how long a claimed key is locked while its effect runs. The
/// template sets it above the function's `Timeout` and at most the consumed queue's visibility
/// timeout (the template rule `idempotency-lock` says why).
pub const LOCK_SECONDS: &str = "IDEMPOTENCY_LOCK_SECONDS";
/// `IDEMPOTENCY_KEEP_SECONDS`: how long a completed key is remembered. The template sets it at
/// least as long as a message can live in the consumed queue and its DLQ (rule
/// `idempotency-retention`).
pub const KEEP_SECONDS: &str = "IDEMPOTENCY_KEEP_SECONDS";

/// The idempotency [`Policy`] from [`LOCK_SECONDS`] and [`KEEP_SECONDS`]: both required, whole
/// seconds, and a key is kept at least as long as it is locked.
pub fn idempotency_policy(lookup: Lookup<'_>) -> Result<Policy, ConfigError> {
    let lock = seconds(
        lookup,
        LOCK_SECONDS,
        "seconds a claimed idempotency key stays locked (the template sets it)",
    )?;
    let keep = seconds(
        lookup,
        KEEP_SECONDS,
        "seconds a completed idempotency key is remembered (the template sets it)",
    )?;
    if keep < lock {
        return Err(ConfigError::Invalid {
            name: KEEP_SECONDS,
            reason: format!("{keep} s is shorter than the {lock} s lock"),
        });
    }
    Ok(Policy::new(
        Duration::seconds(lock),
        Duration::seconds(keep),
    ))
}

/// Reads a required positive number of whole seconds.
fn seconds(lookup: Lookup<'_>, name: &'static str, hint: &'static str) -> Result<i64, ConfigError> {
    let text = required(lookup, name, hint)?;
    match text.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::Invalid {
            name,
            reason: format!("{text:?} is not a positive number of seconds"),
        }),
    }
}

/// A lookup over fixed pairs, for tests of every function's `Config`.
#[cfg(any(test, feature = "testing"))]
pub fn lookup_from<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_blank_variable_is_named_in_the_error() {
        let lookup = |name: &str| (name == "BLANK").then(|| "  ".to_owned());
        let err = required(&lookup, "ORDERS_TABLE", "the Orders table name").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ORDERS_TABLE is not set: the Orders table name"
        );
        assert!(required(&lookup, "BLANK", "x").is_err());
        let present = |_: &str| Some("t".to_owned());
        assert_eq!(required(&present, "ORDERS_TABLE", "x").unwrap(), "t");
    }

    #[test]
    fn the_idempotency_policy_is_read_in_seconds() {
        let pairs = [(LOCK_SECONDS, "90"), (KEEP_SECONDS, "1296000")];
        let policy = idempotency_policy(&lookup_from(&pairs)).unwrap();
        assert_eq!(policy.lock_for, Duration::seconds(90));
        assert_eq!(policy.keep_for, Duration::days(15));
    }

    #[test]
    fn a_missing_zero_or_unreadable_duration_is_refused_with_its_name() {
        for (lock, keep, at_fault) in [
            (None, Some("100"), LOCK_SECONDS),
            (Some("90"), None, KEEP_SECONDS),
            (Some("0"), Some("100"), LOCK_SECONDS),
            (Some("90"), Some("2 weeks"), KEEP_SECONDS),
            (Some("-5"), Some("100"), LOCK_SECONDS),
        ] {
            let pairs: Vec<(&str, &str)> = [(LOCK_SECONDS, lock), (KEEP_SECONDS, keep)]
                .into_iter()
                .filter_map(|(n, v)| v.map(|v| (n, v)))
                .collect();
            let err = idempotency_policy(&lookup_from(&pairs)).unwrap_err();
            assert_eq!(err.name(), at_fault, "{lock:?} {keep:?}: {err}");
        }
    }

    #[test]
    fn a_key_kept_for_less_than_its_lock_is_refused() {
        let pairs = [(LOCK_SECONDS, "90"), (KEEP_SECONDS, "60")];
        let err = idempotency_policy(&lookup_from(&pairs)).unwrap_err();
        assert_eq!(err.name(), KEEP_SECONDS);
    }

    #[test]
    fn a_switch_is_on_only_when_set_to_one() {
        let pairs = [("ON", "1"), ("OFF", "0"), ("TRUE", "true")];
        let lookup = lookup_from(&pairs);
        assert!(switch(&lookup, "ON"));
        assert!(!switch(&lookup, "OFF"));
        assert!(!switch(&lookup, "TRUE"));
        assert!(!switch(&lookup, "UNSET"));
    }
}
