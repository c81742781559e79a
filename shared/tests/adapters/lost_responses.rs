//! Lost responses of our own writes: the write took effect, its answer was lost, the SDK sent it
//! again and met what the first one wrote. Each store reads that as its own write, never as
//! someone else's. Against moto through a client that throws answers away
//! (`support::lossy`), and with replayed HTTP (a 500, then what DynamoDB answers the retry).

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, Duration, Utc};
use orderflow_shared::adapters::dynamodb::{
    DynamoIdempotency, DynamoStock, DynamoStore, StockTables,
};
use orderflow_shared::domain::{OrderId, OrderStatus};
use orderflow_shared::idempotency::{Claim, ClaimTimes, IdempotencyStore};
use orderflow_shared::ports::{
    Catalog, Inventory, OrderRepository, OrderWriteError, ReserveError, StoreError,
};
use serde_json::Value;

use crate::dynamodb::{line, new_order, product, sku};
use crate::support::lossy::LosingResponses;
use crate::support::{self, Moto};

fn times(now: DateTime<Utc>) -> ClaimTimes {
    ClaimTimes {
        now,
        lock_until: now + Duration::seconds(30),
        expires_at: now + Duration::hours(24),
    }
}

/// A store on fresh tables of `moto` whose first `n` answers to `operation` are lost.
async fn losing(moto: &Moto, operation: &str, n: usize) -> (DynamoStore, LosingResponses) {
    let lossy = LosingResponses::new(operation, n);
    let client = Client::new(&moto.sdk_config_with(lossy.shared()).await);
    let tables = support::dynamodb::create_tables(&client).await;
    (DynamoStore::new(client, tables), lossy)
}

#[tokio::test]
async fn a_claim_whose_answer_was_lost_is_acquired_and_still_held_against_others() {
    let moto = support::moto();
    let (store, lossy) = losing(&moto, "PutItem", 1).await;
    let now = Utc::now();
    assert_eq!(store.claim("k", "h", times(now)).await, Ok(Claim::Acquired));
    assert_eq!(
        (lossy.lost(), lossy.sent()),
        (1, 2),
        "the SDK sent the claim again"
    );
    // Another claimant of the same payload finds it held: the owner, not the payload, decided.
    assert_eq!(
        store.claim("k", "h", times(now)).await,
        Ok(Claim::InProgress)
    );
}

#[tokio::test]
async fn claims_of_a_batch_one_of_whose_answers_was_lost_are_all_acquired() {
    let moto = support::moto();
    let (store, lossy) = losing(&moto, "PutItem", 1).await;
    let now = Utc::now();
    let claims = [
        ("a".to_owned(), "h".to_owned()),
        ("b".to_owned(), "h".to_owned()),
    ];
    assert_eq!(
        store.claim_many(&claims, times(now)).await,
        vec![Ok(Claim::Acquired), Ok(Claim::Acquired)]
    );
    assert_eq!(lossy.lost(), 1);
    assert_eq!(
        store.claim("a", "h", times(now)).await,
        Ok(Claim::InProgress)
    );
}

#[tokio::test]
async fn a_completion_whose_answer_was_lost_is_done() {
    let moto = support::moto();
    let (store, lossy) = losing(&moto, "UpdateItem", 1).await;
    let now = Utc::now();
    store.claim("k", "h", times(now)).await.unwrap();
    assert_eq!(store.complete("k", "charged").await, Ok(()));
    assert_eq!(lossy.lost(), 1);
    assert_eq!(
        store.claim("k", "h", times(now)).await,
        Ok(Claim::Completed("charged".into()))
    );
}

#[tokio::test]
async fn an_order_move_whose_answer_was_lost_is_done_and_another_move_still_conflicts() {
    let moto = support::moto();
    let (store, lossy) = losing(&moto, "UpdateItem", 1).await;
    let order = new_order(vec![line("SKU-A", 1)]);
    store.create(&order).await.unwrap();
    let id = &order.order_id;
    let at = Utc::now();
    assert_eq!(
        store
            .transition(id, OrderStatus::Pending, OrderStatus::Rejected, at)
            .await,
        Ok(())
    );
    assert_eq!(lossy.lost(), 1);
    let history = store.get(id).await.unwrap().unwrap().history;
    assert_eq!(history.len(), 2, "moved once: {history:?}");
    // The same move by another delivery (another instant) is still told it came too late.
    assert_eq!(
        store
            .transition(id, OrderStatus::Pending, OrderStatus::Rejected, Utc::now())
            .await,
        Err(OrderWriteError::Conflict {
            expected: OrderStatus::Pending,
            actual: OrderStatus::Rejected
        })
    );
}

#[tokio::test]
async fn an_order_whose_answer_was_lost_is_found_stored_exactly_as_written() {
    let moto = support::moto();
    let (store, lossy) = losing(&moto, "PutItem", 1).await;
    let order = new_order(vec![line("SKU-A", 2)]);
    // What validate-order meets: the id is taken by an order equal to ours, creation time and
    // all, which is how it knows the write was its own (functions/validate-order).
    assert_eq!(
        store.create(&order).await,
        Err(OrderWriteError::AlreadyExists(Box::new(order.clone())))
    );
    assert_eq!(lossy.lost(), 1);
}

