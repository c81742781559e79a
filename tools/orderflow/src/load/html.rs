//! The HTML reports, self-contained (inline CSS and SVG, no script, no network) and well-formed
//! XML, so a test can read them back: the summary first, then the charts, the tables, and a
//! link to the raw JSON written beside the page. Every chart's axes run from 0 to the largest
//! value it shows (`data-x-max`, `data-y-max` on its `<svg>`; each mark carries its `data-x`,
//! `data-y`), so nothing is drawn past the data.

use std::fmt::Write;

use super::flash::FlashReport;
use super::report::LoadReport;
use super::stats::{self, Latency};

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 40.0;
const TOP: f64 = 30.0;
const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:60em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;\
text-align:right}th:first-child,td:first-child{text-align:left}.big{font-size:1.4em}\
.ok{color:#176b2c}.bad{color:#a4161a}";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// How a chart draws its values.
pub enum Marks {
    /// (x, y) points.
    Points(Vec<(f64, f64)>),
    /// One bar per (label, value), x being the bar's index.
    Bars(Vec<(String, f64)>),
}

pub struct Chart<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub marks: Marks,
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The chart as inline SVG, its axes fitted to its values.
#[allow(clippy::float_arithmetic)] // coordinates
pub fn svg(c: &Chart<'_>) -> String {
    let (plot_w, plot_h) = (W - LEFT - 16.0, H - TOP - BOTTOM);
    let (x_max, y_max) = match &c.marks {
        Marks::Points(p) => (
            p.iter().map(|(x, _)| *x).fold(0.0, f64::max),
            p.iter().map(|(_, y)| *y).fold(0.0, f64::max),
        ),
        Marks::Bars(b) => (
            b.len() as f64,
            b.iter().map(|(_, v)| *v).fold(0.0, f64::max),
        ),
    };
    let sx = |x: f64| LEFT + if x_max > 0.0 { x / x_max * plot_w } else { 0.0 };
    let sy = |y: f64| TOP + plot_h - if y_max > 0.0 { y / y_max * plot_h } else { 0.0 };
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{}\" width=\"{W}\" height=\"{H}\" \
         font-size=\"11\" data-x-min=\"0\" data-x-max=\"{}\" data-y-min=\"0\" data-y-max=\"{}\">\
         <text x=\"{LEFT}\" y=\"18\" font-size=\"13\">{}</text>\
         <line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{}\" y2=\"{b}\" stroke=\"#333\"/>\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\" stroke=\"#333\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"{b}\" text-anchor=\"end\">0</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
         <text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">{}</text>",
        c.id,
        fmt_num(x_max),
        fmt_num(y_max),
        escape(c.title),
        LEFT + plot_w,
        LEFT - 4.0,
        TOP + 4.0,
        fmt_num(y_max),
        LEFT - 4.0,
        LEFT + plot_w / 2.0,
        H - 6.0,
        escape(c.x_label),
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(c.y_label),
        b = TOP + plot_h,
    );
    match &c.marks {
        Marks::Points(points) => {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                LEFT + plot_w,
                TOP + plot_h + 14.0,
                fmt_num(x_max)
            );
            for (x, y) in points {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"#4a7bd0\" data-x=\"{}\" \
                     data-y=\"{}\"/>",
                    sx(*x),
                    sy(*y),
                    fmt_num(*x),
                    fmt_num(*y)
                );
            }
        }
        Marks::Bars(bars) => {
            let width = plot_w / (bars.len().max(1) as f64);
            let every = (bars.len() / 12).max(1);
            for (i, (label, v)) in bars.iter().enumerate() {
                let x = LEFT + i as f64 * width;
                let _ = write!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                     fill=\"#4a7bd0\" data-x=\"{}\" data-y=\"{}\"><title>{}: {}</title></rect>",
                    sy(*v),
                    (width - 1.0).max(1.0),
                    TOP + plot_h - sy(*v),
                    i + 1,
                    fmt_num(*v),
                    escape(label),
                    fmt_num(*v)
                );
                if i % every == 0 {
                    let _ = write!(
                        out,
                        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                        x + width / 2.0,
                        TOP + plot_h + 14.0,
                        escape(label)
                    );
                }
            }
        }
    }
    out.push_str("</svg>\n");
    out
}

fn page(title: &str, body: &str, raw: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><meta charset=\"utf-8\"/>\
         <title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n{body}\
         <h2 id=\"raw\">Raw data</h2><p>Every figure above, as JSON: <a href=\"{r}\">{r}</a></p>\n\
         </body></html>\n",
        t = escape(title),
        r = escape(raw),
    )
}

