//! The simulated provider over DynamoDB (`DynamoProvider`) against moto: the rules its
//! in-memory twin is tested for, and what only a real endpoint shows (a lost answer of the
//! charge transaction, with and without DynamoDB's `ClientRequestToken`, and concurrent
//! charges of one key).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use chrono::Duration;
use orderflow_shared::adapters::dynamodb::DynamoProvider;
use orderflow_shared::adapters::simulated_provider::{DECLINED_TOKEN, GATEWAY_ERROR_TOKEN};
use orderflow_shared::clock::{Clock, ManualClock};
use orderflow_shared::domain::{Currency, Money, OrderId, PaymentToken};
use orderflow_shared::ports::{ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway};

use crate::support::lossy::LosingResponses;
use crate::support::{self, Moto};

/// A provider table (hash key `pk`), named for one test.
pub async fn create_provider_table(client: &Client) -> String {
    let name = support::unique("Provider");
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    name
}

/// A provider on a fresh table of `moto` that remembers keys a day, by `clock`.
async fn provider(moto: &Moto, clock: Clock) -> DynamoProvider {
    let client = Client::new(&moto.sdk_config().await);
    let table = create_provider_table(&client).await;
    DynamoProvider::new(client, table, Duration::days(1), clock)
}

fn request(token: &str) -> ChargeRequest {
    let order_id = OrderId::new();
    ChargeRequest {
        idempotency_key: order_id.to_string(),
        order_id,
        amount: Money::new(5248, Currency::EUR),
        token: PaymentToken::parse(token).unwrap(),
    }
}

fn charge_id(outcome: &ChargeOutcome) -> String {
    match outcome {
        ChargeOutcome::Approved { charge_id } => charge_id.clone(),
        ChargeOutcome::Declined { .. } => panic!("declined: {outcome:?}"),
    }
}

#[tokio::test]
async fn the_same_key_gets_the_same_charge_and_one_permanent_record() {
    let moto = support::moto();
    let p = provider(&moto, Clock::system()).await;
    let req = request("tok_visa");
    let first = p.charge(&req).await.unwrap();
    assert_eq!(p.charge(&req).await.unwrap(), first);
    assert_eq!(p.find(&req.idempotency_key).await, Ok(Some(first.clone())));
    let charges = p.charges().await.unwrap();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].charge_id, charge_id(&first));
    assert_eq!(charges[0].record.order_id, req.order_id);
    assert_eq!(charges[0].record.amount, req.amount);
    assert_eq!(charges[0].idempotency_key, req.idempotency_key);
}

#[tokio::test]
async fn a_forgotten_key_is_not_found_and_charges_again_under_a_new_id() {
    let moto = support::moto();
    let clock = ManualClock::new();
    let p = provider(&moto, clock.clock()).await;
    let req = request("tok_visa");
    let first = p.charge(&req).await.unwrap();
    clock.advance(Duration::hours(23));
    assert_eq!(p.find(&req.idempotency_key).await, Ok(Some(first.clone())));
    clock.advance(Duration::hours(2));
    assert_eq!(p.find(&req.idempotency_key).await, Ok(None));
    let second = p.charge(&req).await.unwrap();
    assert_ne!(charge_id(&first), charge_id(&second));
    assert_eq!(
        p.charges().await.unwrap().len(),
        2,
        "both charges stay on record"
    );
}

#[tokio::test]
async fn a_decline_is_recorded_and_an_outage_records_nothing() {
    let moto = support::moto();
    let p = provider(&moto, Clock::system()).await;
    let declined = request(DECLINED_TOKEN);
    let outcome = p.charge(&declined).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Declined { .. }));
    assert_eq!(p.find(&declined.idempotency_key).await, Ok(Some(outcome)));
    let down = request(GATEWAY_ERROR_TOKEN);
    assert!(matches!(
        p.charge(&down).await,
        Err(GatewayError::Transient(_))
    ));
    assert_eq!(p.find(&down.idempotency_key).await, Ok(None));
    assert_eq!(p.charges().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_reused_for_another_amount_is_refused() {
    let moto = support::moto();
    let p = provider(&moto, Clock::system()).await;
    let req = request("tok_visa");
    p.charge(&req).await.unwrap();
    let other = ChargeRequest {
        amount: Money::new(1, Currency::EUR),
        ..req
    };
    assert!(matches!(
        p.charge(&other).await,
        Err(GatewayError::Refused(_))
    ));
    assert_eq!(p.charges().await.unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_charges_of_one_key_make_one_charge() {
    let moto = support::moto();
    let p = provider(&moto, Clock::system()).await;
    let req = request("tok_visa");
    let answers = four_at_once(&p, &req).await;
    let ids: Vec<String> = answers
        .iter()
        .map(|a| charge_id(a.as_ref().unwrap()))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!(p.charges().await.unwrap().len(), 1);
}

async fn four_at_once(
    p: &DynamoProvider,
    req: &ChargeRequest,
) -> Vec<Result<ChargeOutcome, GatewayError>> {
    let (a, b, c, d) = tokio::join!(p.charge(req), p.charge(req), p.charge(req), p.charge(req));
    vec![a, b, c, d]
}

/// The charge transaction applies, its answer is lost, the SDK sends it again: the provider
/// answers the same charge and logs it once, as a new charge.
async fn lost_answer_is_the_same_charge(moto: &Moto) {
    let logs = orderflow_shared::testing::CapturedLogs::start();
    let lossy = LosingResponses::new("TransactWriteItems", 1);
    let client = Client::new(&moto.sdk_config_with(lossy.shared()).await);
    let table = create_provider_table(&client).await;
    let p = DynamoProvider::new(client, table, Duration::days(1), Clock::system());
    let req = request("tok_visa");
    let outcome = p.charge(&req).await.unwrap();
    assert_eq!(
        (lossy.lost(), lossy.sent()),
        (1, 2),
        "the SDK sent it again"
    );
    assert_eq!(
        p.find(&req.idempotency_key).await,
        Ok(Some(outcome.clone()))
    );
    let charges = p.charges().await.unwrap();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].charge_id, charge_id(&outcome));
    let logged = logs
        .lines()
        .into_iter()
        .filter(|l| l["message"] == orderflow_shared::telemetry::messages::PROVIDER_CHARGE_APPROVED)
        .count();
    assert_eq!(logged, 1, "one line for the one new charge");
}

#[tokio::test(flavor = "current_thread")]
async fn a_lost_answer_of_the_charge_is_read_back_as_the_same_charge_without_request_tokens() {
    // Plain moto ignores ClientRequestToken: the resend fails its condition on the key item,
    // which holds the charge id this call chose.
    lost_answer_is_the_same_charge(&support::moto()).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_lost_answer_of_the_charge_is_the_same_charge_when_the_request_token_is_honoured() {
    // The harsh cloud honours ClientRequestToken as DynamoDB does: the resend succeeds.
    let moto = support::harsh_moto("conflict_ms=0,item_wcu=0");
    lost_answer_is_the_same_charge(&moto).await;
}
