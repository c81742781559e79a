//! The console in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, which `make test` installs) driven through WebDriver. It places an order
//! with the form and sees it reach CONFIRMED in the live list and in the order's view, places
//! one whose payment always fails and sees it in its dead-letter queue with its reason, redrives
//! it with the button, starts a small flash sale, and keeps a screenshot of each view under
//! `target/console-screenshots/`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::support::{repo_root, Cloud, CloudOptions};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Generous: the machine may be loaded; every wait polls for its condition.
const WITHIN: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_shows_an_order_confirmed_and_redrives_a_dead_letter_in_a_real_browser() {
    let console_port = orderflow::local::free_port().unwrap();
    let cloud = Cloud::start_with(CloudOptions {
        visibility_timeout: 1,
        console_port: Some(console_port),
        ..CloudOptions::default()
    })
    .await;
    let url = format!("http://127.0.0.1:{console_port}/");
    cross_site_requests_are_refused(&url).await;
    let driver = Driver::start();
    let browser = driver.connect().await;
    let shots = Shots::new();
    browser.set_window_size(1280, 900).await.unwrap();
    browser.goto(&url).await.unwrap();
    wait_text(&browser, "#live-status", |t| t.starts_with("live")).await;

    let confirmed = place_and_confirm(&browser, &shots).await;
    open_order(&browser, &shots, &confirmed).await;
    redrive_a_dead_letter(&browser, &shots).await;
    flash_sale(&browser).await;
    the_pipeline_and_the_charts(&browser, &shots, &cloud).await;

    browser.set_window_size(390, 844).await.unwrap();
    browser.goto(&format!("{url}#orders")).await.unwrap();
    wait_present(&browser, &format!("tr[data-order-id='{confirmed}']")).await;
    shots.take(&browser, "orders-phone").await;
    browser.close().await.unwrap();
    drop(cloud);
}

/// An action without the page's token, or from another origin, or a page asked for under
/// another host name (DNS rebinding), is refused; nothing is placed.
async fn cross_site_requests_are_refused(url: &str) {
    let http = reqwest::Client::new();
    let page = http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    let token = html
        .split(r#"name="console-token" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let own = url.trim_end_matches('/');
    assert_eq!(
        post(&http, url, "http://evil.example", Some(&token)).await,
        403
    );
    assert_eq!(post(&http, url, own, None).await, 403);
    let rebound = http
        .get(url)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 421);
}

/// `POST /api/orders` from `origin` with `token`; the status.
async fn post(http: &reqwest::Client, url: &str, origin: &str, token: Option<&str>) -> u16 {
    let order = json!({"sku": "SKU-MUG-350", "quantity": 1, "email": "x@example.com", "paymentToken": "tok_visa"});
    let mut request = http
        .post(format!("{url}api/orders"))
        .json(&order)
        .header("origin", origin);
    if let Some(token) = token {
        request = request.header("x-console-token", token);
    }
    request.send().await.unwrap().status().as_u16()
}

/// The form's order, placed with the keyboard-reachable button, seen CONFIRMED in the list.
async fn place_and_confirm(browser: &Client, shots: &Shots) -> String {
    wait_present(browser, "#sku option[value='SKU-MUG-350']").await;
    let id = place(browser, "tok_visa").await;
    let status = format!("tr[data-order-id='{id}'] .status-cell");
    wait_text(browser, &status, |t| t == "CONFIRMED").await;
    shots.take(browser, "orders").await;
    id
}

