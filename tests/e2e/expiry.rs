//! End to end: a reservation that expires unpaid (`ReservationExpired` on the payment queue,
//! as the reconciler sends it) is declined by the real process-payment over the real
//! provider's table, so the chain releases the stock, cancels the order and tells the
//! customer; nothing is ever charged for it, and a paid order is left as it is.

use std::time::{Duration, Instant};

use chrono::Utc;
use orderflow_shared::domain::{CustomerId, Email, Money, OrderId};
use orderflow_shared::events::{DomainEvent, Envelope, ReservationExpired};
use orderflow_shared::ports::{ChargeOutcome, PaymentLedger};
use orderflow_shared::telemetry::messages::{ORDER_ID, PROVIDER_CHARGE_APPROVED};
use serde_json::Value;

use crate::support::events::eventbridge_body;
use crate::support::{order_body, statuses, Cloud, E2E_CUSTOMER};

const WITHIN: Duration = Duration::from_secs(60);

/// Sends the order's `ReservationExpired` to the payment queue, as EventBridge delivers it.
async fn expire(cloud: &Cloud, order: &Value) {
    let order_id = OrderId::parse(order["orderId"].as_str().unwrap()).unwrap();
    let total: Money = serde_json::from_value(order["total"].clone()).unwrap();
    let envelope = Envelope::new(
        DomainEvent::ReservationExpired(ReservationExpired {
            order_id,
            customer_id: CustomerId::parse(E2E_CUSTOMER).unwrap(),
            email: Email::parse("e2e@example.com").unwrap(),
            total,
            reserved_at: Utc::now(),
        }),
        None,
    );
    cloud
        .send("PaymentQueue", &[&eventbridge_body(&envelope)])
        .await;
}

/// process-payment's lines that mention `order_id` and contain `text`.
fn payment_lines(cloud: &Cloud, order_id: &str, text: &str) -> usize {
    cloud
        .function_logs("process-payment")
        .iter()
        .map(Value::to_string)
        .filter(|l| l.contains(order_id) && l.contains(text))
        .count()
}

/// The provider's approval lines for the order.
fn approvals(cloud: &Cloud, order_id: &str) -> usize {
    cloud
        .function_logs("process-payment")
        .iter()
        .filter(|l| l["message"] == PROVIDER_CHARGE_APPROVED && l[ORDER_ID] == order_id)
        .count()
}

#[tokio::test]
async fn an_order_whose_payment_never_succeeds_is_released_cancelled_and_told_when_it_expires() {
    let cloud = Cloud::start().await;
    let before = cloud.stock("SKU-TSHIRT-M").await;
    let (status, accepted) = cloud
        .place(&order_body("SKU-TSHIRT-M", 2, "tok_gateway_error"))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["orderId"].as_str().unwrap();
    cloud.wait_for_status(id, "RESERVED", WITHIN).await;
    // The charge was attempted (the provider was down): the expiry must ask before declining.
    let deadline = Instant::now() + WITHIN;
    while payment_lines(&cloud, id, "provider outage") == 0 {
        assert!(Instant::now() < deadline, "no charge was attempted");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    expire(&cloud, &accepted).await;

    let order = cloud.wait_for_status(id, "CANCELLED", WITHIN).await;
    assert_eq!(
        statuses(&order),
        ["PENDING", "RESERVED", "PAYMENT_FAILED", "CANCELLED"]
    );
    assert_eq!(cloud.stock("SKU-TSHIRT-M").await, before);
    let told = cloud.notifications_for(id, 1, WITHIN).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["kind"], "OrderCancelled");
    let ledger = cloud
        .store()
        .await
        .charge_for(&OrderId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ledger.outcome,
        ChargeOutcome::Declined {
            reason: "reservation expired".into()
        }
    );
    assert_eq!(approvals(&cloud, id), 0);
}

#[tokio::test]
async fn an_expired_reservation_of_a_paid_order_leaves_it_confirmed_and_charged_once() {
    let cloud = Cloud::start().await;
    let (status, accepted) = cloud.place(&order_body("SKU-MUG-350", 1, "tok_visa")).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["orderId"].as_str().unwrap();
    cloud.wait_for_status(id, "CONFIRMED", WITHIN).await;

    expire(&cloud, &accepted).await;

    // The expiry is handled once it finds the key completed: it re-publishes the success.
    let deadline = Instant::now() + WITHIN;
    while payment_lines(&cloud, id, "order was charged before") == 0 {
        assert!(Instant::now() < deadline, "the expiry was not handled");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(cloud.order(id).await["status"], "CONFIRMED");
    assert_eq!(approvals(&cloud, id), 1);
    let told = cloud.notifications_for(id, 1, WITHIN).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["kind"], "OrderConfirmed");
}
