//! Template values with CloudFormation intrinsic functions made explicit.
//!
//! YAML templates write intrinsics two ways: short-form tags (`!Ref X`, `!GetAtt X.Arn`,
//! `!Sub "..."`) and long-form single-key maps (`Ref: X`, `Fn::GetAtt: [X, Arn]`). Both become
//! the same [`Intrinsic`], so nothing downstream has to care how the template was written.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::value::TaggedValue;

use crate::error::TemplateError;

/// A value in a template: plain data or an intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Intrinsic(Box<Intrinsic>),
}

/// An intrinsic function call, normalised from either YAML form.
#[derive(Debug, Clone, PartialEq)]
pub enum Intrinsic {
    /// `!Ref Name`: a resource, a parameter or a pseudo parameter (`AWS::Region`).
    Ref(String),
    /// `!GetAtt Resource.Attribute` (the attribute may itself contain dots).
    GetAtt { resource: String, attribute: String },
    /// `!Sub template` or `!Sub [template, {variables}]`.
    Sub {
        template: String,
        variables: BTreeMap<String, Value>,
    },
    /// `!Join [delimiter, values]`; `values` is usually a list but may be an intrinsic.
    Join { delimiter: String, values: Value },
    /// `!If [condition, when_true, when_false]`.
    If {
        condition: String,
        when_true: Value,
        when_false: Value,
    },
    /// `!Condition Name` (used inside conditions).
    Condition(String),
    /// Any other function (`Fn::Select`, `Fn::Split`, `Fn::Equals`, ...), by its long name.
    Other { function: String, args: Value },
}

/// What an intrinsic names: a logical id or parameter, and the attribute for `GetAtt`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub name: String,
    pub attribute: Option<String>,
}

impl Reference {
    /// Pseudo parameters such as `AWS::Region` exist in every template.
    pub fn is_pseudo_parameter(&self) -> bool {
        self.name.starts_with("AWS::")
    }
}

/// A piece of a `Fn::Sub` template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubPart {
    Literal(String),
    /// `${Name}` or `${Resource.Attribute}`, with the text between the braces.
    Variable(String),
}

/// Splits a `Fn::Sub` template into literal text and `${...}` variables; `${!Literal}` is the
/// escape for a literal `${Literal}`.
pub fn parse_sub(template: &str) -> Vec<SubPart> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let inner = &after[..end];
                if let Some(escaped) = inner.strip_prefix('!') {
                    literal.push_str("${");
                    literal.push_str(escaped);
                    literal.push('}');
                } else {
                    if !literal.is_empty() {
                        parts.push(SubPart::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(SubPart::Variable(inner.trim().to_owned()));
                }
                rest = &after[end + 1..];
            }
            None => {
                literal.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(SubPart::Literal(literal));
    }
    parts
}

fn split_get_att(dotted: &str) -> Option<(String, String)> {
    let (resource, attribute) = dotted.split_once('.')?;
    (!resource.is_empty() && !attribute.is_empty())
        .then(|| (resource.to_owned(), attribute.to_owned()))
}

/// Long name of a short-form tag: `GetAtt` -> `Fn::GetAtt`, `Ref` -> `Ref`.
fn long_name(short: &str) -> String {
    match short {
        "Ref" | "Condition" => short.to_owned(),
        _ => format!("Fn::{short}"),
    }
}

