//! `AWS::DynamoDB::Table`: key schema, global secondary indexes, TTL attribute and billing mode.

use super::Resource;
use crate::error::TemplateError;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    /// `S`, `N` or `B`.
    pub kind: String,
}

/// A global secondary index: its keys and what it projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalIndex {
    pub name: String,
    pub hash_key: KeyAttribute,
    pub range_key: Option<KeyAttribute>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: String,
    /// With `INCLUDE`, the attributes projected besides the keys.
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub logical_id: String,
    pub hash_key: KeyAttribute,
    pub range_key: Option<KeyAttribute>,
    pub global_indexes: Vec<GlobalIndex>,
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
        // The `key_type` key of a `KeySchema` (the table's or an index's).
        let key = |schema: Option<&Value>,
                   key_type: &str|
         -> Result<Option<KeyAttribute>, TemplateError> {
            let entry = schema
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
        let hash_key = key(p.get("KeySchema"), "HASH")?
            .ok_or_else(|| TemplateError::resource(id, "has no HASH key in KeySchema"))?;
        let mut global_indexes = Vec::new();
        for index in p
            .get("GlobalSecondaryIndexes")
            .map(Value::one_or_many)
            .unwrap_or_default()
        {
            let name = index
                .get("IndexName")
                .and_then(Value::as_str)
                .ok_or_else(|| TemplateError::resource(id, "has an index without IndexName"))?;
            let schema = index.get("KeySchema");
            let projection = index.get("Projection");
            global_indexes.push(GlobalIndex {
                name: name.to_owned(),
                hash_key: key(schema, "HASH")?.ok_or_else(|| {
                    TemplateError::resource(id, format!("index {name} has no HASH key"))
                })?,
                range_key: key(schema, "RANGE")?,
                projection_type: projection
                    .and_then(|p| p.get("ProjectionType"))
                    .and_then(Value::as_str)
                    .unwrap_or("KEYS_ONLY")
                    .to_owned(),
                non_key_attributes: projection
                    .and_then(|p| p.get("NonKeyAttributes"))
                    .map(Value::one_or_many)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            });
        }
        let ttl = p.get("TimeToLiveSpecification");
        let ttl_attribute = ttl
            .filter(|t| t.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
            .and_then(|t| t.get("AttributeName"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Table {
            logical_id: id.to_owned(),
            hash_key,
            range_key: key(p.get("KeySchema"), "RANGE")?,
            global_indexes,
            ttl_attribute,
            billing_mode: p
                .get("BillingMode")
                .and_then(Value::as_str)
                .map(str::to_owned),
            properties: p.clone(),
        })
    }
}
