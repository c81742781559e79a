//! The HTTP API's routes on a deployed stack: each route invokes its deployed function with
//! Lambda `Invoke` (`RequestResponse`), as API Gateway's Lambda proxy integration does.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use axum::body::Bytes;
use orderflow_template::model::Function;

use super::stack::{StackDescription, StackError};
use crate::local::api_gateway::{Invocation, Invoke, InvokeFailure, Route};

/// API Gateway's longest integration timeout (HTTP API: 30 s); past it the API answers 503.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// A deployed function.
#[derive(Debug, Clone)]
pub struct LambdaFunction {
    pub name: String,
    client: aws_sdk_lambda::Client,
}

/// A Lambda client that invokes once per request: API Gateway does not retry an invocation
/// (the SDK's default retries could run a POST twice).
pub fn client(sdk: &aws_config::SdkConfig) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::config::Builder::from(sdk)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

impl LambdaFunction {
    pub fn new(client: aws_sdk_lambda::Client, name: &str) -> LambdaFunction {
        LambdaFunction {
            name: name.to_owned(),
            client,
        }
    }

    async fn call(&self, payload: Bytes) -> Result<Bytes, InvokeFailure> {
        let out = self
            .client
            .invoke()
            .function_name(&self.name)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload.to_vec()))
            .send()
            .await
            .map_err(|e| InvokeFailure::Failed(DisplayErrorContext(e).to_string()))?;
        let payload = out
            .payload()
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_default();
        answer(out.function_error(), payload)
    }
}

/// An answer with `FunctionError` set (`Unhandled`: the function failed, its payload is
/// `{"errorType", "errorMessage"}`) is a failure; any other is the function's response.
fn answer(function_error: Option<&str>, payload: Vec<u8>) -> Result<Bytes, InvokeFailure> {
    match function_error {
        Some(kind) => Err(InvokeFailure::Failed(format!(
            "{kind}: {}",
            String::from_utf8_lossy(&payload)
        ))),
        None => Ok(Bytes::from(payload)),
    }
}

impl Invoke for LambdaFunction {
    fn invoke(&self, payload: Bytes) -> Invocation<'_> {
        Box::pin(async move {
            tokio::time::timeout(INTEGRATION_TIMEOUT, self.call(payload))
                .await
                .unwrap_or_else(|_| {
                    Err(InvokeFailure::TimedOut(format!(
                        "{} did not answer within {} s",
                        self.name,
                        INTEGRATION_TIMEOUT.as_secs()
                    )))
                })
        })
    }
}

/// Every `HttpApi` event of the template's functions, as a route invoking the function the
/// stack deployed for it.
pub fn routes(
    functions: &[Function],
    stack: &StackDescription,
    client: &aws_sdk_lambda::Client,
) -> Result<Vec<Route>, StackError> {
    let mut routes = Vec::new();
    for f in functions {
        let mut events = f.http_api_events().peekable();
        if events.peek().is_none() {
            continue;
        }
        let function: Arc<dyn Invoke> = Arc::new(LambdaFunction::new(
            client.clone(),
            stack.physical_id(&f.logical_id)?,
        ));
        routes.extend(events.map(|http| Route {
            method: http.method.clone(),
            path: http.path.clone(),
            function: function.clone(),
            authorized: http.authorizer.as_deref() != Some("NONE"),
        }));
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use axum::extract::Path as UrlPath;
    use axum::http::HeaderMap;
    use axum::routing::post;

    use super::*;
    use crate::deploy::stack::StackResource;

    /// A stand-in for Lambda's `Invoke` API: answers with the function's name as the body of a
    /// v2 response, or, for a name ending in `-Failing`, with a function error.
    async fn lambda_api() -> aws_sdk_lambda::Client {
        let invoke = |UrlPath(name): UrlPath<String>| async move {
            let mut headers = HeaderMap::new();
            if name.ends_with("-Failing") {
                headers.insert("x-amz-function-error", "Unhandled".parse().unwrap());
                return (
                    headers,
                    r#"{"errorType":"Boom","errorMessage":"x"}"#.to_owned(),
                );
            }
            let body = serde_json::json!({"statusCode": 200, "body": name}).to_string();
            (headers, body)
        };
        let app =
            axum::Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        client(&crate::local::sdk_config(&url).await)
    }

    #[tokio::test]
    async fn a_function_error_is_a_failure_with_its_payload_and_anything_else_the_response() {
        let lambda = lambda_api().await;
        let failing = LambdaFunction::new(lambda.clone(), "s-F-Failing");
        assert_eq!(
            failing.invoke(Bytes::from_static(b"{}")).await.unwrap_err(),
            InvokeFailure::Failed(r#"Unhandled: {"errorType":"Boom","errorMessage":"x"}"#.into())
        );
        let ok = LambdaFunction::new(lambda, "s-F-1A");
        let payload = ok.invoke(Bytes::from_static(b"{}")).await.unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(answer["body"], "s-F-1A");
    }

    #[tokio::test]
    async fn each_route_of_the_template_invokes_the_function_the_stack_deployed_for_it() {
        let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
        let functions = orderflow_template::Template::from_path(&template)
            .unwrap()
            .functions()
            .unwrap();
        let resources: BTreeMap<String, StackResource> = functions
            .iter()
            .map(|f| {
                let physical_id = format!("s-{}-1F", f.logical_id);
                let kind = "AWS::Lambda::Function".to_owned();
                (f.logical_id.clone(), StackResource { kind, physical_id })
            })
            .collect();
        let stack = StackDescription {
            name: "s".into(),
            status: "CREATE_COMPLETE".into(),
            parameters: BTreeMap::new(),
            outputs: BTreeMap::new(),
            resources,
        };
        let lambda = lambda_api().await;
        let routes = routes(&functions, &stack, &lambda).unwrap();
        let mut seen = Vec::new();
        for r in &routes {
            let payload = r.function.invoke(Bytes::from_static(b"{}")).await.unwrap();
            let answer: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            seen.push(format!(
                "{} {} {} -> {}",
                r.method, r.path, r.authorized, answer["body"]
            ));
        }
        assert!(
            seen.contains(&r#"POST /orders true -> "s-ValidateOrderFunction-1F""#.to_owned()),
            "{seen:?}"
        );
        assert!(
            seen.contains(&r#"GET /products false -> "s-QueryApiFunction-1F""#.to_owned()),
            "{seen:?}"
        );
        let stack_without = StackDescription {
            resources: BTreeMap::new(),
            ..stack
        };
        assert!(super::routes(&functions, &stack_without, &lambda).is_err());
    }
}
