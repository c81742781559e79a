//! What one AWS call uses, as AWS bills it: its entries (a batch's items), its 64 KB chunks
//! (EventBridge events and SNS messages are billed per started 64 KB), and DynamoDB's read and
//! write units as the endpoint reports them (`ReturnConsumedCapacity`, asked for here).

use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};

/// A billing chunk of EventBridge and SNS payloads.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// What a call carries: entries and billed chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carried {
    pub entries: usize,
    pub chunks: usize,
}

impl Carried {
    const ONE: Carried = Carried {
        entries: 1,
        chunks: 1,
    };
}

/// DynamoDB capacity units a call consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub read: f64,
    pub write: f64,
}

/// The started 64 KB chunks of a payload of `bytes` (at least one).
pub fn chunks(bytes: usize) -> usize {
    bytes.div_ceil(CHUNK_BYTES).max(1)
}

/// Entries and chunks of the call whose input this is (one of each for a call that is not a
/// batch).
pub fn carried(input: &Input) -> Carried {
    #[cfg(feature = "dynamodb")]
    if let Some(c) = dynamodb::carried(input) {
        return c;
    }
    #[cfg(feature = "eventbridge")]
    if let Some(i) =
        input.downcast_ref::<aws_sdk_eventbridge::operation::put_events::PutEventsInput>()
    {
        let entries = i.entries();
        return Carried {
            entries: entries.len(),
            chunks: entries.iter().map(|e| chunks(event_bytes(e))).sum(),
        };
    }
    #[cfg(feature = "sns")]
    if let Some(c) = sns::carried(input) {
        return c;
    }
    let _ = input;
    Carried::ONE
}

/// EventBridge's size of an event: source, detail type, detail and resources, and 14 bytes for
/// a time (the User Guide's "Calculating PutEvents event entry size").
#[cfg(feature = "eventbridge")]
fn event_bytes(e: &aws_sdk_eventbridge::types::PutEventsRequestEntry) -> usize {
    let len = |s: Option<&str>| s.map_or(0, str::len);
    len(e.source())
        + len(e.detail_type())
        + len(e.detail())
        + e.resources().iter().map(String::len).sum::<usize>()
        + if e.time().is_some() { 14 } else { 0 }
}

/// Asks DynamoDB for the units a call consumes (`ReturnConsumedCapacity=TOTAL`); other calls
/// are left as they are.
pub fn ask_for_units(input: &mut Input) {
    #[cfg(feature = "dynamodb")]
    dynamodb::ask_for_units(input);
    let _ = input;
}

/// The units a DynamoDB call's answer reports (none for other services).
pub fn units(output: &Output) -> Units {
    #[cfg(feature = "dynamodb")]
    if let Some(u) = dynamodb::units(output) {
        return u;
    }
    let _ = output;
    Units::default()
}

#[cfg(feature = "sns")]
mod sns {
    use super::{chunks, Carried, Input};
    use aws_sdk_sns::operation::{publish::PublishInput, publish_batch::PublishBatchInput};
    use aws_sdk_sns::types::MessageAttributeValue;
    use std::collections::HashMap;

    fn attributes(a: Option<&HashMap<String, MessageAttributeValue>>) -> usize {
        a.map_or(0, |a| {
            a.iter()
                .map(|(k, v)| k.len() + v.data_type().len() + v.string_value().map_or(0, str::len))
                .sum()
        })
    }

    pub(super) fn carried(input: &Input) -> Option<Carried> {
        if let Some(i) = input.downcast_ref::<PublishBatchInput>() {
            let entries = i.publish_batch_request_entries();
            return Some(Carried {
                entries: entries.len(),
                chunks: entries
                    .iter()
                    .map(|e| chunks(e.message().len() + attributes(e.message_attributes())))
                    .sum(),
            });
        }
        input.downcast_ref::<PublishInput>().map(|i| Carried {
            entries: 1,
            chunks: chunks(i.message().map_or(0, str::len) + attributes(i.message_attributes())),
        })
    }
}

#[cfg(feature = "dynamodb")]
mod dynamodb {
    use super::{Carried, Input, Output, Units};
    use aws_sdk_dynamodb::operation::{
        batch_get_item::{BatchGetItemInput, BatchGetItemOutput},
        delete_item::{DeleteItemInput, DeleteItemOutput},
        get_item::{GetItemInput, GetItemOutput},
        put_item::{PutItemInput, PutItemOutput},
        query::{QueryInput, QueryOutput},
        scan::{ScanInput, ScanOutput},
        transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput},
        update_item::{UpdateItemInput, UpdateItemOutput},
    };
    use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};

    pub(super) fn carried(input: &Input) -> Option<Carried> {
        let entries = if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
            i.transact_items().len()
        } else if let Some(i) = input.downcast_ref::<BatchGetItemInput>() {
            i.request_items()
                .map_or(0, |r| r.values().map(|k| k.keys().len()).sum())
        } else {
            return None;
        };
        Some(Carried { entries, chunks: 1 })
    }

    pub(super) fn ask_for_units(input: &mut Input) {
        let total = Some(ReturnConsumedCapacity::Total);
        macro_rules! ask {
            ($($t:ty),*) => {$(
                if let Some(i) = input.downcast_mut::<$t>() {
                    i.return_consumed_capacity = total;
                    return;
                }
            )*};
        }
        ask!(
            PutItemInput,
            UpdateItemInput,
            DeleteItemInput,
            GetItemInput,
            QueryInput,
            ScanInput,
            TransactWriteItemsInput,
            BatchGetItemInput
        );
    }

    fn sum<'a>(c: impl IntoIterator<Item = &'a ConsumedCapacity>) -> f64 {
        c.into_iter().filter_map(|c| c.capacity_units).sum()
    }

    pub(super) fn units(output: &Output) -> Option<Units> {
        let write = |w: f64| Units {
            read: 0.0,
            write: w,
        };
        let read = |r: f64| Units {
            read: r,
            write: 0.0,
        };
        if let Some(o) = output.downcast_ref::<PutItemOutput>() {
            return Some(write(sum(o.consumed_capacity())));
        }
        if let Some(o) = output.downcast_ref::<UpdateItemOutput>() {
            return Some(write(sum(o.consumed_capacity())));
        }
        if let Some(o) = output.downcast_ref::<DeleteItemOutput>() {
            return Some(write(sum(o.consumed_capacity())));
        }
        if let Some(o) = output.downcast_ref::<TransactWriteItemsOutput>() {
            return Some(write(sum(o.consumed_capacity())));
        }
        if let Some(o) = output.downcast_ref::<GetItemOutput>() {
            return Some(read(sum(o.consumed_capacity())));
        }
        if let Some(o) = output.downcast_ref::<BatchGetItemOutput>() {
            return Some(read(sum(o.consumed_capacity())));
        }
        if let Some(o) = output.downcast_ref::<QueryOutput>() {
            return Some(read(sum(o.consumed_capacity())));
        }
        output
            .downcast_ref::<ScanOutput>()
            .map(|o| read(sum(o.consumed_capacity())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_billed_per_started_64_kb_chunk() {
        assert_eq!(chunks(0), 1);
        assert_eq!(chunks(65_536), 1);
        assert_eq!(chunks(65_537), 2);
    }
}