fn row(cells: &[String]) -> String {
    let mut out = String::from("<tr>");
    for c in cells {
        let _ = write!(out, "<td>{}</td>", escape(c));
    }
    out.push_str("</tr>");
    out
}

fn latency_cells(name: &str, l: &Latency) -> Vec<String> {
    vec![
        name.to_owned(),
        l.p50.to_string(),
        l.p90.to_string(),
        l.p99.to_string(),
        l.max.to_string(),
    ]
}

/// The load run's page.
#[allow(clippy::float_arithmetic)] // ms to s
pub fn load_page(r: &LoadReport, raw: &str) -> String {
    let mut b = String::new();
    let cost = r.cost.as_ref().map_or("not measured".to_owned(), |c| {
        format!(
            "${:.2} per million confirmed orders",
            c.usd_per_million_confirmed
        )
    });
    let _ = write!(
        b,
        "<h2 id=\"summary\">Summary</h2><p class=\"big\">{} orders: {} confirmed, {} rejected, \
         {} cancelled, {} not final · {:.2} orders/s over {:.1} s · latency p50 {} ms, p90 {} \
         ms, p99 {} ms · {}</p><table><tr><th>check</th><th>value</th></tr>{}{}{}{}</table>",
        r.orders,
        r.confirmed,
        r.rejected,
        r.cancelled,
        r.not_terminal,
        r.throughput_orders_per_s,
        r.duration_s,
        r.latency_ms.p50,
        r.latency_ms.p90,
        r.latency_ms.p99,
        escape(&cost),
        row(&["oversold units".into(), r.oversold.to_string()]),
        row(&["stock mismatches".into(), r.stock_mismatch.to_string()]),
        row(&[
            "backend_share (pipeline ÷ replayed calls straight at the endpoint)".into(),
            r.backend_share.map_or("—".into(), |s| format!("{s:.2}")),
        ]),
        row(&["what was limited".into(), limited(r),]),
    );
    let points: Vec<(f64, f64)> = r
        .ends_ms
        .iter()
        .map(|(at, l)| (*at as f64 / 1000.0, *l as f64))
        .collect();
    b.push_str("<h2 id=\"latency-over-time\">Latency over time</h2>");
    b.push_str(&svg(&Chart {
        id: "latency-over-time-chart",
        title: "each order's latency (placement → last transition) at the time it ended",
        x_label: "seconds since the first placement",
        y_label: "latency (ms)",
        marks: Marks::Points(points),
    }));
    let per_second: Vec<u64> = r.ends_ms.iter().map(|(at, _)| *at).collect();
    let bars = stats::per_second_buckets(&per_second)
        .into_iter()
        .enumerate()
        .map(|(s, n)| (format!("{}", s + 1), n as f64))
        .collect();
    b.push_str("<h2 id=\"throughput\">Throughput over time</h2>");
    b.push_str(&svg(&Chart {
        id: "throughput-chart",
        title: "orders reaching a final state in each second",
        x_label: "second since the first placement",
        y_label: "orders",
        marks: Marks::Bars(bars),
    }));
    let s = &r.stages_ms;
    let _ = write!(
        b,
        "<h2 id=\"stages\">Per stage (ms, from the orders' histories)</h2><table><tr><th>stage\
         </th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>{}{}{}{}</table>",
        row(&latency_cells("placed → reserved", &s.reserved)),
        row(&latency_cells("reserved → paid (confirmed)", &s.paid)),
        row(&latency_cells("paid → told (inbox)", &s.told)),
        row(&latency_cells("placed → rejected", &s.rejected)),
    );
    let stage_bars = [
        ("reserved", &s.reserved),
        ("paid", &s.paid),
        ("told", &s.told),
    ]
    .iter()
    .flat_map(|(n, l)| {
        [
            (format!("{n} p50"), l.p50 as f64),
            (format!("{n} p99"), l.p99 as f64),
        ]
    })
    .collect();
    b.push_str(&svg(&Chart {
        id: "stages-chart",
        title: "p50 and p99 of each stage",
        x_label: "stage",
        y_label: "ms",
        marks: Marks::Bars(stage_bars),
    }));
    cost_and_calls(&mut b, r);
    page("orderflow load", &b, raw)
}