impl Value {
    /// Converts a parsed YAML value, turning both forms of intrinsic into [`Intrinsic`].
    pub fn from_yaml(yaml: &serde_yaml::Value) -> Result<Value, TemplateError> {
        Ok(match yaml {
            serde_yaml::Value::Null => Value::Null,
            serde_yaml::Value::Bool(b) => Value::Bool(*b),
            serde_yaml::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => match n.as_f64() {
                    Some(f) => Value::Float(f),
                    None => Value::String(n.to_string()),
                },
            },
            serde_yaml::Value::String(s) => Value::String(s.clone()),
            serde_yaml::Value::Sequence(items) => Value::List(
                items
                    .iter()
                    .map(Value::from_yaml)
                    .collect::<Result<_, _>>()?,
            ),
            serde_yaml::Value::Mapping(mapping) => {
                let mut map = BTreeMap::new();
                for (key, value) in mapping {
                    let key = match key {
                        serde_yaml::Value::String(s) => s.clone(),
                        serde_yaml::Value::Number(n) => n.to_string(),
                        serde_yaml::Value::Bool(b) => b.to_string(),
                        other => {
                            return Err(TemplateError::Structure(format!(
                                "map keys must be strings, found {other:?}"
                            )))
                        }
                    };
                    map.insert(key, Value::from_yaml(value)?);
                }
                if map.len() == 1 {
                    if let Some((key, args)) = map.iter().next() {
                        if key == "Ref" || key.starts_with("Fn::") {
                            return Ok(Value::Intrinsic(Box::new(Intrinsic::from_call(
                                key,
                                args.clone(),
                            )?)));
                        }
                    }
                }
                Value::Map(map)
            }
            serde_yaml::Value::Tagged(tagged) => Value::from_tagged(tagged)?,
        })
    }

    fn from_tagged(tagged: &TaggedValue) -> Result<Value, TemplateError> {
        let tag = tagged.tag.to_string();
        let short = tag.trim_start_matches('!');
        let args = Value::from_yaml(&tagged.value)?;
        Ok(Value::Intrinsic(Box::new(Intrinsic::from_call(
            &long_name(short),
            args,
        )?)))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A whole number, also when the template writes it as a string (`"120"`).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(i) => u64::try_from(*i).ok(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A number, also when the template writes it as a string.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            // Thresholds and the like are small; the conversion is exact for them.
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A boolean, also when written as the string `"true"`/`"false"`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_intrinsic(&self) -> Option<&Intrinsic> {
        match self {
            Value::Intrinsic(intrinsic) => Some(intrinsic),
            _ => None,
        }
    }

    /// A list as a slice; a single value as a one-element slice (IAM's `Action: x` vs `[x]`).
    pub fn one_or_many(&self) -> &[Value] {
        match self {
            Value::List(items) => items,
            Value::Null => &[],
            single => std::slice::from_ref(single),
        }
    }

    /// The value under `key` in a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match self {
            Value::Map(map) => map.get_mut(key),
            _ => None,
        }
    }

    /// Follows `/`-separated map keys and list indexes, e.g. `Events/Queue/Properties`.
    pub fn pointer(&self, path: &str) -> Option<&Value> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .try_fold(self, |v, key| match v {
                Value::Map(map) => map.get(key),
                Value::List(items) => items.get(key.parse::<usize>().ok()?),
                _ => None,
            })
    }

    pub fn pointer_mut(&mut self, path: &str) -> Option<&mut Value> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .try_fold(self, |v, key| match v {
                Value::Map(map) => map.get_mut(key),
                Value::List(items) => items.get_mut(key.parse::<usize>().ok()?),
                _ => None,
            })
    }

    /// Sets `key` in a map (turning `Null` into an empty map first); returns the old value.
    pub fn insert(&mut self, key: &str, value: Value) -> Option<Value> {
        if matches!(self, Value::Null) {
            *self = Value::Map(BTreeMap::new());
        }
        match self {
            Value::Map(map) => map.insert(key.to_owned(), value),
            _ => None,
        }
    }

    /// Removes `key` from a map.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        match self {
            Value::Map(map) => map.remove(key),
            _ => None,
        }
    }

    /// The logical id in `!Ref Name`.
    pub fn ref_target(&self) -> Option<&str> {
        match self.as_intrinsic()? {
            Intrinsic::Ref(name) => Some(name),
            _ => None,
        }
    }

    /// The `(resource, attribute)` of `!GetAtt Resource.Attribute`.
    pub fn get_att_target(&self) -> Option<(&str, &str)> {
        match self.as_intrinsic()? {
            Intrinsic::GetAtt {
                resource,
                attribute,
            } => Some((resource, attribute)),
            _ => None,
        }
    }

    /// Everything this value names through intrinsics, at any depth: `Ref` and `GetAtt`
    /// targets and the `${...}` variables of `Sub` (minus the ones the `Sub` defines itself).
    pub fn references(&self) -> BTreeSet<Reference> {
        let mut out = BTreeSet::new();
        self.collect_references(&mut out);
        out
    }

    fn collect_references(&self, out: &mut BTreeSet<Reference>) {
        match self {
            Value::List(items) => items.iter().for_each(|v| v.collect_references(out)),
            Value::Map(map) => map.values().for_each(|v| v.collect_references(out)),
            Value::Intrinsic(intrinsic) => intrinsic.collect_references(out),
            _ => {}
        }
    }

    /// Resolves every intrinsic with `resolver` and returns plain JSON (for the local cloud).
    pub fn resolve(&self, resolver: &dyn Resolver) -> Result<serde_json::Value, ResolveError> {
        Ok(match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|v| v.resolve(resolver))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), v.resolve(resolver)?)))
                    .collect::<Result<_, ResolveError>>()?,
            ),
            Value::Intrinsic(intrinsic) => intrinsic.resolve(resolver)?,
        })
    }

    /// Resolves to a string; numbers and booleans are written as CloudFormation would.
    pub fn resolve_string(&self, resolver: &dyn Resolver) -> Result<String, ResolveError> {
        json_to_string(self.resolve(resolver)?)
    }
}

