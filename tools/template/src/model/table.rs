//! `AWS::DynamoDB::Table`: key schema, TTL attribute and billing mode.

use super::Resource;
use crate::error::TemplateError;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    /// `S`, `N` or `B`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub logical_id: String,
    pub hash_key: KeyAttribute,
    pub range_key: Option<KeyAttribute>,
    /// `TimeToLiveSpecification/AttributeName` when TTL is enabled.
    pub ttl_attribute: Option<String>,
    pub billing_mode: Option<String>,
    pub properties: Value,
}

impl Table {
    pub(crate) fn read(resource: &Resource) -> Result<Table, TemplateError> {
        let id = resource.logical_id.as_str();
        let p = &resource.properties;
        let attribute_kind = |name: &str| {
            p.get("AttributeDefinitions")
                .map(Value::one_or_many)
                .unwrap_or_default()
                .iter()
                .find(|d| d.get("AttributeName").and_then(Value::as_str) == Some(name))
                .and_then(|d| d.get("AttributeType"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    TemplateError::resource(
                        id,
                        format!("key attribute {name} has no AttributeDefinitions entry"),
                    )
                })
        };
        let key = |key_type: &str| -> Result<Option<KeyAttribute>, TemplateError> {
            let entry = p
                .get("KeySchema")
                .map(Value::one_or_many)
                .unwrap_or_default()
                .iter()
                .find(|k| k.get("KeyType").and_then(Value::as_str) == Some(key_type));
            match entry
                .and_then(|k| k.get("AttributeName"))
                .and_then(Value::as_str)
            {
                Some(name) => Ok(Some(KeyAttribute {
                    name: name.to_owned(),
                    kind: attribute_kind(name)?,
                })),
                None => Ok(None),
            }
        };
        let hash_key = key("HASH")?
            .ok_or_else(|| TemplateError::resource(id, "has no HASH key in KeySchema"))?;
        let ttl = p.get("TimeToLiveSpecification");
        let ttl_attribute = ttl
            .filter(|t| t.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
            .and_then(|t| t.get("AttributeName"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Table {
            logical_id: id.to_owned(),
            hash_key,
            range_key: key("RANGE")?,
            ttl_attribute,
            billing_mode: p
                .get("BillingMode")
                .and_then(Value::as_str)
                .map(str::to_owned),
            properties: p.clone(),
        })
    }
}