#[tokio::test]
async fn a_reservation_sent_again_after_every_answer_was_lost_succeeds_under_its_request_token() {
    // DynamoDB honours `ClientRequestToken`; plain moto does not, the harsh cloud's model does.
    // The SDK gives a call without a token a random one, kept across its own retries; ours is
    // the same for every send of the same transaction, so a new call after the SDK gave up
    // (all its attempts' answers lost) is answered success, not "already reserved".
    let moto = support::harsh_moto("conflict_ms=0,item_wcu=0");
    let (store, lossy) = losing(&moto, "TransactWriteItems", 3).await;
    store.put_product(&product("SKU-A", 5)).await.unwrap();
    let order = new_order(vec![line("SKU-A", 2)]);
    store.create(&order).await.unwrap();
    let at = Utc::now();
    let first = store.reserve_stock(&order.order_id, &order.lines, at).await;
    assert!(
        matches!(first, Err(ReserveError::Store(StoreError::Unavailable(_)))),
        "{first:?}"
    );
    assert_eq!(lossy.lost(), 3, "every attempt of the SDK lost its answer");
    assert_eq!(
        store.reserve_stock(&order.order_id, &order.lines, at).await,
        Ok(())
    );
    let left = store.products(&[sku("SKU-A")]).await.unwrap();
    assert_eq!(left[0].stock, 3, "taken once");
}

// ----- replayed HTTP ------------------------------------------------------------------------

fn answer(status: u16, body: &str) -> ReplayEvent {
    let request = http::Request::builder()
        .uri("https://dynamodb.us-east-1.amazonaws.com/")
        .body(SdkBody::empty())
        .unwrap();
    let response = http::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .body(SdkBody::from(body.to_owned()))
        .unwrap();
    ReplayEvent::new(request, response)
}

const LOST: &str = r#"{"__type":"com.amazon.coral.service#InternalFailure","message":"lost"}"#;

fn replayed(answers: Vec<ReplayEvent>) -> (Client, StaticReplayClient) {
    let http = StaticReplayClient::new(answers);
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("akid", "secret", None, None, "test"))
        .http_client(http.clone())
        .build();
    (Client::from_conf(config), http)
}

fn bodies(http: &StaticReplayClient) -> Vec<Value> {
    http.actual_requests()
        .map(|r| serde_json::from_slice(r.body().bytes().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_resent_transaction_carries_the_same_request_token_and_its_success_is_taken() {
    let (client, http) = replayed(vec![answer(500, LOST), answer(200, "{}")]);
    let stock = DynamoStock::new(
        client,
        StockTables {
            inventory: "Inventory".into(),
            orders: "Orders".into(),
        },
    );
    let order = new_order(vec![line("SKU-A", 1)]);
    let reserved = stock
        .reserve_stock(&order.order_id, &order.lines, Utc::now())
        .await;
    assert_eq!(reserved, Ok(()));
    let sent = bodies(&http);
    assert_eq!(sent.len(), 2);
    let token = sent[0]["ClientRequestToken"].as_str().unwrap();
    assert_eq!(sent[1]["ClientRequestToken"].as_str(), Some(token));
    assert!(token.len() <= 36 && token.bytes().all(|b| b.is_ascii_hexdigit()));
    // Another order's reservation is another transaction, with another token.
    let (client, http) = replayed(vec![answer(200, "{}")]);
    let stock = DynamoStock::new(
        client,
        StockTables {
            inventory: "Inventory".into(),
            orders: "Orders".into(),
        },
    );
    stock
        .reserve_stock(&OrderId::new(), &order.lines, Utc::now())
        .await
        .unwrap();
    assert_ne!(bodies(&http)[0]["ClientRequestToken"].as_str(), Some(token));
}

#[tokio::test]
async fn a_completion_retried_into_its_own_result_is_done_and_into_another_is_not_held() {
    let completed = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        "message":"The conditional request failed",
        "Item":{"id":{"S":"k"},"payloadHash":{"S":"h"},"status":{"S":"COMPLETED"},
                "result":{"S":"charged"},"lockUntil":{"N":"1"},"expiresAt":{"N":"2"},
                "owner":{"S":"o"}}}"#;
    let (client, http) = replayed(vec![answer(500, LOST), answer(400, completed)]);
    let keys = DynamoIdempotency::new(client, "Idempotency");
    assert_eq!(keys.complete("k", "charged").await, Ok(()));
    assert_eq!(http.actual_requests().count(), 2);

    let (client, _) = replayed(vec![answer(400, completed)]);
    let keys = DynamoIdempotency::new(client, "Idempotency");
    assert_eq!(
        keys.complete("k", "declined").await,
        Err(orderflow_shared::idempotency::IdempotencyError::NotHeld)
    );
}

#[tokio::test]
async fn a_conflict_is_retried_inside_the_call_until_the_transaction_goes_through() {
    let conflict = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]",
        "CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item."}]}"#;
    let throttled = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message":"Transaction cancelled",
        "CancellationReasons":[{"Code":"None"},{"Code":"None"},{"Code":"ThrottlingError"}]}"#;
    let (client, http) = replayed(vec![
        answer(400, conflict),
        answer(400, throttled),
        answer(200, "{}"),
    ]);
    let stock = DynamoStock::new(
        client,
        StockTables {
            inventory: "Inventory".into(),
            orders: "Orders".into(),
        },
    );
    let order = new_order(vec![line("SKU-A", 1)]);
    assert_eq!(
        stock
            .reserve_stock(&order.order_id, &order.lines, Utc::now())
            .await,
        Ok(())
    );
    let sent = bodies(&http);
    assert_eq!(sent.len(), 3, "two contended answers retried, then done");
    assert!(
        sent.iter().all(|b| b == &sent[0]),
        "the same transaction each time"
    );
}