fn json_to_string(json: serde_json::Value) -> Result<String, ResolveError> {
    match json {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        other => Err(ResolveError::NotAString(other.to_string())),
    }
}

impl Intrinsic {
    /// Builds an intrinsic from its long name and arguments.
    pub fn from_call(function: &str, args: Value) -> Result<Intrinsic, TemplateError> {
        let bad = |expected: &str| {
            TemplateError::Structure(format!("{function} expects {expected}, found {args:?}"))
        };
        Ok(match function {
            "Ref" => Intrinsic::Ref(args.as_str().ok_or_else(|| bad("a name"))?.to_owned()),
            "Condition" => Intrinsic::Condition(
                args.as_str()
                    .ok_or_else(|| bad("a condition name"))?
                    .to_owned(),
            ),
            "Fn::GetAtt" => {
                let (resource, attribute) = match &args {
                    Value::String(dotted) => split_get_att(dotted),
                    Value::List(items) => match items.as_slice() {
                        [Value::String(r), Value::String(a)] => Some((r.clone(), a.clone())),
                        _ => None,
                    },
                    _ => None,
                }
                .ok_or_else(|| bad("Resource.Attribute or [Resource, Attribute]"))?;
                Intrinsic::GetAtt {
                    resource,
                    attribute,
                }
            }
            "Fn::Sub" => match &args {
                Value::String(template) => Intrinsic::Sub {
                    template: template.clone(),
                    variables: BTreeMap::new(),
                },
                Value::List(items) => match items.as_slice() {
                    [Value::String(template), Value::Map(variables)] => Intrinsic::Sub {
                        template: template.clone(),
                        variables: variables.clone(),
                    },
                    _ => return Err(bad("a string or [string, {variables}]")),
                },
                _ => return Err(bad("a string or [string, {variables}]")),
            },
            "Fn::Join" => match &args {
                Value::List(items) => match items.as_slice() {
                    [Value::String(delimiter), values] => Intrinsic::Join {
                        delimiter: delimiter.clone(),
                        values: values.clone(),
                    },
                    _ => return Err(bad("[delimiter, values]")),
                },
                _ => return Err(bad("[delimiter, values]")),
            },
            "Fn::If" => match &args {
                Value::List(items) => match items.as_slice() {
                    [Value::String(condition), when_true, when_false] => Intrinsic::If {
                        condition: condition.clone(),
                        when_true: when_true.clone(),
                        when_false: when_false.clone(),
                    },
                    _ => return Err(bad("[condition, value_if_true, value_if_false]")),
                },
                _ => return Err(bad("[condition, value_if_true, value_if_false]")),
            },
            _ => Intrinsic::Other {
                function: function.to_owned(),
                args,
            },
        })
    }

    /// The long name of the function (`Ref`, `Fn::GetAtt`, ...).
    pub fn function_name(&self) -> &str {
        match self {
            Intrinsic::Ref(_) => "Ref",
            Intrinsic::GetAtt { .. } => "Fn::GetAtt",
            Intrinsic::Sub { .. } => "Fn::Sub",
            Intrinsic::Join { .. } => "Fn::Join",
            Intrinsic::If { .. } => "Fn::If",
            Intrinsic::Condition(_) => "Condition",
            Intrinsic::Other { function, .. } => function,
        }
    }

