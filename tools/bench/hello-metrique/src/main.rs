//! Issue 14's measurement of awslabs' `metrique`: the hello-world of `make bench` plus what
//! every function would do with metrics (a namespace, a `Function` dimension, one wide event
//! per invocation with a count and a latency, written as EMF to stdout and flushed before the
//! invocation returns).

use metrique::emf::Emf;
use metrique::unit_of_work::metrics;
use metrique::writer::{AnyEntrySink, AttachGlobalEntrySinkExt, FormatExt, GlobalEntrySink};
use metrique::ServiceMetrics;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[metrics(emf::dimension_sets = [["Function", "Outcome"]], rename_all = "PascalCase")]
struct Invocation {
    function: String,
    outcome: &'static str,
    invocations: u64,
    #[metrics(unit = metrique::unit::Millisecond)]
    stage_latency: f64,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    let _handle = ServiceMetrics::attach_to_stream(
        Emf::builder("orderflow".to_string(), vec![vec![]])
            .build()
            .output_to_makewriter(|| std::io::stdout().lock()),
    );
    let function = &function;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        {
            let _entry = Invocation {
                function: function.clone(),
                outcome: "ok",
                invocations: 1,
                stage_latency: 1.0,
            }
            .append_on_drop(ServiceMetrics::sink());
        }
        AnyEntrySink::flush_async(&ServiceMetrics::sink()).await;
        Ok::<_, Error>(event.payload)
    }))
    .await
}
