//! End to end over HTTP against the local cloud: the three outcomes of an order.

use std::time::Duration;

use crate::support::{order_body, statuses, Cloud};

const WITHIN: Duration = Duration::from_secs(30);

#[tokio::test]
async fn an_approved_order_is_confirmed_charged_and_notified_once() {
    let cloud = Cloud::start().await;
    let before = cloud.stock("SKU-TSHIRT-M").await;
    let (status, accepted) = cloud
        .place(&order_body("SKU-TSHIRT-M", 2, "tok_visa"))
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["status"], "PENDING");
    assert_eq!(accepted["total"]["amount"], 3998);
    let id = accepted["orderId"].as_str().unwrap();

    let order = cloud.wait_for_status(id, "CONFIRMED", WITHIN).await;
    assert_eq!(statuses(&order), ["PENDING", "RESERVED", "CONFIRMED"]);
    assert_eq!(cloud.stock("SKU-TSHIRT-M").await, before - 2);

    let told = cloud.notifications_for(id, 1, WITHIN).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["kind"], "OrderConfirmed");
    assert_eq!(told[0]["email"], "e2e@example.com");
}

#[tokio::test]
async fn an_order_for_more_than_the_stock_is_rejected_notified_and_takes_nothing() {
    let cloud = Cloud::start().await;
    let before = cloud.stock("SKU-FLASH-SNEAKER").await;
    let (status, accepted) = cloud
        .place(&order_body(
            "SKU-FLASH-SNEAKER",
            (before + 1) as u32,
            "tok_visa",
        ))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["orderId"].as_str().unwrap();

    cloud.wait_for_status(id, "REJECTED", WITHIN).await;
    assert_eq!(cloud.stock("SKU-FLASH-SNEAKER").await, before);
    let told = cloud.notifications_for(id, 1, WITHIN).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["kind"], "OrderRejected");
}

#[tokio::test]
async fn a_declined_card_cancels_the_order_restores_the_stock_and_notifies_once() {
    let cloud = Cloud::start().await;
    let before = cloud.stock("SKU-HOODIE-M").await;
    let (status, accepted) = cloud
        .place(&order_body("SKU-HOODIE-M", 3, "tok_declined"))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["orderId"].as_str().unwrap();

    let order = cloud.wait_for_status(id, "CANCELLED", WITHIN).await;
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAYMENT_FAILED", "CANCELLED"]
    );
    assert_eq!(cloud.stock("SKU-HOODIE-M").await, before);
    let told = cloud.notifications_for(id, 1, WITHIN).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["kind"], "OrderCancelled");
}

#[tokio::test]
async fn bad_requests_get_problem_json_through_the_local_api() {
    let cloud = Cloud::start().await;
    let cases: [(&str, &str, u16); 4] = [
        ("application/json", "{\"customerId\":", 400),
        ("text/plain", "hello", 415),
        (
            "application/json",
            r#"{"customerId":"cust-e2e","email":"a@b.co","items":[{"sku":"SKU-NOPE","quantity":1}],"paymentToken":"tok_visa"}"#,
            422,
        ),
        ("application/json", &"x".repeat(70 * 1024), 413),
    ];
    for (content_type, body, want) in cases {
        let response = cloud
            .authorized(cloud.http.post(format!("{}/orders", cloud.api)))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            want,
            "{content_type} {}",
            &body[..body.len().min(40)]
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let missing = cloud
        .authorized(cloud.http.get(format!(
            "{}/orders/00000000-0000-4000-8000-000000000000",
            cloud.api
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_only_the_owner_reads_an_order_and_no_token_is_a_401() {
    let cloud = Cloud::start().await;
    let (status, accepted) = cloud.place(&order_body("SKU-MUG-350", 1, "tok_visa")).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["orderId"].as_str().unwrap();
    let url = format!("{}/orders/{id}", cloud.api);

    let anonymous = cloud.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let no_token_post = cloud
        .http
        .post(format!("{}/orders", cloud.api))
        .header("content-type", "application/json")
        .body(order_body("SKU-MUG-350", 1, "tok_visa").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(no_token_post.status().as_u16(), 401);

    let someone_else = cloud.token_for("cust-intruder");
    let theirs = cloud
        .http
        .get(&url)
        .bearer_auth(&someone_else)
        .send()
        .await
        .unwrap();
    assert_eq!(
        theirs.status().as_u16(),
        404,
        "another customer's order does not exist for them"
    );
    // Nor can they place an order in the owner's name.
    let impersonation = cloud
        .http
        .post(format!("{}/orders", cloud.api))
        .bearer_auth(&someone_else)
        .header("content-type", "application/json")
        .body(order_body("SKU-MUG-350", 1, "tok_visa").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(impersonation.status().as_u16(), 403);

    let owner = cloud.order(id).await;
    assert_eq!(owner["orderId"], id);
    assert_eq!(owner["customerId"], "cust-e2e");
    // The catalog stays public.
    let products = cloud
        .http
        .get(format!("{}/products", cloud.api))
        .send()
        .await
        .unwrap();
    assert_eq!(products.status().as_u16(), 200);
}
