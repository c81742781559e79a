//! The time as a port: the system clock in the functions, a clock a test moves by hand, so a
//! test can let a day pass between two deliveries (a provider forgetting a key, an attempt
//! growing old) without waiting for it.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Tells the time. Clones share their source.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Utc::now))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

/// A clock that runs with the system's but can be moved forward by hand (test code).
#[cfg(any(test, feature = "testing"))]
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    ahead: Arc<std::sync::Mutex<chrono::Duration>>,
}

#[cfg(any(test, feature = "testing"))]
impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves every [`Clock`] made by [`clock`](Self::clock) forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner());
        *ahead += by;
    }

    pub fn clock(&self) -> Clock {
        let ahead = Arc::clone(&self.ahead);
        Clock(Arc::new(move || {
            Utc::now() + *ahead.lock().unwrap_or_else(|p| p.into_inner())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn the_system_clock_tells_the_system_time() {
        let before = Utc::now();
        let now = Clock::system().now();
        assert!(before <= now && now <= Utc::now());
    }

    #[test]
    fn a_manual_clock_moves_forward_when_told_and_all_its_clocks_with_it() {
        let manual = ManualClock::new();
        let (a, b) = (manual.clock(), manual.clock());
        let start = Utc::now();
        assert!(a.now() - start < Duration::seconds(5));
        manual.advance(Duration::days(2));
        assert!(a.now() - start >= Duration::days(2));
        assert!(b.now() - start >= Duration::days(2));
        assert!(b.now() - start < Duration::days(2) + Duration::seconds(5));
    }
}
