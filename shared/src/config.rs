//! Typed configuration read once from the environment at start-up.

/// A required variable is missing or empty; the message names it.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name} is not set: {hint}")]
pub struct ConfigError {
    pub name: &'static str,
    pub hint: &'static str,
}

/// `main` returns this error, and Rust prints a returned error with `Debug`: make that readable.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Reads one required variable.
pub fn required(name: &'static str, hint: &'static str) -> Result<String, ConfigError> {
    required_from(&|n| std::env::var(n).ok(), name, hint)
}

/// Reads one required variable from a lookup function (tests pass a map; `main` the process env).
pub fn required_from(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError { name, hint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_blank_variable_is_named_in_the_error() {
        let lookup = |name: &str| (name == "BLANK").then(|| "  ".to_owned());
        let err = required_from(&lookup, "ORDERS_TABLE", "the Orders table name").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ORDERS_TABLE is not set: the Orders table name"
        );
        assert!(required_from(&lookup, "BLANK", "x").is_err());
        let present = |_: &str| Some("t".to_owned());
        assert_eq!(required_from(&present, "ORDERS_TABLE", "x").unwrap(), "t");
    }
}