/// The cost table and the AWS calls of the order flow.
fn cost_and_calls(b: &mut String, r: &LoadReport) {
    if let Some(c) = &r.cost {
        let _ = write!(
            b,
            "<h2 id=\"cost\">Cost per million confirmed orders</h2><p>Prices: {} ({})</p>\
             <table><tr><th>service</th><th>what</th><th>used in this run</th>\
             <th>USD per million confirmed</th></tr>",
            escape(&c.prices_of),
            escape(&c.price_file)
        );
        for l in &c.lines {
            b.push_str(&row(&[
                l.service.clone(),
                l.what.clone(),
                format!("{:.2}", l.units),
                format!("{:.2}", l.usd_per_million_orders),
            ]));
        }
        let _ = write!(
            b,
            "{}</table>",
            row(&[
                "total".into(),
                String::new(),
                String::new(),
                format!("{:.2}", c.usd_per_million_confirmed)
            ])
        );
    }
    b.push_str("<h2 id=\"aws-calls\">AWS calls of the order flow</h2><table><tr><th>call</th><th>count</th></tr>");
    for (op, n) in &r.aws_calls {
        b.push_str(&row(&[op.clone(), n.to_string()]));
    }
    b.push_str("</table>");
}

/// What bounded the run, in words, from its own figures.
#[allow(clippy::float_arithmetic)] // a percentage
fn limited(r: &LoadReport) -> String {
    match (r.backend_share, r.backend_throughput_orders_per_s) {
        (Some(share), Some(backend)) => format!(
            "the pipeline reached {:.0} % of the {backend:.1} orders/s the endpoint served for the \
             same calls; the rest is the functions, queues and mappings on this machine",
            share * 100.0
        ),
        _ => "not measured (a cloud this run did not start)".into(),
    }
}

/// One figure of a flash row, as the table shows it.
type RowCell = fn(&super::flash::Row) -> String;

