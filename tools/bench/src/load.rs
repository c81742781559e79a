//! The load figures in docs/PERFORMANCE.md: what `orderflow load` and `orderflow load --flash`
//! left in `target/bench/load.json` and `target/bench/flash.json` (each with the command that
//! made it), rendered as a section between two markers, so `make load` rewrites only this
//! section and `make bench` the whole page.

use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use crate::Error;

pub const BEGIN: &str = "<!-- load:begin (generated from target/bench/load.json and flash.json by orderflow-bench; see tools/bench/src/load.rs) -->";
pub const END: &str = "<!-- load:end -->";

/// A JSON file, `None` when it is not there.
pub fn read(path: &Path) -> Result<Option<Value>, Error> {
    crate::aws_calls::read(path)
}

fn f(v: &Value, ptr: &str) -> f64 {
    v.pointer(ptr).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn u(v: &Value, ptr: &str) -> String {
    v.pointer(ptr)
        .map(|x| match x {
            Value::String(s) => s.clone(),
            Value::Null => "—".into(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| "—".into())
}

fn provenance(out: &mut String, run: &Value) {
    let _ = writeln!(
        out,
        "Run of {} (source {}), made by:\n\n```\n{}\n```\n",
        u(run, "/generated_at"),
        u(run, "/source"),
        u(run, "/command")
    );
}

/// The section, markers included.
pub fn section(load: Option<&Value>, flash: Option<&Value>) -> String {
    let mut out = format!("{BEGIN}\n\n## Load: the pipeline measured\n\n");
    match load {
        None => {
            out.push_str("Not measured: run `make load` (it writes `target/bench/load.json`).\n\n")
        }
        Some(run) => load_part(&mut out, run),
    }
    out.push_str("## Flash sale: one SKU past one item's write limit\n\n");
    match flash {
        None => out.push_str(
            "Not measured: run `make load-flash` (it writes `target/bench/flash.json`).\n\n",
        ),
        Some(run) => flash_part(&mut out, run),
    }
    out.push_str(END);
    out.push('\n');
    out
}

fn load_part(out: &mut String, run: &Value) {
    provenance(out, run);
    let r = &run["report"];
    let _ = writeln!(
        out,
        "Each order is only placed; its end is its own history's last transition (the Orders \
         item, read once at the end, after one Scan every 3 s to see whether all are final), \
         so the figures are the pipeline's, not the load generator's.\n\n\
         - orders: {} — {} confirmed, {} rejected, {} cancelled, {} not final; oversold {}\n\
         - throughput: **{:.2} orders/s** over {:.1} s (first placement → last final transition)\n\
         - latency (placement → last transition): p50 {} ms, p90 {} ms, p99 {} ms, max {} ms\n\
         - **backend_share {:.2}**: the pipeline's {:.2} orders/s over the {:.2} orders/s the \
         endpoint serves for the same calls replayed straight at it (batches with their real \
         entries; {} calls, {} failed, {} substituted)\n\
         - AWS calls per confirmed order: {:.2}\n",
        u(r, "/orders"),
        u(r, "/confirmed"),
        u(r, "/rejected"),
        u(r, "/cancelled"),
        u(r, "/not_terminal"),
        u(r, "/oversold"),
        f(r, "/throughput_orders_per_s"),
        f(r, "/duration_s"),
        u(r, "/latency_ms/p50"),
        u(r, "/latency_ms/p90"),
        u(r, "/latency_ms/p99"),
        u(r, "/latency_ms/max"),
        f(r, "/backend_share"),
        f(r, "/throughput_orders_per_s"),
        f(r, "/backend_throughput_orders_per_s"),
        u(r, "/replay/calls"),
        u(r, "/replay/failed"),
        u(r, "/replay/substituted"),
        f(r, "/aws_calls_per_order"),
    );
    let _ = writeln!(
        out,
        "| stage (ms) | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|"
    );
    for (name, key) in [
        ("placed → reserved", "reserved"),
        ("reserved → paid (confirmed)", "paid"),
        ("paid → told (inbox)", "told"),
        ("placed → rejected", "rejected"),
    ] {
        let s = format!("/stages_ms/{key}");
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} |",
            u(r, &format!("{s}/p50")),
            u(r, &format!("{s}/p90")),
            u(r, &format!("{s}/p99")),
            u(r, &format!("{s}/max"))
        );
    }
    let Some(cost) = r.get("cost").filter(|c| !c.is_null()) else {
        return;
    };
    let _ = writeln!(
        out,
        "\n**Cost: ${:.2} per million confirmed orders** on AWS ({}, prices of {}), from what \
         this run used; the model is described in `tools/orderflow/src/load/cost.rs`.\n\n\
         | service | what | used in the run | USD per million confirmed |\n|---|---|---:|---:|",
        f(cost, "/usd_per_million_confirmed"),
        u(cost, "/price_file"),
        u(cost, "/prices_of")
    );
    for line in cost["lines"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.2} |",
            u(line, "/service"),
            u(line, "/what"),
            f(line, "/units"),
            f(line, "/usd_per_million_orders")
        );
    }
    out.push('\n');
}

