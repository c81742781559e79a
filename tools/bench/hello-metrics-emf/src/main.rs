//! Issue 14's measurement of `metrics` + `metrics_cloudwatch_embedded`: the hello-world of
//! `make bench` plus what every function would do with metrics (a namespace, a `Function`
//! dimension, a counter and a histogram per invocation, one EMF flush to stdout at its end).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace("orderflow")
        .with_dimension("Function", function)
        .init()?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        metrics::counter!("Invocations", "Outcome" => "ok").increment(1);
        metrics::histogram!("StageLatency", "Stage" => "hello").record(1.0);
        collector.flush(std::io::stdout().lock())?;
        Ok::<_, Error>(event.payload)
    }))
    .await
}
