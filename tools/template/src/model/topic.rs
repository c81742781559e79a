//! `AWS::SNS::Topic`.

use super::Resource;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub logical_id: String,
    pub kms_master_key_id: Option<Value>,
    pub properties: Value,
}

impl Topic {
    pub(crate) fn read(resource: &Resource) -> Topic {
        Topic {
            logical_id: resource.logical_id.clone(),
            kms_master_key_id: resource.properties.get("KmsMasterKeyId").cloned(),
            properties: resource.properties.clone(),
        }
    }
}