/// Fills the form with SKU-MUG-350 and `token` and submits it; the id the API answered.
async fn place(browser: &Client, token: &str) -> String {
    let form = |css: &'static str| browser.find(Locator::Css(css));
    form("#sku")
        .await
        .unwrap()
        .select_by_value("SKU-MUG-350")
        .await
        .unwrap();
    form("#token")
        .await
        .unwrap()
        .select_by_value(token)
        .await
        .unwrap();
    let email = form("#email").await.unwrap();
    email.clear().await.unwrap();
    email.send_keys("ana@example.com").await.unwrap();
    let before = text_of(browser, "#action-result").await.unwrap_or_default();
    form("#place-order").await.unwrap().click().await.unwrap();
    let said = wait_text(browser, "#action-result", |t| {
        t != before && t.contains("accepted (202)")
    })
    .await;
    let id = form("#action-result")
        .await
        .unwrap()
        .attr("data-order-id")
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no order id with {said:?}"));
    assert!(said.contains(&id), "{said}");
    id
}

/// The order's own view: its status, its history, its timeline, and no e-mail address or
/// payment token in full (the server masks them: `console::mask`).
async fn open_order(browser: &Client, shots: &Shots, id: &str) {
    click(browser, &format!("tr[data-order-id='{id}'] a")).await;
    wait_text(browser, "#order-status", |t| t == "CONFIRMED").await;
    wait_present(browser, "#order-detail tr[data-kind='invocation']").await;
    let history = text_of(browser, ".history").await.unwrap();
    for status in ["PENDING", "RESERVED", "CONFIRMED"] {
        assert!(history.contains(status), "history {history:?}");
    }
    let detail = text_of(browser, "#order-detail").await.unwrap();
    assert!(detail.contains("a•••@example.com"), "{detail}");
    for secret in ["ana@example.com", "tok_visa"] {
        assert!(!detail.contains(secret), "{secret} shown in full: {detail}");
    }
    let list = text_of(browser, "#orders-table").await.unwrap_or_default();
    assert!(!list.contains("ana@example.com"), "{list}");
    shots.take(browser, "order").await;
}

/// An order whose payment always fails: its message lands in the payment DLQ with its
/// reason; the button sends it back.
async fn redrive_a_dead_letter(browser: &Client, shots: &Shots) {
    click(browser, "nav a[href='#orders']").await;
    let poisoned = place(browser, "tok_gateway_error").await;
    click(browser, "nav a[href='#dlq']").await;
    let dlq = "section.dlq[data-queue$='PaymentDLQ']";
    let row = format!("{dlq} tr[data-order-id='{poisoned}']");
    let reason = wait_text(browser, &format!("{row} .reason"), |t| {
        t.contains("payment provider unavailable")
    })
    .await;
    click(browser, &format!("{row} details.body summary")).await;
    let body = wait_text(browser, &format!("{row} details.body pre"), |t| {
        t.contains("paymentToken")
    })
    .await;
    assert!(!body.contains("tok_gateway_error"), "token in full: {body}");
    assert!(reason.starts_with("process-payment"), "{reason}");
    shots.take(browser, "dlq").await;
    click(browser, &format!("{dlq} button.redrive")).await;
    let said = wait_text(browser, "#action-result", |t| t.starts_with("redrove ")).await;
    assert!(
        said.contains("PaymentDLQ to orderflow-local-PaymentQueue")
            && !said.starts_with("redrove 0 "),
        "{said}"
    );
    shots.take(browser, "dlq-redriven").await;
}

/// A small flash sale from its form: every buyer answered.
async fn flash_sale(browser: &Client) {
    click(browser, "nav a[href='#orders']").await;
    let buyers = browser.find(Locator::Css("#buyers")).await.unwrap();
    buyers.clear().await.unwrap();
    buyers.send_keys("24").await.unwrap();
    browser
        .find(Locator::Css("#flash-sku"))
        .await
        .unwrap()
        .select_by_value("SKU-MUG-350")
        .await
        .unwrap();
    click(browser, "#start-flash-sale").await;
    let said = wait_text(browser, "#action-result", |t| t.contains("orders accepted")).await;
    assert!(
        said.starts_with("Flash sale: 24 of 24 orders accepted"),
        "{said}"
    );
}

