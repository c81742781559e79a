//! What validate-order reads at start, and nothing else: a missing variable stops the start
//! with its name.

use orderflow_shared::config::{required, ConfigError, Lookup};
use orderflow_shared::http::Access;

#[derive(Debug, Clone)]
pub struct Config {
    /// Orders: a new order, stored `PENDING`; it is also its `Idempotency-Key`'s record.
    pub orders_table: String,
    /// Inventory: the catalog the lines are priced from.
    pub inventory_table: String,
    /// Where `OrderPlaced` goes.
    pub event_bus: String,
    /// `REQUIRE_AUTH`: whether the customer comes from the authorizer's token (deployed, and
    /// whenever the variable is not `false`) or from the body (an open API).
    pub access: Access,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Config::from_lookup(&orderflow_shared::config::env)
    }

    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        Ok(Config {
            orders_table: required(lookup, "ORDERS_TABLE", "name of the Orders table")?,
            inventory_table: required(lookup, "INVENTORY_TABLE", "name of the Inventory table")?,
            event_bus: required(
                lookup,
                "EVENT_BUS_NAME",
                "name of the orderflow EventBridge bus",
            )?,
            access: Access::from_lookup(lookup),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_shared::config::lookup_from;

    const ALL: [(&str, &str); 3] = [
        ("ORDERS_TABLE", "orders"),
        ("INVENTORY_TABLE", "inventory"),
        ("EVENT_BUS_NAME", "bus"),
    ];

    #[test]
    fn the_tables_and_the_bus_are_read_from_their_variables() {
        let config = Config::from_lookup(&lookup_from(&ALL)).unwrap();
        assert_eq!(config.orders_table, "orders");
        assert_eq!(config.inventory_table, "inventory");
        assert_eq!(config.event_bus, "bus");
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
    fn tokens_are_required_unless_require_auth_is_false() {
        let open = [ALL.as_slice(), &[("REQUIRE_AUTH", "false")]].concat();
        assert_eq!(
            Config::from_lookup(&lookup_from(&open)).unwrap().access,
            Access::Open
        );
        for value in ["true", "", "no"] {
            let pairs = [ALL.as_slice(), &[("REQUIRE_AUTH", value)]].concat();
            let config = Config::from_lookup(&lookup_from(&pairs)).unwrap();
            assert_eq!(config.access, Access::Token, "REQUIRE_AUTH={value:?}");
        }
        let config = Config::from_lookup(&lookup_from(&ALL)).unwrap();
        assert_eq!(config.access, Access::Token, "unset");
    }
}
