//! What reconcile-orders reads at start, and nothing else: a missing or unusable variable
//! stops the start with its name.

use chrono::Duration;
use orderflow_shared::config::{required, ConfigError, Lookup};

use crate::due::Bounds;
use crate::handler::Sweep;

/// Orders per query: a page of whole orders stays well under a query's 1 MB.
pub const PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone)]
pub struct Config {
    /// Orders, read through its open-orders index.
    pub orders_table: String,
    pub open_orders_index: String,
    /// Payments: the reason of a failed payment.
    pub payments_table: String,
    /// Where the republished events go.
    pub event_bus: String,
    pub bounds: Bounds,
    pub sweep: Sweep,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Config::from_lookup(&orderflow_shared::config::env)
    }

    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let bounds = Bounds {
            pending_after: seconds(lookup, "PENDING_AFTER_SECONDS")?,
            reservation_ttl: seconds(lookup, "RESERVATION_TTL_SECONDS")?,
            stranded_after: seconds(lookup, "STRANDED_AFTER_SECONDS")?,
        };
        if bounds.stranded_after < bounds.pending_after.max(bounds.reservation_ttl) {
            return Err(ConfigError::Invalid {
                name: "STRANDED_AFTER_SECONDS",
                reason: "must be at least PENDING_AFTER_SECONDS and RESERVATION_TTL_SECONDS: \
                    an order is stranded only once the reconciler has had its chance"
                    .into(),
            });
        }
        Ok(Config {
            orders_table: required(lookup, "ORDERS_TABLE", "name of the Orders table")?,
            open_orders_index: required(
                lookup,
                "OPEN_ORDERS_INDEX",
                "name of the Orders table's open-orders index",
            )?,
            payments_table: required(lookup, "PAYMENTS_TABLE", "name of the Payments table")?,
            event_bus: required(
                lookup,
                "EVENT_BUS_NAME",
                "name of the orderflow EventBridge bus",
            )?,
            bounds,
            sweep: Sweep {
                page_size: PAGE_SIZE,
                max_orders_per_run: positive(lookup, "MAX_ORDERS_PER_RUN")?,
            },
        })
    }
}

/// A whole number above zero.
fn positive(lookup: Lookup<'_>, name: &'static str) -> Result<u32, ConfigError> {
    let raw = required(lookup, name, "a whole number above zero")?;
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ConfigError::Invalid {
            name,
            reason: format!("{raw:?} is not a whole number above zero"),
        })
}

fn seconds(lookup: Lookup<'_>, name: &'static str) -> Result<Duration, ConfigError> {
    positive(lookup, name).map(|s| Duration::seconds(i64::from(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_shared::config::lookup_from;

    const ALL: [(&str, &str); 8] = [
        ("ORDERS_TABLE", "orders"),
        ("OPEN_ORDERS_INDEX", "OpenOrders"),
        ("PAYMENTS_TABLE", "payments"),
        ("EVENT_BUS_NAME", "bus"),
        ("PENDING_AFTER_SECONDS", "120"),
        ("RESERVATION_TTL_SECONDS", "900"),
        ("STRANDED_AFTER_SECONDS", "3600"),
        ("MAX_ORDERS_PER_RUN", "1000"),
    ];

    fn with(name: &str, value: &'static str) -> Vec<(&'static str, &'static str)> {
        ALL.iter()
            .map(|(n, v)| (*n, if *n == name { value } else { *v }))
            .collect()
    }

    #[test]
    fn the_tables_the_bus_and_the_bounds_are_read_from_their_variables() {
        let config = Config::from_lookup(&lookup_from(&ALL)).unwrap();
        assert_eq!(config.orders_table, "orders");
        assert_eq!(config.open_orders_index, "OpenOrders");
        assert_eq!(config.payments_table, "payments");
        assert_eq!(config.event_bus, "bus");
        assert_eq!(config.bounds.pending_after, Duration::seconds(120));
        assert_eq!(config.bounds.reservation_ttl, Duration::seconds(900));
        assert_eq!(config.bounds.stranded_after, Duration::seconds(3600));
        assert_eq!(config.sweep.max_orders_per_run, 1000);
    }

    #[test]
    fn a_missing_variable_stops_the_start_with_its_name() {
        for (missing, _) in ALL {
            let rest: Vec<_> = ALL.into_iter().filter(|(n, _)| *n != missing).collect();
            let err = Config::from_lookup(&lookup_from(&rest)).unwrap_err();
            assert_eq!(err.name(), missing);
        }
    }

    #[test]
    fn a_bound_that_is_not_a_positive_whole_number_is_refused() {
        for bad in ["0", "-5", "two", "1.5"] {
            let pairs = with("PENDING_AFTER_SECONDS", bad);
            let err = Config::from_lookup(&lookup_from(&pairs)).unwrap_err();
            assert_eq!(err.name(), "PENDING_AFTER_SECONDS", "{bad}");
        }
    }

    #[test]
    fn a_stranded_bound_shorter_than_the_others_is_refused() {
        let pairs = with("STRANDED_AFTER_SECONDS", "600");
        let err = Config::from_lookup(&lookup_from(&pairs)).unwrap_err();
        assert_eq!(err.name(), "STRANDED_AFTER_SECONDS");
    }
}
