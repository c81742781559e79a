//! The stack's consumed queues and their dead-letter queues: how much is still queued, and
//! sending what was dead-lettered back once the faults stop.

use super::ChaosError;
use crate::dlq::{self, QueueInfo};
use crate::harness::Say;

pub struct StackQueues {
    sqs: aws_sdk_sqs::Client,
    /// The stack's queues that have a dead-letter queue.
    sources: Vec<QueueInfo>,
    /// Their dead-letter queues, by name.
    dead_letter: Vec<String>,
}

impl StackQueues {
    pub async fn find(sqs: aws_sdk_sqs::Client, stack: &str) -> Result<StackQueues, ChaosError> {
        let queues = dlq::all_queues(&sqs)
            .await
            .map_err(|e| ChaosError::Setup(format!("listing queues: {e}")))?;
        let prefix = format!("{stack}-");
        let sources: Vec<QueueInfo> = queues
            .iter()
            .filter(|q| q.name.starts_with(&prefix) && q.dead_letter_arn.is_some())
            .cloned()
            .collect();
        let dead_letter = sources
            .iter()
            .filter_map(|q| {
                queues
                    .iter()
                    .find(|d| q.dead_letter_arn.as_deref() == Some(d.arn.as_str()))
                    .map(|d| d.name.clone())
            })
            .collect();
        Ok(StackQueues {
            sqs,
            sources,
            dead_letter,
        })
    }

    /// Messages waiting or in flight in the source queues (not the DLQs, not the inbox);
    /// `u64::MAX` when a queue cannot be read.
    pub async fn queued(&self) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName;
        let mut total = 0;
        for q in &self.sources {
            let Ok(out) = self
                .sqs
                .get_queue_attributes()
                .queue_url(&q.url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
            else {
                return u64::MAX;
            };
            for v in out.attributes().into_iter().flat_map(|a| a.values()) {
                total += v.parse::<u64>().unwrap_or(0);
            }
        }
        total
    }

    /// Moves every dead-lettered message back to its queue; returns how many moved.
    pub async fn redrive(&self, say: Say) -> u64 {
        let mut moved = 0;
        for name in &self.dead_letter {
            match dlq::redrive(&self.sqs, name).await {
                Ok((_, n)) => moved += n,
                Err(e) => say.line(&format!("redrive {name}: {e}")),
            }
        }
        moved
    }
}
