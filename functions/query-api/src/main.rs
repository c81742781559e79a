//! query-api: `GET /orders/{orderId}` and `GET /products` behind API Gateway (HTTP API).

use lambda_http::{service_fn, Error, Request};
use orderflow_shared::adapters::dynamodb::{DynamoStore, TableNames};
use orderflow_shared::config::{required, ConfigError};
use orderflow_shared::{aws, telemetry};
use query_api::handler::QueryApi;

struct Config {
    tables: TableNames,
}

impl Config {
    fn from_env() -> Result<Self, ConfigError> {
        Ok(Config {
            tables: TableNames {
                orders: required("ORDERS_TABLE", "name of the Orders table")?,
                inventory: required("INVENTORY_TABLE", "name of the Inventory table")?,
                payments: "(payments table: not used by query-api)".into(),
                idempotency: "(idempotency table: not used by query-api)".into(),
            },
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws::sdk_config().await;
    let function = QueryApi {
        store: DynamoStore::new(aws::dynamodb_client(&sdk), config.tables),
        access: orderflow_shared::http::Access::from_env(),
    };
    let function = &function;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(function.handle(request).await)
    }))
    .await
}
