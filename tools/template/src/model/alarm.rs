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
}

impl Alarm {
    pub(crate) fn read(resource: &Resource) -> Result<Alarm, TemplateError> {
        let p = &resource.properties;
        let text = |key: &str| p.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut dimensions = BTreeMap::new();
        for d in p
            .get("Dimensions")
            .map(Value::one_or_many)
            .unwrap_or_default()
        {
            let name = d.get("Name").and_then(Value::as_str).ok_or_else(|| {
                TemplateError::resource(&resource.logical_id, "a dimension has no Name")
            })?;
            dimensions.insert(
                name.to_owned(),
                d.get("Value").cloned().unwrap_or(Value::Null),
            );
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
        })
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
