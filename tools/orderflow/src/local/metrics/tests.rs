use orderflow_shared::telemetry::metrics as emit;

use super::*;

/// The lines the functions' own metrics code writes for a few decisions.
fn emitted(decide: impl FnOnce()) -> String {
    let captured = emit::capture();
    decide();
    captured
        .flush()
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_functions_emf_lines_add_up_by_name_and_dimensions() {
    let text = emitted(|| {
        emit::order_placed();
        emit::order_placed();
        emit::reservation(true);
        emit::reservation(false);
        emit::charge(emit::Charge::Approved);
        emit::stage_latency("reserve", Some(chrono::Utc::now()));
    });
    let mut totals = Totals::from_lines(&format!("plain log line\n{text}"));
    assert_eq!(totals.sum(name::ORDERS_PLACED, &[]), 2.0);
    assert_eq!(
        totals.sum(name::RESERVATIONS, &[(dim::OUTCOME, "refused")]),
        1.0
    );
    assert_eq!(totals.sum(name::RESERVATIONS, &[]), 2.0);
    assert_eq!(
        totals.sum(name::RESERVATIONS, &[(dim::FUNCTION, "test")]),
        2.0
    );
    assert!(!totals.add_line(r#"{"level":"INFO","message":"x"}"#));
    let orders = totals.orders();
    assert_eq!((orders.placed, orders.reserved, orders.rejected), (2, 1, 1));
    assert_eq!(orders.approved, 1);
    assert_eq!(orders.in_flight()[0], ("inventory", 0));
    assert_eq!(orders.in_flight()[1], ("payment", 0));
}

#[test]
fn counts_that_do_not_add_up_are_named() {
    let balanced = OrderMetrics {
        placed: 4,
        reserved: 3,
        rejected: 1,
        approved: 2,
        declined: 1,
        cancelled: 1,
        notified: 4,
        ..OrderMetrics::default()
    };
    assert!(
        balanced.imbalances().is_empty(),
        "{:?}",
        balanced.imbalances()
    );
    let lost_cancel = OrderMetrics {
        cancelled: 0,
        ..balanced
    };
    let found = lost_cancel.imbalances();
    assert!(
        found.iter().any(|f| f.starts_with("declined = cancelled")),
        "{found:?}"
    );
}

#[test]
fn the_store_keeps_emf_lines_in_its_file_for_other_processes() {
    let dir = std::env::temp_dir().join(format!("orderflow-metrics-{}", uuid::Uuid::new_v4()));
    // As in `local up`: the store exists before its state folder.
    let store = MetricsStore::new(Some(&dir));
    std::fs::create_dir_all(&dir).unwrap();
    let text = emitted(|| emit::notification_sent("confirmed"));
    for line in text.lines() {
        assert!(store.record(line));
    }
    assert!(!store.record("not a metric"));
    assert_eq!(store.totals().sum(name::NOTIFICATIONS_SENT, &[]), 1.0);
    assert_eq!(read(&dir), store.totals());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_followed_metrics_file_adds_each_whole_line_once() {
    let dir = std::env::temp_dir().join(format!("orderflow-metrics-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(METRICS_FILE);
    let mut following = Following::new(path.clone());
    following.read_on();
    assert_eq!(following.totals, Totals::default(), "no file yet: nothing");
    let placed = emitted(emit::order_placed);
    let (half, rest) = placed.split_at(placed.len() / 2);
    std::fs::write(&path, format!("{placed}\n{half}")).unwrap();
    following.read_on();
    assert_eq!(following.totals.sum(name::ORDERS_PLACED, &[]), 1.0);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut file, format!("{rest}\n").as_bytes()).unwrap();
    following.read_on();
    following.read_on();
    assert_eq!(following.totals.sum(name::ORDERS_PLACED, &[]), 2.0);
    assert_eq!(
        following.totals,
        read(&dir),
        "as one read of the whole file"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_summary_line_gives_rates_in_flight_and_the_dlq_depth() {
    let before = Totals::from_lines(&emitted(emit::order_placed));
    let now = Totals::from_lines(&emitted(|| {
        for _ in 0..11 {
            emit::order_placed();
        }
        emit::reservation(true);
    }));
    let line = summary(&before, &now, 5.0, Some(3));
    assert!(line.contains("placed 2.0"), "{line}");
    assert!(line.contains("inventory 10 payment 1"), "{line}");
    assert!(line.ends_with("DLQ 3"), "{line}");
}
