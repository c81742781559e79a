//! Test support for every package (the `testing` feature, never in a function's build): the
//! event fixtures in `events/`, stores holding the fixtures' orders, captured log lines, and the
//! API contract.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aws_lambda_events::sqs::SqsEvent;

/// The API contract (`infra/openapi.yaml`) as a test oracle for HTTP handlers.
#[cfg(feature = "testing")]
pub mod openapi;

/// `events/<name>` in this workspace.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name)
}

pub fn fixture_text(name: &str) -> Result<String, String> {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// An SQS batch fixture (`sqs-*.json`).
pub fn sqs_fixture(name: &str) -> Result<SqsEvent, String> {
    serde_json::from_str(&fixture_text(name)?).map_err(|e| format!("{name}: {e}"))
}

/// An API Gateway HTTP API request fixture (`apigw-*.json`).
#[cfg(feature = "http")]
pub fn http_fixture(name: &str) -> Result<lambda_http::Request, String> {
    lambda_http::request::from_str(&fixture_text(name)?).map_err(|e| format!("{name}: {e}"))
}

/// An HTTP fixture whose event `edit` changes first (another stage, path or route key), read
/// the way lambda_http reads every event.
#[cfg(feature = "http")]
pub fn http_fixture_with(
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Result<lambda_http::Request, String> {
    let mut event: serde_json::Value =
        serde_json::from_str(&fixture_text(name)?).map_err(|e| format!("{name}: {e}"))?;
    edit(&mut event);
    lambda_http::request::from_str(&event.to_string()).map_err(|e| format!("{name}: {e}"))
}

/// The order every single-order SQS fixture (`sqs-order-placed.json`,
/// `sqs-inventory-reserved.json`, `sqs-payment-succeeded.json`, ...) is about.
pub const FIXTURE_ORDER_ID: &str = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";

/// A batch of `name`'s first record, once per id, each about its own order and with its own
/// message id: the consumers' benches use it to handle a full batch of different orders.
pub fn sqs_batch_for(name: &str, ids: &[crate::domain::OrderId]) -> Result<SqsEvent, String> {
    let mut event = sqs_fixture(name)?;
    let record = event
        .records
        .first()
        .cloned()
        .ok_or(format!("{name}: no record"))?;
    let body = record
        .body
        .clone()
        .ok_or(format!("{name}: a record without body"))?;
    event.records = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut r = record.clone();
            r.message_id = Some(format!("msg-bench-{i}"));
            r.body = Some(body.replace(FIXTURE_ORDER_ID, id.as_str()));
            r
        })
        .collect();
    Ok(event)
}

/// A store holding the fixtures' catalog (T-shirt M and mug, ample stock) and, for each id, the
/// fixtures' order (two T-shirts and a mug for cust-42) `PENDING`.
pub async fn store_with_fixture_orders(
    ids: &[crate::domain::OrderId],
) -> Result<crate::adapters::memory::MemoryStore, String> {
    use crate::domain::{
        Currency, CustomerId, Email, Money, Order, OrderLine, PaymentToken, Quantity, Sku,
    };
    use crate::ports::{OrderRepository, Product};
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let sku = |s: &str| Sku::parse(s).map_err(|e| err(&e));
    let product = |s: &str, name: &str, cents: i64| -> Result<Product, String> {
        Ok(Product {
            sku: sku(s)?,
            name: name.into(),
            price: Money::new(cents, Currency::EUR),
            stock: 1_000_000,
        })
    };
    let line = |s: &str, qty: u32, cents: i64| -> Result<OrderLine, String> {
        Ok(OrderLine {
            sku: sku(s)?,
            quantity: Quantity::new(qty).map_err(|e| err(&e))?,
            unit_price: Money::new(cents, Currency::EUR),
        })
    };
    let store = crate::adapters::memory::MemoryStore::with_products([
        product("SKU-TSHIRT-M", "T-shirt M", 1999)?,
        product("SKU-MUG-350", "Mug", 1200)?,
    ]);
    let lines = vec![
        line("SKU-TSHIRT-M", 2, 1999)?,
        line("SKU-MUG-350", 1, 1200)?,
    ];
    for id in ids {
        let order = Order::place(
            id.clone(),
            CustomerId::parse("cust-42").map_err(|e| err(&e))?,
            Email::parse("ana@example.com").map_err(|e| err(&e))?,
            PaymentToken::parse("tok_visa").map_err(|e| err(&e))?,
            lines.clone(),
            chrono::Utc::now(),
        )
        .map_err(|e| err(&e))?;
        store.create(&order).await.map_err(|e| err(&e))?;
    }
    Ok(store)
}

/// The JSON log lines written on this thread while it lives, in the functions' format
/// (`telemetry`'s JSON lines): for tests that read a line back the way the tools do.
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Captures from now on, on this thread (use a current-thread runtime for async code).
    pub fn start() -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Buffer(buffer.clone());
        let subscriber = crate::telemetry::json_subscriber(
            tracing_subscriber::EnvFilter::new("info"),
            move || writer.clone(),
        );
        CapturedLogs {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Every line so far, parsed (a line that is not JSON is left out).
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self
            .buffer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// A function under test and the one in-memory store behind all its store ports (each port
/// field holds a clone of it): `f.store` is the store, anything else reaches the function.
pub struct WithStore<F> {
    pub store: crate::adapters::memory::MemoryStore,
    pub function: F,
}

impl<F> std::ops::Deref for WithStore<F> {
    type Target = F;

    fn deref(&self) -> &F {
        &self.function
    }
}

impl<F> std::ops::DerefMut for WithStore<F> {
    fn deref_mut(&mut self) -> &mut F {
        &mut self.function
    }
}
