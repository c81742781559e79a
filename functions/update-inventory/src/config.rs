//! What update-inventory reads at start, and nothing else: a missing variable stops the start
//! with its name.

use orderflow_shared::config::{required, ConfigError, Lookup};
#[cfg(feature = "local-cloud")]
use orderflow_shared::faults::Faults;
use orderflow_shared::sqs_batch::BatchRunner;

#[derive(Debug, Clone)]
pub struct Config {
    /// Orders: the order moves inside the reservation and release transactions.
    pub orders_table: String,
    /// Inventory: catalog, stock and reservations.
    pub inventory_table: String,
    /// Where `InventoryReserved`, `InventoryRejected` and `InventoryReleased` go.
    pub event_bus: String,
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
            inventory_table: required(lookup, "INVENTORY_TABLE", "name of the Inventory table")?,
            event_bus: required(
                lookup,
                "EVENT_BUS_NAME",
                "name of the orderflow EventBridge bus",
            )?,
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
