//! The age of each queue's oldest message, as SQS publishes it to CloudWatch
//! (`AWS/SQS ApproximateAgeOfOldestMessage`, dimension `QueueName`, in seconds): no SQS call
//! returns it. The local cloud's moto publishes it as SQS does (`infra/moto/sqs_metrics.py`);
//! on a cloud that does not, the console's column stays empty.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_sdk_cloudwatch::Client;

pub const NAMESPACE: &str = "AWS/SQS";
pub const METRIC: &str = "ApproximateAgeOfOldestMessage";

/// How far back a datum still says something about now: a few of the local cloud's periods
/// (10 s); AWS publishes a datum a minute.
const RECENT: Duration = Duration::from_secs(30);
/// The statistic's period: a minute, the finest AWS keeps for this standard-resolution metric.
const PERIOD_SECONDS: i32 = 60;

/// The latest age of each named queue's oldest message, for the queues CloudWatch has a recent
/// datum of. One `GetMetricData` call for them all (it takes up to 500 queries).
pub async fn oldest_ages(cloudwatch: &Client, queues: &[String]) -> HashMap<String, i64> {
    let mut ages = HashMap::new();
    for chunk in queues.chunks(500) {
        let now = SystemTime::now();
        let mut request = cloudwatch
            .get_metric_data()
            .start_time(DateTime::from(now - RECENT))
            .end_time(DateTime::from(now))
            .scan_by(ScanBy::TimestampDescending);
        for (i, name) in chunk.iter().enumerate() {
            request = request.metric_data_queries(query(i, name));
        }
        // The column is a view: a cloud without CloudWatch leaves it empty, nothing more.
        let Ok(answer) = request.send().await else {
            continue;
        };
        for result in answer.metric_data_results() {
            let index = result
                .id()
                .and_then(|id| id.strip_prefix('q'))
                .and_then(|i| i.parse::<usize>().ok());
            if let (Some(name), Some(latest)) =
                (index.and_then(|i| chunk.get(i)), result.values().first())
            {
                ages.insert(name.clone(), latest.round() as i64);
            }
        }
    }
    ages
}

fn query(index: usize, queue: &str) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace(NAMESPACE)
        .metric_name(METRIC)
        .dimensions(Dimension::builder().name("QueueName").value(queue).build())
        .build();
    MetricDataQuery::builder()
        .id(format!("q{index}"))
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(PERIOD_SECONDS)
                .stat("Maximum")
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_queue_is_asked_for_by_its_name_under_an_id_that_leads_back_to_it() {
        let q = query(3, "orderflow-local-PaymentQueue");
        assert_eq!(q.id(), Some("q3"));
        let stat = q.metric_stat().unwrap();
        let metric = stat.metric().unwrap();
        assert_eq!(metric.namespace(), Some("AWS/SQS"));
        assert_eq!(metric.metric_name(), Some("ApproximateAgeOfOldestMessage"));
        let dimension = &metric.dimensions()[0];
        assert_eq!(
            (dimension.name(), dimension.value()),
            (Some("QueueName"), Some("orderflow-local-PaymentQueue"))
        );
        assert_eq!(stat.period(), Some(60));
    }
}
