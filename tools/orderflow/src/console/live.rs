//! Live updates: one task builds a snapshot of what the page shows (the orders, the pipeline,
//! the charts) every [`EVERY`] while a page listens, and every page gets it as a server-sent
//! event. One reader for any number of pages; none while nobody looks (the end-to-end tests'
//! clouds are not slowed by a console nobody opened).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::{json, Value};

use super::{mask, reads, Console};

pub const EVERY: Duration = Duration::from_secs(1);

/// The snapshot as JSON, masked.
pub async fn snapshot(console: &Console) -> Value {
    let (orders, pipeline) = tokio::join!(reads::orders(console), reads::pipeline(console));
    let shown = |read: Result<Value, reads::ReadError>| {
        read.unwrap_or_else(|e| json!({"error": e.to_string()}))
    };
    let (orders, pipeline) = (shown(orders), shown(pipeline));
    let charts = console
        .charts
        .lock()
        .map(|c| serde_json::to_value(&*c).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    let mut v = json!({
        "at": chrono::Utc::now(),
        "orders": orders,
        "pipeline": pipeline,
        "charts": charts,
        "hasMetrics": console.sources.metrics.is_some(),
    });
    mask::json(&mut v);
    v
}

/// Publishes a snapshot every [`EVERY`] while at least one page listens.
pub async fn publish(console: Arc<Console>) {
    loop {
        if console.live.receiver_count() == 0 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        let started = tokio::time::Instant::now();
        let text = snapshot(&console).await.to_string();
        console.live.send_replace(Arc::new(text));
        tokio::time::sleep_until(started + EVERY).await;
    }
}

/// The stream a page listens to: the latest snapshot at once if there is one, then each new one.
pub fn stream(console: &Console) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut rx = console.live.subscribe();
    rx.mark_changed();
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            rx.changed().await.ok()?;
            let text = rx.borrow_and_update().clone();
            if !text.is_empty() {
                let event = Event::default().event("snapshot").data(text.as_str());
                return Some((Ok(event), rx));
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
