//! Hot reload: a function's binary, watched while the cloud runs. When it is rebuilt
//! (`cargo build -p validate-order`), the function's processes are replaced between
//! invocations, as Lambda replaces its execution environments after a code update: queued
//! invocations wait for the new processes, one in flight finishes on the old one, moto and the
//! other functions go on.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;

use super::logs::LogSink;
use super::messages::RELOADED;

/// How often the binary is looked at; a build is seen within about twice this.
const POLL: Duration = Duration::from_millis(400);

/// What identifies one build of a binary: cargo links a new file in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Build {
    inode: u64,
    len: u64,
    modified_ns: i128,
}

fn build_of(path: &Path) -> Option<Build> {
    let m = std::fs::metadata(path).ok()?;
    Some(Build {
        inode: m.ino(),
        len: m.len(),
        modified_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    })
}

/// Watches `binary` until the cloud shuts down; the receiver's value goes up by one each time
/// a new build of it has settled (the same for two looks in a row, so a binary still being
/// written is not started), and the cloud's log says which function was reloaded.
pub fn watch_binary(
    function: String,
    binary: PathBuf,
    logs: LogSink,
    mut shutdown: watch::Receiver<bool>,
) -> watch::Receiver<u64> {
    let (tx, rx) = watch::channel(0u64);
    tokio::spawn(async move {
        let mut running = build_of(&binary);
        let mut seen = running;
        loop {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = super::stopped(&mut shutdown) => return,
            }
            let now = build_of(&binary);
            let settled = now.is_some() && now == seen && now != running;
            seen = now;
            if settled {
                running = now;
                tx.send_modify(|n| *n = n.wrapping_add(1));
                logs.line(
                    "orderflow",
                    &format!(
                        "{RELOADED} {function}: {} was rebuilt; its processes are replaced between invocations",
                        binary.display()
                    ),
                );
            }
            if tx.is_closed() {
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rebuilt_binary_is_reported_once_it_has_settled() {
        let dir = std::env::temp_dir().join(format!("orderflow-reload-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("f");
        std::fs::write(&binary, "one").unwrap();
        let (_stop, shutdown) = watch::channel(false);
        let mut rebuilt = watch_binary("f".into(), binary.clone(), LogSink::new(None), shutdown);
        tokio::time::sleep(POLL * 3).await;
        assert!(!rebuilt.has_changed().unwrap(), "nothing rebuilt yet");
        // As cargo does: the old file removed, the new one put in its place.
        std::fs::remove_file(&binary).unwrap();
        std::fs::write(&binary, "two, longer").unwrap();
        tokio::time::timeout(POLL * 10, rebuilt.changed())
            .await
            .expect("the rebuild is seen")
            .unwrap();
        assert_eq!(*rebuilt.borrow_and_update(), 1);
        tokio::time::sleep(POLL * 3).await;
        assert!(!rebuilt.has_changed().unwrap(), "one build, one reload");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
