//! The API contract, `infra/openapi.yaml`, as a test oracle: a handler's answer is checked
//! against the operation it answers (status code declared, content type declared for that
//! status, required headers present, body valid against the schema).
//!
//! OpenAPI 3.0 schema objects are read as JSON Schema (draft 4, whose boolean
//! `exclusiveMinimum` OpenAPI 3.0 shares) after `$ref`s into the document are inlined and
//! `nullable: true` is turned into a `null` type.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// `infra/openapi.yaml` in this workspace.
pub fn contract_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/openapi.yaml")
}

/// The workspace's contract, read once per test process.
pub fn contract() -> Result<&'static Contract, String> {
    static CONTRACT: OnceLock<Result<Contract, String>> = OnceLock::new();
    CONTRACT
        .get_or_init(|| {
            let path = contract_path();
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Contract::from_yaml(&text).map_err(|e| format!("{}: {e}", path.display()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// What a response is made of, independent of any HTTP library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An OpenAPI 3.0 document.
#[derive(Debug, Clone)]
pub struct Contract {
    document: Value,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
/// The `x-` extension on a response naming who answers with it: `function` and/or `gateway`.
pub const PRODUCED_BY: &str = "x-orderflow-produced-by";

impl Contract {
    pub fn from_yaml(text: &str) -> Result<Contract, String> {
        let document: Value =
            serde_yaml::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
        let version = document
            .get("openapi")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !version.starts_with("3.0.") {
            return Err(format!(
                "expected an OpenAPI 3.0.x document, found {version:?}"
            ));
        }
        Ok(Contract { document })
    }

    /// Every operation as (upper-case method, path template), in document order.
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, item) in self.paths() {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.push((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    /// The path template of the operation a concrete request (`GET /orders/6f1a…`) is for.
    pub fn route(&self, method: &str, path: &str) -> Option<String> {
        let method = method.to_ascii_lowercase();
        self.paths()
            .filter(|(_, item)| item.get(&method).is_some())
            .map(|(template, _)| template)
            .find(|template| path_matches(template, path))
            .cloned()
    }

    /// The status codes an operation declares, each with who produces it.
    pub fn statuses(
        &self,
        method: &str,
        template: &str,
    ) -> Result<Vec<(String, Vec<String>)>, String> {
        let operation = self.operation(method, template)?;
        let responses = operation
            .get("responses")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{method} {template} declares no responses"))?;
        responses
            .iter()
            .map(|(status, response)| {
                let response = self.resolve(response, 0)?;
                let producers = response
                    .get(PRODUCED_BY)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                Ok((status.clone(), producers))
            })
            .collect()
    }

    /// The status codes of an operation that the function (not API Gateway) answers with:
    /// the ones the handler's unit tests must produce.
    pub fn function_statuses(&self, method: &str, template: &str) -> Result<BTreeSet<u16>, String> {
        let mut out = BTreeSet::new();
        for (status, producers) in self.statuses(method, template)? {
            if producers.iter().any(|p| p == "function") {
                let code = status.parse::<u16>().map_err(|_| {
                    format!("{method} {template}: response {status} made by the function must be a status code, not a range")
                })?;
                out.insert(code);
            }
        }
        Ok(out)
    }

    /// Checks the answer to `method path` against the operation it is for.
    pub fn check(&self, method: &str, path: &str, answer: &Answer) -> Result<(), String> {
        let template = self.route(method, path).ok_or_else(|| {
            format!(
                "{method} {path} is no operation of the API contract (answered {})",
                answer.status
            )
        })?;
        self.check_operation(method, &template, answer)
            .map_err(|e| format!("{method} {path} (operation {method} {template}): {e}"))
    }

    /// Checks the answer to a request API Gateway would never route to a function (no
    /// operation matches): the function must still refuse it as a problem+json.
    pub fn check_unrouted(&self, method: &str, path: &str, answer: &Answer) -> Result<(), String> {
        if let Some(template) = self.route(method, path) {
            return Err(format!(
                "{method} {path} is the operation {method} {template}; check it with `check`"
            ));
        }
        if !(400..=599).contains(&answer.status) {
            return Err(format!(
                "{method} {path} is no operation of the contract but was answered {}",
                answer.status
            ));
        }
        let problem = Value::Object(
            [(
                "$ref".to_owned(),
                Value::String("#/components/schemas/Problem".into()),
            )]
            .into_iter()
            .collect(),
        );
        let media = Value::Object([("schema".to_owned(), problem)].into_iter().collect());
        let content = Value::Object(
            [("application/problem+json".to_owned(), media)]
                .into_iter()
                .collect(),
        );
        self.check_content(&content, answer)
            .map_err(|e| format!("{method} {path} (no operation): {e}"))
    }

    fn check_operation(&self, method: &str, template: &str, answer: &Answer) -> Result<(), String> {
        let operation = self.operation(method, template)?;
        let responses = operation
            .get("responses")
            .and_then(Value::as_object)
            .ok_or("the operation declares no responses")?;
        let status = answer.status.to_string();
        let range = format!("{}XX", answer.status / 100);
        let response = responses
            .get(&status)
            .or_else(|| responses.get(&range))
            .or_else(|| responses.get("default"))
            .ok_or_else(|| {
                let declared: Vec<&str> = responses.keys().map(String::as_str).collect();
                format!(
                    "status {status} is not declared (declared: {}); body: {}",
                    declared.join(", "),
                    String::from_utf8_lossy(&answer.body)
                )
            })?;
        let response = self.resolve(response, 0)?;

        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for (name, header) in headers {
                let required = header.get("required").and_then(Value::as_bool) == Some(true);
                match (answer.header(name), header.get("schema")) {
                    (None, _) if required => {
                        return Err(format!(
                            "status {status}: required header {name} is missing"
                        ))
                    }
                    (Some(value), Some(schema)) => {
                        validate(schema, &Value::String(value.to_owned()))
                            .map_err(|e| format!("status {status}: header {name}: {e}"))?;
                    }
                    _ => {}
                }
            }
        }

        match response.get("content") {
            Some(content) => self
                .check_content(content, answer)
                .map_err(|e| format!("status {status}: {e}")),
            None if answer.body.is_empty() => Ok(()),
            None => Err(format!(
                "status {status} declares no content, but the body is {}",
                String::from_utf8_lossy(&answer.body)
            )),
        }
    }

    /// The body against the schema of its media type (content is already resolved or holds refs).
    fn check_content(&self, content: &Value, answer: &Answer) -> Result<(), String> {
        let content = self.resolve(content, 0)?;
        let declared = content
            .as_object()
            .ok_or("content is not a map of media types")?;
        let raw = answer.header("content-type").unwrap_or("");
        let essence = crate::api::media_type(raw);
        let media = declared
            .iter()
            .find(|(name, _)| name.to_ascii_lowercase() == essence)
            .map(|(_, media)| media)
            .ok_or_else(|| {
                let names: Vec<&str> = declared.keys().map(String::as_str).collect();
                format!(
                    "content type {raw:?} is not declared (declared: {})",
                    names.join(", ")
                )
            })?;
        let Some(schema) = media.get("schema") else {
            return Ok(());
        };
        if !essence.contains("json") {
            return Ok(());
        }
        let body: Value = serde_json::from_slice(&answer.body).map_err(|e| {
            format!(
                "{essence} body is not JSON ({e}): {}",
                String::from_utf8_lossy(&answer.body)
            )
        })?;
        validate(schema, &body).map_err(|e| format!("{essence} body {body}: {e}"))
    }

    fn paths(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.document
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
    }

    fn operation(&self, method: &str, template: &str) -> Result<&Value, String> {
        self.document
            .get("paths")
            .and_then(|p| p.get(template))
            .and_then(|item| item.get(method.to_ascii_lowercase()))
            .ok_or_else(|| format!("the contract has no operation {method} {template}"))
    }

    /// `value` with every `$ref` into this document inlined, and `nullable` made JSON Schema.
    fn resolve(&self, value: &Value, depth: usize) -> Result<Value, String> {
        if depth > 64 {
            return Err("$ref nesting deeper than 64: a cycle?".into());
        }
        match value {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref") {
                    let target = reference
                        .as_str()
                        .and_then(|r| r.strip_prefix('#'))
                        .and_then(|pointer| self.document.pointer(pointer))
                        .ok_or_else(|| {
                            format!("$ref {reference} does not resolve in the document")
                        })?;
                    return self.resolve(target, depth + 1);
                }
                let mut out = Map::new();
                for (key, v) in map {
                    out.insert(key.clone(), self.resolve(v, depth + 1)?);
                }
                if out.remove("nullable") == Some(Value::Bool(true)) {
                    if let Some(Value::String(kind)) = out.get("type").cloned() {
                        out.insert("type".into(), Value::from(vec![kind, "null".to_owned()]));
                    }
                    if let Some(Value::Array(choices)) = out.get_mut("enum") {
                        choices.push(Value::Null);
                    }
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .map(|v| self.resolve(v, depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }
}

fn validate(schema: &Value, instance: &Value) -> Result<(), String> {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| format!("the schema does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Whether a concrete path fits a template (`/orders/{orderId}`): a parameter is one
/// non-empty segment.
fn path_matches(template: &str, path: &str) -> bool {
    let want: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    want.len() == got.len()
        && want.iter().zip(&got).all(|(w, g)| {
            if w.starts_with('{') && w.ends_with('}') {
                !g.is_empty()
            } else {
                w == g
            }
        })
}

#[cfg(feature = "http")]
mod lambda {
    use lambda_http::{Body, Response};

    use super::{Answer, Contract};

    impl From<&Response<Body>> for Answer {
        fn from(response: &Response<Body>) -> Answer {
            Answer {
                status: response.status().as_u16(),
                headers: response
                    .headers()
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.as_str().to_owned(),
                            String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: match response.body() {
                    Body::Text(text) => text.as_bytes().to_vec(),
                    Body::Binary(bytes) => bytes.clone(),
                    _ => Vec::new(),
                },
            }
        }
    }

    impl Contract {
        /// [`Contract::check`] for a `lambda_http` response.
        pub fn check_response(
            &self,
            method: &str,
            path: &str,
            response: &Response<Body>,
        ) -> Result<(), String> {
            self.check(method, path, &Answer::from(response))
        }

        /// [`Contract::check_unrouted`] for a `lambda_http` response.
        pub fn check_unrouted_response(
            &self,
            method: &str,
            path: &str,
            response: &Response<Body>,
        ) -> Result<(), String> {
            self.check_unrouted(method, path, &Answer::from(response))
        }
    }
}

#[cfg(test)]
mod tests;
