//! Reading a table back the way chaos and load runs do: one Scan, every page, only the named
//! attributes of each item.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub type Item = HashMap<String, AttributeValue>;

/// Every item of `table` with only `attributes` (each through a placeholder name, so reserved
/// words such as `status` need no care).
pub async fn attributes(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    attributes: &[&str],
) -> Result<Vec<Item>, String> {
    let placeholders: Vec<String> = (0..attributes.len()).map(|i| format!("#a{i}")).collect();
    dynamodb
        .scan()
        .table_name(table)
        .projection_expression(placeholders.join(", "))
        .set_expression_attribute_names(Some(
            placeholders
                .into_iter()
                .zip(attributes.iter().map(|a| (*a).to_owned()))
                .collect(),
        ))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| {
            format!(
                "scanning {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, KeySchemaElement, KeyType, ScalarAttributeType,
    };

    use super::*;
    use crate::local::{self, moto};

    #[tokio::test]
    async fn every_item_comes_back_with_only_the_named_attributes_reserved_words_too() {
        let dir = std::env::temp_dir().join(format!("orderflow-scan-{}", uuid::Uuid::new_v4()));
        let mut moto = moto::start(local::free_port().unwrap(), &dir, None)
            .await
            .unwrap();
        let dynamodb = aws_sdk_dynamodb::Client::new(&local::sdk_config(&moto.endpoint).await);
        dynamodb
            .create_table()
            .table_name("t")
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("orderId")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("orderId")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap();
        let s = |v: &str| AttributeValue::S(v.to_owned());
        for id in ["o-1", "o-2", "o-3"] {
            dynamodb
                .put_item()
                .table_name("t")
                .item("orderId", s(id))
                .item("status", s("PENDING"))
                .item("paymentToken", s("tok"))
                .send()
                .await
                .unwrap();
        }
        let mut items = attributes(&dynamodb, "t", &["orderId", "status"])
            .await
            .unwrap();
        items.sort_by_key(|i| format!("{:?}", i.get("orderId")));
        moto.child.kill().await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0],
            Item::from([
                ("orderId".to_owned(), s("o-1")),
                ("status".to_owned(), s("PENDING"))
            ])
        );
        assert!(items.iter().all(|i| i.len() == 2), "{items:?}");
    }
}
