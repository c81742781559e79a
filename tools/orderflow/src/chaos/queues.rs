//! The stack's consumed queues and their dead-letter queues: poison sent in on purpose, how
//! much is still queued, and what was dead-lettered — recorded, and sent back once the faults
//! stop unless it belongs there. The EventBridge targets' dead-letter queues are looked at too
//! (an event EventBridge gave up on); what is there stays for an operator's `dlq redrive`.

use std::collections::HashSet;

use super::dead_letters::{poison_body, DeadLetters};
use super::ChaosError;
use crate::dlq::{self, QueueInfo};
use crate::harness::Say;

pub struct StackQueues {
    sqs: aws_sdk_sqs::Client,
    /// The stack's queues that have a dead-letter queue.
    sources: Vec<QueueInfo>,
    /// Each dead-letter queue with the queue it serves.
    dead_letter: Vec<(QueueInfo, QueueInfo)>,
    /// The dead-letter queues EventBridge rule targets name.
    event_dead_letter: Vec<QueueInfo>,
}

/// A message received from a dead-letter queue.
struct Received {
    id: String,
    body: String,
    handle: String,
}

impl StackQueues {
    pub async fn find(
        sqs: aws_sdk_sqs::Client,
        events: &aws_sdk_eventbridge::Client,
        stack: &str,
    ) -> Result<StackQueues, ChaosError> {
        let queues = dlq::all_queues(&sqs)
            .await
            .map_err(|e| ChaosError::Setup(format!("listing queues: {e}")))?;
        let event_arns = dlq::events::dead_letter_queues(events)
            .await
            .map_err(|e| ChaosError::Setup(format!("listing the rules' targets: {e}")))?;
        let event_dead_letter = queues
            .iter()
            .filter(|q| event_arns.contains_key(&q.arn))
            .cloned()
            .collect();
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
                    .map(|d| (d.clone(), q.clone()))
            })
            .collect();
        Ok(StackQueues {
            sqs,
            sources,
            dead_letter,
            event_dead_letter,
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

    /// Sends `per_queue` malformed messages to each consumed queue; returns how many.
    pub async fn poison(&self, per_queue: usize) -> Result<usize, ChaosError> {
        let mut sent = 0;
        for q in &self.sources {
            for _ in 0..per_queue {
                self.sqs
                    .send_message()
                    .queue_url(&q.url)
                    .message_body(poison_body(sent))
                    .send()
                    .await
                    .map_err(|e| {
                        ChaosError::Setup(format!(
                            "poisoning {}: {}",
                            q.name,
                            aws_sdk_sqs::error::DisplayErrorContext(e)
                        ))
                    })?;
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Records every dead-lettered message in `dead` and moves those injected transient faults
    /// put there back to their queue (send, then delete: a crash in between duplicates rather
    /// than loses); the others stay. Returns how many moved.
    pub async fn redrive_transient(
        &self,
        dead: &mut DeadLetters,
        failing: &HashSet<String>,
        say: Say,
    ) -> u64 {
        let mut moved = 0;
        for (dlq, source) in &self.dead_letter {
            match self
                .redrive_one(&dlq.url, Some(source), dead, failing)
                .await
            {
                Ok(n) => moved += n,
                Err(e) => say.line(&format!("redrive {}: {e}", dlq.name)),
            }
        }
        for dlq in &self.event_dead_letter {
            if let Err(e) = self.redrive_one(&dlq.url, None, dead, failing).await {
                say.line(&format!("reading {}: {e}", dlq.name));
            }
        }
        moved
    }

    /// One dead-letter queue; with no `source`, every message is only recorded.
    async fn redrive_one(
        &self,
        url: &str,
        source: Option<&QueueInfo>,
        dead: &mut DeadLetters,
        failing: &HashSet<String>,
    ) -> Result<u64, String> {
        let mut kept = Vec::new();
        let mut moved = 0;
        loop {
            let batch = self.receive(url).await?;
            if batch.is_empty() {
                break;
            }
            for m in batch {
                let why = dead.saw(&m.id, &m.body, failing);
                let Some(source) = source.filter(|_| !why.is_expected()) else {
                    kept.push(m.handle);
                    continue;
                };
                let sent = self.sqs.send_message().queue_url(&source.url);
                sent.message_body(&m.body)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
                let delete = self.sqs.delete_message().queue_url(url);
                delete
                    .receipt_handle(&m.handle)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
                moved += 1;
            }
        }
        // What stays is visible again at once, for the next look and for `dlq list`.
        for handle in kept {
            let visible = self.sqs.change_message_visibility().queue_url(url);
            let _ = visible
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await;
        }
        Ok(moved)
    }

    /// Up to ten messages, hidden for a minute while this pass decides about them.
    async fn receive(&self, url: &str) -> Result<Vec<Received>, String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(Received {
                    id: m.message_id()?.to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    handle: m.receipt_handle()?.to_owned(),
                })
            })
            .collect())
    }
}
