//! Free loopback ports for the servers a run starts (its local cloud, moto, the API, the console).
//!
//! A port the kernel hands out for `127.0.0.1:0` comes from the ephemeral range, the same range
//! it takes the local port of every outgoing connection from. Between finding such a port free
//! and the server binding it, one of the thousands of connections a test run opens can take it
//! ("Address already in use"). So a port is picked at random below the ephemeral range, where
//! the kernel never puts an outgoing connection, and only falls back to `:0` when no such port
//! binds.

use std::net::TcpListener;
use std::ops::Range;

/// Where the ephemeral range is read on Linux.
const EPHEMERAL_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
/// The ports below the ephemeral range that are picked from (IANA's registered ports start at
/// 1024; the first thousands hold well-known services).
const LOWEST: u16 = 10_000;
const TRIES: usize = 64;

/// A loopback port that was free a moment ago, outside the kernel's ephemeral range when it can.
pub fn free_port() -> std::io::Result<u16> {
    let candidates = below_ephemeral(std::fs::read_to_string(EPHEMERAL_RANGE).ok().as_deref());
    if let Some(range) = candidates {
        for _ in 0..TRIES {
            let port = pick(&range);
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The ports from `LOWEST` up to the ephemeral range's start, given the range file's text
/// (`"32768\t60999"`); none when it cannot be read or leaves no room.
fn below_ephemeral(range_file: Option<&str>) -> Option<Range<u16>> {
    let start: u16 = range_file?.split_whitespace().next()?.parse().ok()?;
    (start > LOWEST + 1_000).then_some(LOWEST..start)
}

fn pick(range: &Range<u16>) -> u16 {
    let span = u128::from(range.end - range.start);
    // A v4 UUID is 122 random bits from the OS: plenty for a port.
    let offset = uuid::Uuid::new_v4().as_u128() % span;
    range.start + u16::try_from(offset).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ports_picked_from_lie_below_the_ephemeral_range() {
        assert_eq!(
            below_ephemeral(Some("32768\t60999\n")),
            Some(10_000..32_768)
        );
    }

    #[test]
    fn an_unreadable_or_too_low_range_leaves_the_kernel_to_choose() {
        assert_eq!(below_ephemeral(None), None);
        assert_eq!(below_ephemeral(Some("garbage")), None);
        assert_eq!(below_ephemeral(Some("10500 60999")), None);
    }

    #[test]
    fn a_picked_port_is_inside_its_range() {
        let range = 10_000..10_003;
        for _ in 0..200 {
            assert!(range.contains(&pick(&range)));
        }
    }

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port().unwrap();
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
    }
}
