//! The faults the local cloud itself injects — the AWS proxy's and the event source mappings'
//! — behind one switch that stops them mid-run (`orderflow chaos` stops faults before it
//! redrives the DLQs), and the variables that switch on the functions' own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use orderflow_shared::faults::{Fault, Faults};

/// The variables that switch on the functions' own fault injection: which faults, per mille,
/// and the seed of their choices.
pub const FAULTS_VARIABLE: &str = "ORDERFLOW_FAULTS";
pub const FAULT_SEED_VARIABLE: &str = "ORDERFLOW_FAULT_SEED";
pub const FUNCTION_FAULT_VARIABLES: [&str; 2] = [FAULTS_VARIABLE, FAULT_SEED_VARIABLE];

/// Faults, and whether they are still on.
#[derive(Debug, Clone)]
pub struct FaultSwitch {
    faults: Faults,
    on: Arc<AtomicBool>,
}

impl FaultSwitch {
    pub fn new(faults: Faults) -> FaultSwitch {
        FaultSwitch {
            faults,
            on: Arc::new(AtomicBool::new(true)),
        }
    }

    pub fn hits(&self, fault: Fault, key: &str) -> bool {
        self.on.load(Ordering::SeqCst) && self.faults.hits(fault, key)
    }

    /// Other faults, switched by the same switch.
    pub fn sharing(&self, faults: Faults) -> FaultSwitch {
        FaultSwitch {
            faults,
            on: self.on.clone(),
        }
    }

    pub fn stop(&self) {
        self.on.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopping_a_switch_stops_every_fault_that_shares_it() {
        let seed = "7";
        let always = |spec: &str| Faults::parse(spec, seed).unwrap();
        let proxy = FaultSwitch::new(always("throttle=1000"));
        let mapping = proxy.sharing(always("duplicate=1000"));
        assert!(proxy.hits(Fault::Throttle, "1"));
        assert!(mapping.hits(Fault::Duplicate, "m:1"));
        proxy.stop();
        assert!(!proxy.hits(Fault::Throttle, "1"));
        assert!(!mapping.hits(Fault::Duplicate, "m:1"));
    }
}
