//! Reading a function's configuration once, at start-up: each function's own `Config` (in its
//! `config.rs`) names exactly the variables it needs and reads them through these helpers, from
//! a lookup that is the process environment in `main` and a map in tests.

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
    fn a_switch_is_on_only_when_set_to_one() {
        let pairs = [("ON", "1"), ("OFF", "0"), ("TRUE", "true")];
        let lookup = lookup_from(&pairs);
        assert!(switch(&lookup, "ON"));
        assert!(!switch(&lookup, "OFF"));
        assert!(!switch(&lookup, "TRUE"));
        assert!(!switch(&lookup, "UNSET"));
    }
}