    fn collect_references(&self, out: &mut BTreeSet<Reference>) {
        match self {
            Intrinsic::Ref(name) => {
                out.insert(Reference {
                    name: name.clone(),
                    attribute: None,
                });
            }
            Intrinsic::GetAtt {
                resource,
                attribute,
            } => {
                out.insert(Reference {
                    name: resource.clone(),
                    attribute: Some(attribute.clone()),
                });
            }
            Intrinsic::Sub {
                template,
                variables,
            } => {
                for part in parse_sub(template) {
                    if let SubPart::Variable(var) = part {
                        if variables.contains_key(&var) {
                            continue;
                        }
                        let reference = match split_get_att(&var) {
                            Some((name, attribute)) => Reference {
                                name,
                                attribute: Some(attribute),
                            },
                            None => Reference {
                                name: var,
                                attribute: None,
                            },
                        };
                        out.insert(reference);
                    }
                }
                variables.values().for_each(|v| v.collect_references(out));
            }
            Intrinsic::Join { values, .. } => values.collect_references(out),
            Intrinsic::If {
                when_true,
                when_false,
                ..
            } => {
                when_true.collect_references(out);
                when_false.collect_references(out);
            }
            Intrinsic::Condition(_) => {}
            Intrinsic::Other { args, .. } => args.collect_references(out),
        }
    }

    fn resolve(&self, resolver: &dyn Resolver) -> Result<serde_json::Value, ResolveError> {
        let unresolved = |what: String| ResolveError::Unresolved(what);
        Ok(match self {
            Intrinsic::Ref(name) => serde_json::Value::String(
                resolver
                    .reference(name)
                    .ok_or_else(|| unresolved(format!("!Ref {name}")))?,
            ),
            Intrinsic::GetAtt {
                resource,
                attribute,
            } => serde_json::Value::String(
                resolver
                    .attribute(resource, attribute)
                    .ok_or_else(|| unresolved(format!("!GetAtt {resource}.{attribute}")))?,
            ),
            Intrinsic::Sub {
                template,
                variables,
            } => {
                let mut out = String::new();
                for part in parse_sub(template) {
                    match part {
                        SubPart::Literal(text) => out.push_str(&text),
                        SubPart::Variable(var) => {
                            let value = match variables.get(&var) {
                                Some(v) => v.resolve_string(resolver)?,
                                None => match split_get_att(&var) {
                                    Some((r, a)) if !var.starts_with("AWS::") => resolver
                                        .attribute(&r, &a)
                                        .ok_or_else(|| unresolved(format!("${{{var}}}")))?,
                                    _ => resolver
                                        .reference(&var)
                                        .ok_or_else(|| unresolved(format!("${{{var}}}")))?,
                                },
                            };
                            out.push_str(&value);
                        }
                    }
                }
                serde_json::Value::String(out)
            }
            Intrinsic::Join { delimiter, values } => {
                let parts = match values.resolve(resolver)? {
                    serde_json::Value::Array(items) => items
                        .into_iter()
                        .map(json_to_string)
                        .collect::<Result<Vec<_>, _>>()?,
                    other => return Err(ResolveError::NotAList(other.to_string())),
                };
                serde_json::Value::String(parts.join(delimiter))
            }
            Intrinsic::If {
                condition,
                when_true,
                when_false,
            } => match resolver.condition(condition) {
                Some(true) => when_true.resolve(resolver)?,
                Some(false) => when_false.resolve(resolver)?,
                None => return Err(unresolved(format!("condition {condition}"))),
            },
            Intrinsic::Other { function, args } if function == "Fn::Select" => {
                let (index, list) = match args.as_list() {
                    Some([index, list]) => (index, list),
                    _ => return Err(ResolveError::Unsupported(format!("{function} {args:?}"))),
                };
                let index = index
                    .resolve_string(resolver)?
                    .parse::<usize>()
                    .map_err(|e| ResolveError::Unsupported(format!("{function} index: {e}")))?;
                match list.resolve(resolver)? {
                    serde_json::Value::Array(items) => items
                        .into_iter()
                        .nth(index)
                        .ok_or_else(|| unresolved(format!("{function} index {index}")))?,
                    other => return Err(ResolveError::NotAList(other.to_string())),
                }
            }
            other => return Err(ResolveError::Unsupported(other.function_name().to_owned())),
        })
    }
}

