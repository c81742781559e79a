//! query-api: `GET /orders/{orderId}` and `GET /products` behind API Gateway (HTTP API).

use lambda_http::{service_fn, Error, Request};
use orderflow_shared::adapters::dynamodb::{DynamoCatalog, DynamoOrders};
use orderflow_shared::{aws, telemetry};
use query_api::config::Config;
use query_api::handler::QueryApi;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    telemetry::metrics::init("query-api");
    let config = Config::from_env()?;
    let sdk = aws::sdk_config().await;
    let dynamodb = aws::Clients::new(&sdk).dynamodb();
    let function = QueryApi {
        orders: DynamoOrders::new(dynamodb.clone(), &config.orders_table),
        catalog: DynamoCatalog::new(dynamodb, &config.inventory_table),
        access: config.access,
    };
    let function = &function;
    lambda_http::run(service_fn(move |request: Request| async move {
        let response = function.handle(request).await;
        telemetry::metrics::flush();
        Ok::<_, Error>(response)
    }))
    .await
}
