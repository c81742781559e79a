//! The cold-start reference of `make bench`: the smallest function `lambda_runtime` runs (it
//! echoes its event), built in this workspace with the release profile, so a function's cold
//! start can be told apart from the runtime's own.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