/// Supplies the values intrinsics stand for (names and ARNs of created resources, parameter
/// values, pseudo parameters).
pub trait Resolver {
    /// `!Ref name` / `${name}`: a resource's physical id, a parameter or a pseudo parameter.
    fn reference(&self, name: &str) -> Option<String>;
    /// `!GetAtt resource.attribute` / `${resource.attribute}`.
    fn attribute(&self, resource: &str, attribute: &str) -> Option<String>;
    /// The value of a template condition, for `!If`.
    fn condition(&self, _name: &str) -> Option<bool> {
        None
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResolveError {
    #[error("cannot resolve {0}: the resolver has no value for it")]
    Unresolved(String),
    #[error("intrinsic function {0} is not supported here")]
    Unsupported(String),
    #[error("expected a string, found {0}")]
    NotAString(String),
    #[error("expected a list, found {0}")]
    NotAList(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Value {
        Value::from_yaml(&serde_yaml::from_str(yaml).unwrap()).unwrap()
    }

    fn get_att(resource: &str, attribute: &str) -> Value {
        Value::Intrinsic(Box::new(Intrinsic::GetAtt {
            resource: resource.into(),
            attribute: attribute.into(),
        }))
    }

    #[test]
    fn short_and_long_forms_parse_to_the_same_intrinsic() {
        assert_eq!(parse("!Ref Table"), parse("Ref: Table"));
        assert_eq!(parse("!GetAtt Queue.Arn"), get_att("Queue", "Arn"));
        assert_eq!(parse("Fn::GetAtt: [Queue, Arn]"), get_att("Queue", "Arn"));
        assert_eq!(parse("!GetAtt [Queue, Arn]"), get_att("Queue", "Arn"));
        assert_eq!(parse("!Sub 'a-${X}'"), parse("Fn::Sub: 'a-${X}'"));
        assert_eq!(parse("!Join ['', [a, b]]"), parse("Fn::Join: ['', [a, b]]"));
    }

    #[test]
    fn get_att_keeps_dots_in_the_attribute() {
        assert_eq!(
            parse("!GetAtt Db.Endpoint.Address"),
            get_att("Db", "Endpoint.Address")
        );
    }

    #[test]
    fn unknown_functions_keep_their_long_name_and_arguments() {
        let v = parse("!Select [0, !GetAZs '']");
        match v.as_intrinsic() {
            Some(Intrinsic::Other { function, args }) => {
                assert_eq!(function, "Fn::Select");
                assert_eq!(args.as_list().map(<[Value]>::len), Some(2));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_map_with_more_keys_than_ref_is_plain_data() {
        assert!(matches!(parse("{Ref: X, Other: 1}"), Value::Map(_)));
    }

    #[test]
    fn sub_templates_split_into_literals_and_variables_with_escapes() {
        assert_eq!(
            parse_sub("arn:${AWS::Partition}:x/${Table.Arn}/${!Literal}"),
            vec![
                SubPart::Literal("arn:".into()),
                SubPart::Variable("AWS::Partition".into()),
                SubPart::Literal(":x/".into()),
                SubPart::Variable("Table.Arn".into()),
                SubPart::Literal("/${Literal}".into()),
            ]
        );
    }

    #[test]
    fn references_cover_ref_get_att_and_sub_variables_but_not_sub_locals() {
        let v = parse("!Sub ['${A}-${B.Arn}-${Local}-${AWS::Region}', {Local: !Ref C}]");
        let names: Vec<_> = v.references().into_iter().map(|r| r.name).collect();
        assert_eq!(names, vec!["A", "AWS::Region", "B", "C"]);
    }

    struct Names;
    impl Resolver for Names {
        fn reference(&self, name: &str) -> Option<String> {
            Some(format!("ref-{name}"))
        }
        fn attribute(&self, resource: &str, attribute: &str) -> Option<String> {
            Some(format!("{resource}-{attribute}"))
        }
        fn condition(&self, name: &str) -> Option<bool> {
            Some(name == "Yes")
        }
    }

    #[test]
    fn resolving_replaces_every_intrinsic() {
        let v = parse(
            "{a: !Ref T, b: !GetAtt Q.Arn, c: !Sub '${T}/${Q.Arn}/${AWS::Region}', \
              d: !Join [',', [x, !Ref T]], e: !If [Yes, 1, 2], f: !Select [1, [p, q]]}",
        );
        let json = v.resolve(&Names).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"a": "ref-T", "b": "Q-Arn", "c": "ref-T/Q-Arn/ref-AWS::Region",
                               "d": "x,ref-T", "e": 1, "f": "q"})
        );
    }

    #[test]
    fn numbers_written_as_strings_still_read_as_numbers() {
        assert_eq!(parse("'120'").as_u64(), Some(120));
        assert_eq!(parse("120").as_u64(), Some(120));
        assert_eq!(parse("-1").as_u64(), None);
    }
}
