//! What every DynamoDB store shares: a table and its client, the consistent read of one item,
//! and how SDK failures become [`StoreError`]s (a failed condition is told apart by its
//! error variant, never by its message).

use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::item::Item;
use crate::ports::StoreError;

/// One table of the data model and the client that reaches it.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) client: Client,
    pub(super) name: String,
}

impl Table {
    pub(super) fn new(client: Client, name: impl Into<String>) -> Self {
        Table {
            client,
            name: name.into(),
        }
    }

    /// The item under `key_name = key`, read consistently; `op` names the call in errors.
    pub(super) async fn get_item(
        &self,
        key_name: &str,
        key: String,
        op: &str,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(key_name, AttributeValue::S(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(op, e))?;
        Ok(out.item)
    }
}

pub(super) fn unavailable<E, R>(op: &str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(format!("DynamoDB {op}: {}", DisplayErrorContext(&err)))
}

/// The errors of the single-item writes, which fail in a known way when their condition fails.
pub(super) trait ConditionalWriteError: std::error::Error + Sized + 'static {
    /// The item DynamoDB returned for a failed condition (`ALL_OLD`), or the error itself.
    fn into_condition_failure(self) -> Result<Option<Item>, Self>;
}

impl ConditionalWriteError for PutItemError {
    fn into_condition_failure(self) -> Result<Option<Item>, Self> {
        match self {
            PutItemError::ConditionalCheckFailedException(e) => Ok(e.item),
            other => Err(other),
        }
    }
}

impl ConditionalWriteError for UpdateItemError {
    fn into_condition_failure(self) -> Result<Option<Item>, Self> {
        match self {
            UpdateItemError::ConditionalCheckFailedException(e) => Ok(e.item),
            other => Err(other),
        }
    }
}

impl ConditionalWriteError for DeleteItemError {
    fn into_condition_failure(self) -> Result<Option<Item>, Self> {
        match self {
            DeleteItemError::ConditionalCheckFailedException(e) => Ok(e.item),
            other => Err(other),
        }
    }
}

/// `Ok(returned item)` when the write's condition failed; any other failure as a store error.
pub(super) fn failed_condition<E, R>(
    op: &str,
    err: SdkError<E, R>,
) -> Result<Option<Item>, StoreError>
where
    E: ConditionalWriteError,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(context) => {
            context
                .into_err()
                .into_condition_failure()
                .map_err(|other| {
                    StoreError::Unavailable(format!(
                        "DynamoDB {op}: {}",
                        DisplayErrorContext(&other)
                    ))
                })
        }
        other => Err(unavailable(op, other)),
    }
}

pub(super) fn build_error(err: BuildError) -> StoreError {
    // Only reachable through a bug in this adapter: every required field is always set.
    StoreError::Corrupt(format!("invalid DynamoDB request: {err}"))
}
