//! `TransactWriteItems`: one call that writes all its items or none, and the cancellation
//! reasons of a refused one, read by item index (never from a message string).

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::item::Item;
use super::request_token::request_token;
use super::retry::{cancellation_contention, contention, retrying, POLICY};
use super::table::unavailable;
use crate::ports::StoreError;

/// DynamoDB's limit on the items of one `TransactWriteItems`.
pub(super) const MAX_TRANSACTION_ITEMS: usize = 100;

const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailed";

pub(super) enum TransactError {
    Cancelled(Reasons),
    Store(StoreError),
}

/// Writes `items` in one transaction, under a `ClientRequestToken` derived from them (so a
/// resend of an applied one succeeds), retrying contention (`retry`).
pub(super) async fn transact(
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> Result<(), TransactError> {
    let token = request_token(&items);
    let request = client
        .transact_write_items()
        .set_transact_items(Some(items))
        .client_request_token(token);
    let sent = retrying("TransactWriteItems", POLICY, contended_transaction, || {
        request.clone().send()
    })
    .await;
    match sent {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(context)) => match context.into_err() {
            TransactWriteItemsError::TransactionCanceledException(e) => Err(
                TransactError::Cancelled(Reasons(e.cancellation_reasons.unwrap_or_default())),
            ),
            other => Err(TransactError::Store(StoreError::Unavailable(format!(
                "DynamoDB TransactWriteItems: {}",
                DisplayErrorContext(&other)
            )))),
        },
        Err(err) => Err(TransactError::Store(unavailable("TransactWriteItems", err))),
    }
}

/// A transaction refused for contention: cancelled by conflicts or throttles only, or refused
/// as a whole (throttled, or our own token still in flight).
fn contended_transaction<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<&'static str> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            cancellation_contention(e.cancellation_reasons())
        }
        _ => contention(err),
    }
}

/// A cancelled transaction's reasons, one per item, in request order.
pub(super) struct Reasons(pub(super) Vec<CancellationReason>);

impl Reasons {
    /// The item the condition of item `index` failed on (`Some(None)`: failed, no item returned).
    pub(super) fn condition_failed(&self, index: usize) -> Option<Option<&Item>> {
        self.0
            .get(index)
            .filter(|r| r.code() == Some(CONDITIONAL_CHECK_FAILED))
            .map(|r| r.item())
    }

    /// Why the transaction was cancelled when no condition explains it (conflict, throttling).
    pub(super) fn into_unavailable(self, message: &str) -> StoreError {
        let codes: Vec<String> = self
            .0
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r.code() {
                None | Some("None") => None,
                Some(code) => Some(format!("item {i}: {code}")),
            })
            .collect();
        let detail = if codes.is_empty() {
            "no cancellation reasons given".to_owned()
        } else {
            codes.join(", ")
        };
        StoreError::Unavailable(format!("{message} ({detail}); retry"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::dynamodb::item::n;
    use std::collections::HashMap;

    #[test]
    fn cancellation_reasons_are_read_by_item_index() {
        let stock = HashMap::from([("stock".to_owned(), n(1))]);
        let reasons = Reasons(vec![
            CancellationReason::builder().code("None").build(),
            CancellationReason::builder()
                .code("ConditionalCheckFailed")
                .build(),
            CancellationReason::builder()
                .code("ConditionalCheckFailed")
                .set_item(Some(stock.clone()))
                .build(),
            CancellationReason::builder()
                .code("TransactionConflict")
                .build(),
        ]);
        assert_eq!(reasons.condition_failed(0), None);
        assert_eq!(reasons.condition_failed(1), Some(None));
        assert_eq!(reasons.condition_failed(2), Some(Some(&stock)));
        assert_eq!(reasons.condition_failed(3), None);
        assert_eq!(reasons.condition_failed(9), None);
        let StoreError::Unavailable(msg) = reasons.into_unavailable("cancelled") else {
            panic!("unavailable")
        };
        assert!(msg.contains("item 3: TransactionConflict"), "{msg}");
    }
}
