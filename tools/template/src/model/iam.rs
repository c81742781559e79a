//! `AWS::IAM::Role` and the policy statements of roles and queue policies.

use super::read::strings;
use super::Resource;
use crate::error::TemplateError;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub logical_id: String,
    /// Service principals allowed to assume it (`lambda.amazonaws.com`).
    pub assumed_by: Vec<String>,
    pub managed_policy_arns: Vec<Value>,
    /// Statements of all inline `Policies`.
    pub statements: Vec<PolicyStatement>,
}

impl Role {
    pub(crate) fn read(resource: &Resource) -> Result<Role, TemplateError> {
        let id = resource.logical_id.as_str();
        let p = &resource.properties;
        let trust = PolicyStatement::read_document(id, p.get("AssumeRolePolicyDocument"))?;
        let mut statements = Vec::new();
        for policy in p
            .get("Policies")
            .map(Value::one_or_many)
            .unwrap_or_default()
        {
            statements.extend(PolicyStatement::read_document(
                id,
                policy.get("PolicyDocument"),
            )?);
        }
        Ok(Role {
            logical_id: id.to_owned(),
            assumed_by: trust
                .iter()
                .flat_map(|s| strings(s.principal.as_ref().and_then(|p| p.get("Service"))))
                .collect(),
            managed_policy_arns: p
                .get("ManagedPolicyArns")
                .map(|a| a.one_or_many().to_vec())
                .unwrap_or_default(),
            statements,
        })
    }
}

/// One IAM policy statement.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyStatement {
    pub sid: Option<String>,
    pub effect: String,
    /// `Action` (or `NotAction` when [`Self::not_action`] is set).
    pub actions: Vec<String>,
    pub not_action: bool,
    /// `Resource` values as written (or `NotResource` when [`Self::not_resource`] is set).
    pub resources: Vec<Value>,
    pub not_resource: bool,
    pub principal: Option<Value>,
    pub condition: Option<Value>,
}

impl PolicyStatement {
    /// Reads `Statement` from a policy document.
    pub fn read_document(
        owner: &str,
        document: Option<&Value>,
    ) -> Result<Vec<PolicyStatement>, TemplateError> {
        let Some(document) = document else {
            return Ok(Vec::new());
        };
        document
            .get("Statement")
            .map(Value::one_or_many)
            .unwrap_or_default()
            .iter()
            .map(|s| PolicyStatement::read(owner, s))
            .collect()
    }

    pub(crate) fn read(owner: &str, s: &Value) -> Result<PolicyStatement, TemplateError> {
        let (actions, not_action) = match (s.get("Action"), s.get("NotAction")) {
            (Some(a), _) => (a, false),
            (None, Some(a)) => (a, true),
            (None, None) => {
                return Err(TemplateError::resource(
                    owner,
                    "a policy statement has no Action",
                ))
            }
        };
        let (resources, not_resource) = match (s.get("Resource"), s.get("NotResource")) {
            (Some(r), _) => (r.one_or_many().to_vec(), false),
            (None, Some(r)) => (r.one_or_many().to_vec(), true),
            (None, None) => (Vec::new(), false),
        };
        Ok(PolicyStatement {
            sid: s.get("Sid").and_then(Value::as_str).map(str::to_owned),
            effect: s
                .get("Effect")
                .and_then(Value::as_str)
                .unwrap_or("Allow")
                .to_owned(),
            actions: actions
                .one_or_many()
                .iter()
                .map(|a| {
                    a.as_str().map(str::to_owned).ok_or_else(|| {
                        TemplateError::resource(
                            owner,
                            format!("a policy action must be a string, found {a:?}"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            not_action,
            resources,
            not_resource,
            principal: s.get("Principal").cloned(),
            condition: s.get("Condition").cloned(),
        })
    }
}