fn flash_part(out: &mut String, run: &Value) {
    provenance(out, run);
    let r = &run["report"];
    let rows: Vec<&Value> = r["rows"].as_array().into_iter().flatten().collect();
    let _ = writeln!(
        out,
        "One item allows R = {:.1} reservations/s. N shards ≥ 0.8 × min(N·R, ceiling): **{}**; \
         1 shard ≤ 1.1 × R: **{}**.\n",
        f(r, "/r_per_s"),
        u(r, "/sharded_reaches_its_bound"),
        u(r, "/one_shard_within_r")
    );
    let mut header = String::from("| |");
    let mut rule = String::from("|---|");
    for row in &rows {
        let _ = write!(header, " {} |", u(row, "/name"));
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for (label, ptr) in [
        ("per-item limit (WCU/s, 0 = none)", "/item_wcu"),
        ("buyers / stock", ""),
        ("confirmed", "/confirmed"),
        ("confirmed orders/s", "/confirmed_per_s"),
        ("time to a final state p50 (ms)", "/final_ms/p50"),
        ("time to a final state p99 (ms)", "/final_ms/p99"),
        ("conflicts retried", "/conflicts_retried"),
        ("throttles", "/throttles"),
        ("dead-lettered", "/dead_lettered"),
        ("stock left", "/stock_left"),
        ("sold out exactly", "/sold_out_exactly"),
    ] {
        let _ = write!(out, "| {label} |");
        for row in &rows {
            let cell = match ptr {
                "" => format!("{} / {}", u(row, "/buyers"), u(row, "/stock")),
                "/confirmed_per_s" => format!("{:.2}", f(row, ptr)),
                _ => u(row, ptr),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
}

/// `page` with its load section replaced by `section` (inserted before "## What was tried", or
/// at the end, when it has none yet).
pub fn replace_section(page: &str, section: &str) -> String {
    if let (Some(b), Some(e)) = (page.find(BEGIN), page.find(END)) {
        if b < e {
            let after = &page[e + END.len()..];
            return format!("{}{}{}", &page[..b], section.trim_end(), after);
        }
    }
    match page.find("## What was tried") {
        Some(at) => format!("{}{section}\n{}", &page[..at], &page[at..]),
        None => format!("{page}\n{section}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_replaces_its_old_self_and_nothing_else() {
        let page = "# P\n\n## AWS calls\n\nx\n\n## What was tried\n\ny\n";
        let first = replace_section(page, &section(None, None));
        assert!(first.contains("Not measured: run `make load`"));
        assert!(first.find(BEGIN).unwrap() < first.find("## What was tried").unwrap());
        let run =
            serde_json::json!({"command": "orderflow load --orders 9", "report": {"orders": 9}});
        let second = replace_section(&first, &section(Some(&run), None));
        assert_eq!(second.matches(BEGIN).count(), 1);
        assert!(second.contains("orderflow load --orders 9"));
        assert!(!second.contains("Not measured: run `make load`"));
        assert!(second.ends_with("## What was tried\n\ny\n"));
    }
}
