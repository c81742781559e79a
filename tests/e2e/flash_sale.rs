//! End to end: a flash sale. Many concurrent buyers, little stock: exactly the stock is sold.

use std::time::{Duration, Instant};

use crate::support::{Cloud, CloudOptions};
use serde_json::json;

const BUYERS: usize = 200;
const STOCK: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_buyers_of_twenty_units_get_exactly_twenty_confirmed() {
    let seed = std::env::temp_dir().join(format!("orderflow-flash-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(
        &seed,
        json!([{"sku": "SKU-FLASH-SNEAKER", "name": "Flash sneaker", "price": {"amount": 12900, "currency": "EUR"}, "stock": STOCK}]).to_string(),
    )
    .unwrap();
    let cloud = Cloud::start_with(CloudOptions {
        seed: Some(seed.clone()),
        ..CloudOptions::default()
    })
    .await;

    let mut posts = tokio::task::JoinSet::new();
    for i in 0..BUYERS {
        let http = cloud.http.clone();
        let url = format!("{}/orders", cloud.api);
        let token = cloud.token_for(&format!("buyer-{i}"));
        posts.spawn(async move {
            let body = json!({"customerId": format!("buyer-{i}"), "email": format!("buyer{i}@example.com"),
                              "items": [{"sku": "SKU-FLASH-SNEAKER", "quantity": 1}], "paymentToken": "tok_visa"});
            let r = http.post(url).bearer_auth(&token).header("content-type", "application/json").body(body.to_string()).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 202);
            let v: serde_json::Value = r.json().await.unwrap();
            (v["orderId"].as_str().unwrap().to_owned(), token)
        });
    }
    let ids = posts.join_all().await;
    assert_eq!(ids.len(), BUYERS);

    let deadline = Instant::now() + Duration::from_secs(180);
    let (mut confirmed, mut rejected);
    loop {
        (confirmed, rejected) = (0, 0);
        let mut pending = 0;
        for (id, token) in &ids {
            let order = cloud.order_as(id, token).await;
            match order["status"]
                .as_str()
                .unwrap_or_else(|| panic!("GET /orders/{id}: {order}"))
            {
                "CONFIRMED" => confirmed += 1,
                "REJECTED" => rejected += 1,
                other => {
                    assert!(
                        other != "CANCELLED" && other != "PAYMENT_FAILED",
                        "{id} is {other}"
                    );
                    pending += 1;
                }
            }
        }
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} orders still in flight after 180 s"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(confirmed, STOCK as usize, "exactly the stock is sold");
    assert_eq!(rejected, BUYERS - STOCK as usize);
    assert_eq!(
        cloud.stock("SKU-FLASH-SNEAKER").await,
        0,
        "never negative, nothing left over"
    );
    let _ = std::fs::remove_file(seed);
}