/// The pipeline (every function and queue) and the charts drawn from the metrics.
async fn the_pipeline_and_the_charts(browser: &Client, shots: &Shots, cloud: &Cloud) {
    let nav = |view: &'static str| async move {
        click(browser, &format!("nav a[href='#{view}']")).await;
    };
    nav("pipeline").await;
    wait_present(browser, "[data-function='process-payment']").await;
    wait_text(
        browser,
        "#pipeline-queues tr[data-queue$='PaymentQueue']",
        |t| t.contains("PaymentDLQ"),
    )
    .await;
    // A message waits in the ops inbox (nobody reads it): its age comes from SQS's CloudWatch
    // metric, which the local cloud's moto publishes as AWS does.
    let sqs = cloud.sqs().await;
    let ops_inbox = sqs
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls()
        .iter()
        .find(|u| u.ends_with("OpsTopic-inbox"))
        .cloned()
        .expect("the ops topic's inbox queue");
    sqs.send_message()
        .queue_url(ops_inbox)
        .message_body("waiting to be read")
        .send()
        .await
        .unwrap();
    let oldest = wait_text(
        browser,
        "#pipeline-queues tr[data-queue$='OpsTopic-inbox'] td:nth-child(6)",
        |t| t != "—" && t != "0 s",
    )
    .await;
    assert!(
        oldest.ends_with(" s") || oldest.ends_with(" min"),
        "{oldest}"
    );
    shots.take(browser, "pipeline").await;
    nav("charts").await;
    wait_present(browser, "#chart-rates svg polyline").await;
    wait_present(browser, "#chart-latency svg polyline").await;
    shots.take(browser, "charts").await;
    assert!(
        cloud
            .output()
            .iter()
            .any(|l| l.contains("console http://127.0.0.1:")),
        "`ready` does not print the console's URL"
    );
}

/// The text of the first element `css` finds, if any.
/// Clicks the first element `css` finds (it must be there).
async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

async fn text_of(browser: &Client, css: &str) -> Option<String> {
    let element = browser.find(Locator::Css(css)).await.ok()?;
    element.text().await.ok()
}

/// Polls until an element `css` finds has a text `ok` accepts; that text.
async fn wait_text(browser: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WITHIN;
    let mut last = None;
    loop {
        for element in browser
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
        {
            if let Ok(text) = element.text().await {
                if ok(text.trim()) {
                    return text.trim().to_owned();
                }
                last = Some(text);
            }
        }
        assert!(
            Instant::now() < deadline,
            "{css} never showed what was waited for in {} s; last seen: {last:?}",
            WITHIN.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn wait_present(browser: &Client, css: &str) {
    wait_text(browser, css, |_| true).await;
}

/// `target/console-screenshots/`, each view's PNG.
struct Shots {
    dir: PathBuf,
}

impl Shots {
    fn new() -> Shots {
        let dir = repo_root().join("target/console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        Shots { dir }
    }

    async fn take(&self, browser: &Client, name: &str) {
        let png = browser.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        std::fs::write(self.dir.join(format!("{name}.png")), png).unwrap();
    }
}

/// chromedriver on a free port of 127.0.0.1, in a process group of its own: dropping it ends
/// the group, so the browsers it started go with it even when the test fails midway.
struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Driver {
    fn start() -> Driver {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).is_file(),
                "{tool} is missing: `make browser` installs Debian's chromium and chromium-driver"
            );
        }
        let port = orderflow::local::free_port().unwrap();
        let profile =
            std::env::temp_dir().join(format!("orderflow-chromium-{}", uuid::Uuid::new_v4()));
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        Driver {
            child,
            port,
            profile,
        }
    }

    /// A session in a fresh headless Chromium, once chromedriver answers.
    async fn connect(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--hide-scrollbars",
                    format!("--user-data-dir={}", self.profile.display()),
                ],
            }),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let connected = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await;
            match connected {
                Ok(client) => return client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!("no WebDriver session from chromedriver: {e}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group this test started: chromedriver and the Chromium it ran.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
