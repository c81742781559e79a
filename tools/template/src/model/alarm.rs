//! `AWS::CloudWatch::Alarm`: what it watches and when it fires.

use std::collections::BTreeMap;

use super::Resource;
use crate::error::TemplateError;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    pub logical_id: String,
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    /// Dimension name -> value (e.g. `QueueName` -> `!GetAtt DLQ.QueueName`).
    pub dimensions: BTreeMap<String, Value>,
    pub statistic: Option<String>,
    pub period_seconds: Option<u64>,
    pub evaluation_periods: Option<u64>,
    pub threshold: Option<f64>,
    pub comparison_operator: Option<String>,
    pub alarm_actions: Vec<Value>,
    /// The metrics of a metric-math alarm (`Metrics[].MetricStat.Metric`), e.g. a function's
    /// `Errors` and `Invocations` under an error-rate expression.
    pub metric_stats: Vec<MetricStat>,
}

/// One metric a metric-math alarm reads.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricStat {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: BTreeMap<String, Value>,
}

impl Alarm {
    pub(crate) fn read(resource: &Resource) -> Result<Alarm, TemplateError> {
        let p = &resource.properties;
        let text = |key: &str| p.get(key).and_then(Value::as_str).map(str::to_owned);
        let dimensions = read_dimensions(&resource.logical_id, p)?;
        let mut metric_stats = Vec::new();
        for m in p.get("Metrics").map(Value::one_or_many).unwrap_or_default() {
            let Some(metric) = m.get("MetricStat").and_then(|s| s.get("Metric")) else {
                continue; // an expression
            };
            let text = |key: &str| metric.get(key).and_then(Value::as_str).map(str::to_owned);
            metric_stats.push(MetricStat {
                namespace: text("Namespace"),
                metric_name: text("MetricName"),
                dimensions: read_dimensions(&resource.logical_id, metric)?,
            });
        }
        Ok(Alarm {
            logical_id: resource.logical_id.clone(),
            namespace: text("Namespace"),
            metric_name: text("MetricName"),
            dimensions,
            statistic: text("Statistic"),
            period_seconds: p.get("Period").and_then(Value::as_u64),
            evaluation_periods: p.get("EvaluationPeriods").and_then(Value::as_u64),
            threshold: p.get("Threshold").and_then(Value::as_f64),
            comparison_operator: text("ComparisonOperator"),
            alarm_actions: p
                .get("AlarmActions")
                .map(|a| a.one_or_many().to_vec())
                .unwrap_or_default(),
            metric_stats,
        })
    }

    /// The dimensions of each metric `namespace`/`metric_name` the alarm reads, alone or in
    /// its metric math.
    pub fn watches(&self, namespace: &str, metric_name: &str) -> Vec<&BTreeMap<String, Value>> {
        let alone = (self.namespace.as_deref() == Some(namespace)
            && self.metric_name.as_deref() == Some(metric_name))
        .then_some(&self.dimensions);
        alone
            .into_iter()
            .chain(
                self.metric_stats
                    .iter()
                    .filter(|m| {
                        m.namespace.as_deref() == Some(namespace)
                            && m.metric_name.as_deref() == Some(metric_name)
                    })
                    .map(|m| &m.dimensions),
            )
            .collect()
    }

    /// Whether the alarm goes off as soon as the metric is 1 or more (e.g. one message in a DLQ).
    pub fn fires_on_first_unit(&self) -> bool {
        match (self.comparison_operator.as_deref(), self.threshold) {
            (Some("GreaterThanThreshold"), Some(t)) => t < 1.0,
            (Some("GreaterThanOrEqualToThreshold"), Some(t)) => t <= 1.0,
            _ => false,
        }
    }
}

/// `Dimensions: [{Name, Value}]` of an alarm or of one of its metrics.
fn read_dimensions(alarm: &str, p: &Value) -> Result<BTreeMap<String, Value>, TemplateError> {
    let mut dimensions = BTreeMap::new();
    for d in p
        .get("Dimensions")
        .map(Value::one_or_many)
        .unwrap_or_default()
    {
        let name = d
            .get("Name")
            .and_then(Value::as_str)
            .ok_or_else(|| TemplateError::resource(alarm, "a dimension has no Name"))?;
        dimensions.insert(
            name.to_owned(),
            d.get("Value").cloned().unwrap_or(Value::Null),
        );
    }
    Ok(dimensions)
}
