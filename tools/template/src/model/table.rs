//! `AWS::DynamoDB::Table`: key schema, global secondary indexes, TTL attribute and billing
//! mode.

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
    pub global_secondary_indexes: Vec<SecondaryIndex>,
    /// `TimeToLiveSpecification/AttributeName` when TTL is enabled.
    pub ttl_attribute: Option<String>,
    pub billing_mode: Option<String>,
    pub properties: Value,
}

/// One of `GlobalSecondaryIndexes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondaryIndex {
    pub name: String,
    pub hash_key: KeyAttribute,
    pub range_key: Option<KeyAttribute>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: String,
    /// The attributes an `INCLUDE` projection adds to the keys.
    pub non_key_attributes: Vec<String>,
}

impl Table {
    pub(crate) fn read(resource: &Resource) -> Result<Table, TemplateError> {
        let id = resource.logical_id.as_str();
        let p = &resource.properties;
        let schema = p.get("KeySchema");
        let hash_key = key_of(id, p, schema, "HASH")?
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
            range_key: key_of(id, p, schema, "RANGE")?,
            global_secondary_indexes: secondary_indexes(id, p)?,
            ttl_attribute,
            billing_mode: p
                .get("BillingMode")
                .and_then(Value::as_str)
                .map(str::to_owned),
            properties: p.clone(),
        })
    }
}

/// The `key_type` (`HASH` or `RANGE`) key of a `KeySchema`, typed from the table's
/// `AttributeDefinitions`.
fn key_of(
    id: &str,
    table: &Value,
    schema: Option<&Value>,
    key_type: &str,
) -> Result<Option<KeyAttribute>, TemplateError> {
    let entry = schema
        .map(Value::one_or_many)
        .unwrap_or_default()
        .iter()
        .find(|k| k.get("KeyType").and_then(Value::as_str) == Some(key_type));
    let Some(name) = entry
        .and_then(|k| k.get("AttributeName"))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let kind = table
        .get("AttributeDefinitions")
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
        })?;
    Ok(Some(KeyAttribute {
        name: name.to_owned(),
        kind,
    }))
}

fn secondary_indexes(id: &str, table: &Value) -> Result<Vec<SecondaryIndex>, TemplateError> {
    let indexes = table
        .get("GlobalSecondaryIndexes")
        .map(Value::one_or_many)
        .unwrap_or_default();
    indexes
        .iter()
        .map(|index| {
            let name = index
                .get("IndexName")
                .and_then(Value::as_str)
                .ok_or_else(|| TemplateError::resource(id, "a secondary index has no IndexName"))?;
            let schema = index.get("KeySchema");
            let hash_key = key_of(id, table, schema, "HASH")?.ok_or_else(|| {
                TemplateError::resource(id, format!("index {name} has no HASH key"))
            })?;
            let projection = index.get("Projection");
            Ok(SecondaryIndex {
                name: name.to_owned(),
                hash_key,
                range_key: key_of(id, table, schema, "RANGE")?,
                projection: projection
                    .and_then(|p| p.get("ProjectionType"))
                    .and_then(Value::as_str)
                    .unwrap_or("KEYS_ONLY")
                    .to_owned(),
                non_key_attributes: projection
                    .and_then(|p| p.get("NonKeyAttributes"))
                    .map(Value::one_or_many)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            })
        })
        .collect()
}
