//! SAM `Schedule` events, played the way EventBridge plays them: the function is invoked every
//! period of its `rate(...)` expression with a `Scheduled Event` payload, the first time one
//! period after the start. `--schedule-period` replaces every period (tests run the
//! reconciler every few seconds). One run at a time: a run longer than the period delays the
//! next (Lambda would start another beside it; the functions' runs are safe to overlap).

use std::time::Duration;

use axum::body::Bytes;
use chrono::{SecondsFormat, Utc};
use orderflow_template::model::{EventSource, Function};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::endpoint::REGION;
use super::functions::Wiring;
use super::logs::LogSink;
use super::resources::{Deployment, ACCOUNT};
use super::runtime::{FunctionHandle, InvokeError};
use super::up::UpError;

/// One schedule of one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub period: Duration,
    /// The rule's ARN, as the payload's `resources` names it.
    pub rule_arn: String,
}

/// A task per enabled `Schedule` event of `f`.
pub fn start(
    f: &Function,
    handle: &FunctionHandle,
    w: &Wiring<'_>,
) -> Result<Vec<JoinHandle<()>>, UpError> {
    let mut tasks = Vec::new();
    for event in &f.events {
        let EventSource::Schedule(schedule) = &event.source else {
            continue;
        };
        if !schedule.enabled {
            continue;
        }
        let period = match w.options.schedule_period {
            Some(period) => period,
            None => period_of(&schedule.schedule, w.deployment).map_err(|message| {
                UpError::Function {
                    function: f.binary.clone(),
                    message: format!("event {}: {message}", event.name),
                }
            })?,
        };
        let rule = w
            .deployment
            .physical_name(&format!("{}{}", f.logical_id, event.name));
        let schedule = Schedule {
            period,
            rule_arn: format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"),
        };
        w.logs.line(
            "orderflow",
            &format!("schedule: {} every {} s", f.binary, period.as_secs()),
        );
        let (logs, shutdown) = (w.logs.clone(), w.shutdown.clone());
        tasks.push(tokio::spawn(run(handle.clone(), schedule, logs, shutdown)));
    }
    Ok(tasks)
}

/// The period of a schedule expression as the template writes it (resolved against the
/// deployment's parameters).
fn period_of(expression: &orderflow_template::Value, d: &Deployment) -> Result<Duration, String> {
    let text = expression
        .resolve_string(d)
        .map_err(|e| format!("Schedule: {e}"))?;
    rate_period(&text).ok_or_else(|| {
        format!(
            "{text:?}: only rate(N minute|minutes|hour|hours|day|days) is played locally; \
             pass --schedule-period SECONDS"
        )
    })
}

/// `rate(5 minutes)` → 300 s; `None` for anything else (a cron expression, a bad rate).
pub fn rate_period(expression: &str) -> Option<Duration> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = inner.trim().split_once(' ')?;
    let value: u64 = value.parse().ok().filter(|v| *v > 0)?;
    let unit_seconds = match (unit.trim(), value) {
        ("minute", 1) | ("minutes", 2..) => 60,
        ("hour", 1) | ("hours", 2..) => 3600,
        ("day", 1) | ("days", 2..) => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(value * unit_seconds))
}

/// The payload EventBridge sends a scheduled rule's target.
pub fn scheduled_event(schedule: &Schedule, time: chrono::DateTime<Utc>) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": REGION,
        "resources": [schedule.rule_arn],
        "detail": {}
    })
}

async fn run(
    function: FunctionHandle,
    schedule: Schedule,
    logs: LogSink,
    mut shutdown: watch::Receiver<bool>,
) {
    let who = format!("schedule:{}", function.name);
    let mut ticks = tokio::time::interval_at(Instant::now() + schedule.period, schedule.period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = super::stopped(&mut shutdown) => return,
        }
        let payload = Bytes::from(scheduled_event(&schedule, Utc::now()).to_string());
        match function.invoke(payload).await {
            Ok(_) | Err(InvokeError::ShuttingDown) => {}
            Err(e) => logs.line(&who, &format!("scheduled invocation failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_expressions_become_periods_and_anything_else_is_refused() {
        let minutes = |n: u64| Some(Duration::from_secs(n * 60));
        assert_eq!(rate_period("rate(1 minute)"), minutes(1));
        assert_eq!(rate_period("rate(5 minutes)"), minutes(5));
        assert_eq!(rate_period("rate(2 hours)"), minutes(120));
        assert_eq!(rate_period("rate(1 day)"), minutes(1440));
        // EventBridge's own rules: the singular for 1, the plural above, no zero.
        for refused in [
            "rate(1 minutes)",
            "rate(2 minute)",
            "rate(0 minutes)",
            "rate(10 seconds)",
            "cron(0/5 * * * ? *)",
            "every minute",
        ] {
            assert_eq!(rate_period(refused), None, "{refused}");
        }
    }

    #[test]
    fn the_payload_is_a_scheduled_event_naming_its_rule_and_time() {
        let schedule = Schedule {
            period: Duration::from_secs(60),
            rule_arn: "arn:aws:events:us-east-1:123456789012:rule/s-FSweep".into(),
        };
        let time = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        let event = scheduled_event(&schedule, time);
        assert_eq!(event["detail-type"], "Scheduled Event");
        assert_eq!(event["source"], "aws.events");
        assert_eq!(event["time"], "2026-01-02T03:04:05Z");
        assert_eq!(event["resources"][0], schedule.rule_arn);
        assert_eq!(event["detail"], json!({}));
    }

    #[tokio::test]
    async fn the_function_is_invoked_once_a_period_from_one_period_after_the_start() {
        let (handle, mut invocations) = FunctionHandle::recording("reconcile-orders");
        let (stop, shutdown) = watch::channel(false);
        let period = Duration::from_millis(300);
        let schedule = Schedule {
            period,
            rule_arn: "arn:rule".into(),
        };
        let started = Instant::now();
        let task = tokio::spawn(run(handle, schedule, LogSink::new(None), shutdown));
        let first: Value = serde_json::from_slice(&invocations.recv().await.unwrap()).unwrap();
        assert!(started.elapsed() >= period, "not before one period");
        assert_eq!(first["detail-type"], "Scheduled Event");
        invocations.recv().await.unwrap();
        assert!(started.elapsed() >= 2 * period, "the second a period later");
        stop.send(true).unwrap();
        task.await.unwrap();
    }
}