/// The flash sale's page: the three rows side by side.
pub fn flash_page(f: &FlashReport, raw: &str) -> String {
    let mark = |ok: bool| {
        if ok {
            "<span class=\"ok\">yes</span>"
        } else {
            "<span class=\"bad\">no</span>"
        }
    };
    let mut b = String::new();
    let _ = write!(
        b,
        "<h2 id=\"summary\">Summary</h2><p class=\"big\">{}: one item allows R = {:.1} \
         reservations/s.</p><p>Sharded row ≥ 0.8 × min(N·R, ceiling): {} · 1 shard ≤ 1.1 × R: {}</p>",
        escape(&f.sku),
        f.r_per_s,
        mark(f.sharded_reaches_its_bound),
        mark(f.one_shard_within_r)
    );
    b.push_str("<h2 id=\"rows\">The three runs side by side</h2><table><tr><th></th>");
    for r in &f.rows {
        let _ = write!(b, "<th>{}</th>", escape(&r.name));
    }
    b.push_str("</tr>");
    let lines: [(&str, RowCell); 12] = [
        ("per-item limit (WCU/s, 0 = none)", |r| {
            r.item_wcu.to_string()
        }),
        ("buyers", |r| r.buyers.to_string()),
        ("stock", |r| r.stock.to_string()),
        ("confirmed", |r| r.confirmed.to_string()),
        ("confirmed orders/s", |r| {
            format!("{:.2}", r.confirmed_per_s)
        }),
        ("time to a final state p50 (ms)", |r| {
            r.final_ms.p50.to_string()
        }),
        ("time to a final state p99 (ms)", |r| {
            r.final_ms.p99.to_string()
        }),
        ("conflicts retried", |r| r.conflicts_retried.to_string()),
        ("throttles", |r| r.throttles.to_string()),
        ("dead-lettered", |r| r.dead_lettered.to_string()),
        ("stock left", |r| {
            r.stock_left.map_or("?".into(), |s| s.to_string())
        }),
        ("sold out exactly (0 left, confirmed = stock)", |r| {
            if r.sold_out_exactly {
                "yes".into()
            } else {
                "no".into()
            }
        }),
    ];
    for (name, cell) in lines {
        let mut cells = vec![name.to_owned()];
        cells.extend(f.rows.iter().map(cell));
        b.push_str(&row(&cells));
    }
    b.push_str("</table>");
    b.push_str(&svg(&Chart {
        id: "flash-chart",
        title: "confirmed orders per second",
        x_label: "run",
        y_label: "orders/s",
        marks: Marks::Bars(
            f.rows
                .iter()
                .map(|r| (r.name.clone(), r.confirmed_per_s))
                .collect(),
        ),
    }));
    page("orderflow load --flash", &b, raw)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::flash::Row;
    use super::super::history::Stages;
    use super::*;

    fn load_report() -> LoadReport {
        let latency = Latency {
            p50: 900,
            p90: 1500,
            p99: 2100,
            max: 2400,
        };
        LoadReport {
            orders: 4,
            confirmed: 3,
            rejected: 1,
            cancelled: 0,
            not_terminal: 0,
            oversold: 0,
            stock_mismatch: 0,
            duration_s: 3.2,
            throughput_orders_per_s: 1.25,
            latency_ms: latency,
            stages_ms: Stages {
                reserved: latency,
                paid: latency,
                told: latency,
                rejected: latency,
            },
            ends_ms: vec![(1200, 900), (2500, 2400), (3200, 1500), (800, 800)],
            aws_calls_per_order: Some(9.0),
            aws_calls: BTreeMap::from([("DynamoDB.PutItem".to_owned(), 4)]),
            usage: None,
            cost: None,
            backend_throughput_orders_per_s: Some(2.0),
            backend_share: Some(0.62),
            replay: None,
            report: String::new(),
            json: String::new(),
            log: None,
            metrics: None,
            metrics_mismatch: Vec::new(),
        }
    }

    fn num(node: &roxmltree::Node<'_, '_>, name: &str) -> f64 {
        node.attribute(name).unwrap().parse().unwrap()
    }

    /// Every chart's axes start at 0 and end exactly at the largest value it draws.
    fn check_axes(html: &str) -> usize {
        let doc = roxmltree::Document::parse(html).unwrap();
        let charts: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("svg"))
            .collect();
        for chart in &charts {
            let marks: Vec<_> = chart
                .descendants()
                .filter(|n| n.attribute("data-x").is_some())
                .collect();
            assert!(
                !marks.is_empty(),
                "{:?} draws nothing",
                chart.attribute("id")
            );
            for axis in ["x", "y"] {
                let values: Vec<f64> = marks
                    .iter()
                    .map(|m| num(m, &format!("data-{axis}")))
                    .collect();
                let top = values.iter().copied().fold(0.0, f64::max);
                assert_eq!(num(chart, &format!("data-{axis}-min")), 0.0);
                assert!(values.iter().all(|v| *v >= 0.0));
                assert_eq!(
                    num(chart, &format!("data-{axis}-max")),
                    top,
                    "{:?}: the {axis} axis ends at its largest value",
                    chart.attribute("id")
                );
            }
        }
        charts.len()
    }

    fn sections(html: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(html).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("h2"))
            .filter_map(|n| n.attribute("id").map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_load_page_opens_with_its_summary_links_its_json_and_fits_every_axis_to_its_data() {
        let html = load_page(&load_report(), "report.json");
        assert_eq!(
            sections(&html),
            [
                "summary",
                "latency-over-time",
                "throughput",
                "stages",
                "aws-calls",
                "raw"
            ]
        );
        assert_eq!(check_axes(&html), 3);
        assert!(html.contains("href=\"report.json\""));
        assert!(!html.contains("<script"), "no script");
        assert!(
            !html.contains("src=") && !html.contains("https://"),
            "nothing fetched"
        );
        assert!(!html.contains("\"p50\""), "the JSON is linked, not dumped");
    }

    #[test]
    fn the_flash_page_sets_the_three_rows_side_by_side() {
        let row = |name: &str, rate: f64| Row {
            name: name.to_owned(),
            shards: 1,
            item_wcu: 4,
            buyers: 10,
            stock: 8,
            confirmed: 8,
            rejected: 2,
            not_final: 0,
            confirmed_per_s: rate,
            final_ms: Latency::default(),
            conflicts_retried: 3,
            throttles: 5,
            dead_lettered: 0,
            stock_left: Some(0),
            sold_out_exactly: true,
        };
        let report = FlashReport {
            sku: "SKU-FLASH".into(),
            r_per_s: 2.0,
            rows: vec![
                row("1 shard", 1.9),
                row("8 shards", 6.5),
                row("ceiling", 7.0),
            ],
            sharded_reaches_its_bound: true,
            one_shard_within_r: true,
            report: String::new(),
            json: String::new(),
        };
        let html = flash_page(&report, "flash.json");
        assert_eq!(sections(&html), ["summary", "rows", "raw"]);
        assert_eq!(check_axes(&html), 1);
        let doc = roxmltree::Document::parse(&html).unwrap();
        let header: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("th"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(header, ["1 shard", "8 shards", "ceiling"]);
    }
}
