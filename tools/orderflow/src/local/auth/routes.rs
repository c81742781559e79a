//! Which JWT authorizer guards each HTTP API route, and with which scopes, as the template
//! declares it: the API's `Auth` (`DefaultAuthorizer`, `Authorizers.<name>.JwtConfiguration`
//! with `issuer` and `audience`, `AuthorizationScopes`) and each event's own `Auth`
//! (`Authorizer`, `NONE` to open the route; `AuthorizationScopes`, which replace the
//! authorizer's). Intrinsics (`!Ref JwtIssuer`) resolve against the deployment.

use std::collections::BTreeMap;
use std::sync::Arc;

use orderflow_template::{EventSource, Resolver, Template, Value};

use super::authorizer::{AuthError, Authorized, JwtAuthorizer};
use super::jwks::CachePolicy;

/// The parameter the template's authorizer takes its issuer from; the local cloud sets it to
/// its own issuer's URL.
pub const ISSUER_PARAMETER: &str = "JwtIssuer";

#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    #[error("template: {0}")]
    Template(#[from] orderflow_template::TemplateError),
    #[error("route {route}: authorizer {name}: {message}")]
    Authorizer {
        route: String,
        name: String,
        message: String,
    },
}

struct RouteAuth {
    authorizer: Arc<JwtAuthorizer>,
    scopes: Vec<String>,
}

/// The API's routes and their authorizers.
#[derive(Default)]
pub struct ApiAuth {
    /// By (method, path), as the routes are declared.
    routes: BTreeMap<(String, String), RouteAuth>,
}

impl ApiAuth {
    pub fn from_template(
        template: &Template,
        resolver: &dyn Resolver,
        policy: CachePolicy,
    ) -> Result<ApiAuth, RoutesError> {
        let mut authorizers: BTreeMap<(String, String), Arc<JwtAuthorizer>> = BTreeMap::new();
        let mut routes = BTreeMap::new();
        for f in template.functions()? {
            for event in &f.events {
                let EventSource::HttpApi(http) = &event.source else {
                    continue;
                };
                let api = match &http.api {
                    Some(id) => template.resources.get(id).map(|r| &r.properties),
                    // SAM's implicit API takes its settings from `Globals/HttpApi`.
                    None => template.globals.get("HttpApi"),
                };
                let api_auth = api.and_then(|a| a.get("Auth"));
                let event_auth = f
                    .properties
                    .pointer(&format!("Events/{}/Properties/Auth", event.name));
                let name = event_auth
                    .and_then(|a| a.get("Authorizer"))
                    .or_else(|| api_auth.and_then(|a| a.get("DefaultAuthorizer")))
                    .and_then(Value::as_str);
                let Some(name) = name.filter(|n| *n != "NONE") else {
                    continue;
                };
                let route = format!("{} {}", http.method, http.path);
                let err = |message: String| RoutesError::Authorizer {
                    route: route.clone(),
                    name: name.to_owned(),
                    message,
                };
                let definition = api_auth
                    .and_then(|a| a.pointer(&format!("Authorizers/{name}")))
                    .ok_or_else(|| err("not declared in the API's Auth/Authorizers".into()))?;
                let key = (http.api.clone().unwrap_or_default(), name.to_owned());
                let authorizer = match authorizers.get(&key) {
                    Some(a) => a.clone(),
                    None => {
                        let a =
                            Arc::new(jwt_authorizer(definition, resolver, policy).map_err(err)?);
                        authorizers.insert(key, a.clone());
                        a
                    }
                };
                let scopes = event_auth
                    .and_then(|a| a.get("AuthorizationScopes"))
                    .or_else(|| definition.get("AuthorizationScopes"))
                    .map(|s| strings(s, resolver))
                    .transpose()
                    .map_err(err)?
                    .unwrap_or_default();
                routes.insert(
                    (http.method.clone(), http.path.clone()),
                    RouteAuth { authorizer, scopes },
                );
            }
        }
        Ok(ApiAuth { routes })
    }

    /// Puts the route `method path` behind `authorizer`, asking for `scopes` (none: any valid
    /// token), for an API not read from a template.
    pub fn guard(
        &mut self,
        method: &str,
        path: &str,
        authorizer: Arc<JwtAuthorizer>,
        scopes: Vec<String>,
    ) {
        self.routes.insert(
            (method.to_owned(), path.to_owned()),
            RouteAuth { authorizer, scopes },
        );
    }

    /// Checks a request to the route `method path` (as declared): `None` when no authorizer
    /// guards it.
    pub async fn authorize(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        now: i64,
    ) -> Result<Option<Authorized>, AuthError> {
        let Some(route) = self.routes.get(&(method.to_owned(), path.to_owned())) else {
            return Ok(None);
        };
        route
            .authorizer
            .authorize(authorization, &route.scopes, now)
            .await
            .map(Some)
    }

    /// Every (issuer, audiences) the routes trust.
    pub fn trusted(&self) -> Vec<(String, Vec<String>)> {
        let mut all: Vec<_> = self
            .routes
            .values()
            .map(|r| (r.authorizer.issuer.clone(), r.authorizer.audiences.clone()))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The scopes `method path` asks for.
    pub fn scopes(&self, method: &str, path: &str) -> Option<&[String]> {
        self.routes
            .get(&(method.to_owned(), path.to_owned()))
            .map(|r| r.scopes.as_slice())
    }
}

fn jwt_authorizer(
    definition: &Value,
    resolver: &dyn Resolver,
    policy: CachePolicy,
) -> Result<JwtAuthorizer, String> {
    let config = definition
        .get("JwtConfiguration")
        .ok_or("has no JwtConfiguration: the local cloud plays JWT authorizers only".to_owned())?;
    let issuer = config
        .get("issuer")
        .ok_or("JwtConfiguration has no issuer".to_owned())?
        .resolve_string(resolver)
        .map_err(|e| format!("issuer: {e}"))?;
    let audiences = config
        .get("audience")
        .map(|a| strings(a, resolver))
        .transpose()?
        .unwrap_or_default();
    Ok(JwtAuthorizer::with_policy(&issuer, audiences, policy))
}

/// A list of strings (or one string), resolved.
fn strings(value: &Value, resolver: &dyn Resolver) -> Result<Vec<String>, String> {
    value
        .one_or_many()
        .iter()
        .map(|v| v.resolve_string(resolver).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::local::resources::Deployment;

    fn deployment(parameters: &[(&str, &str)]) -> Deployment {
        Deployment {
            stack: "orderflow-local".into(),
            region: "eu-west-1".into(),
            parameters: parameters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            resources: BTreeMap::new(),
            inboxes: BTreeMap::new(),
        }
    }

    fn read(template: &Template, parameters: &[(&str, &str)]) -> ApiAuth {
        ApiAuth::from_template(template, &deployment(parameters), CachePolicy::default()).unwrap()
    }

    #[test]
    fn the_projects_template_guards_the_order_routes_with_its_issuer_and_audience_parameters() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
        let template = Template::from_path(path).unwrap();
        let auth = read(
            &template,
            &[
                (ISSUER_PARAMETER, "http://127.0.0.1:1"),
                ("JwtAudience", "app-client"),
            ],
        );
        assert_eq!(
            auth.trusted(),
            [(
                "http://127.0.0.1:1".to_owned(),
                vec!["app-client".to_owned()]
            )]
        );
        assert_eq!(auth.scopes("POST", "/orders"), Some(&[][..]));
        assert_eq!(auth.scopes("GET", "/orders/{orderId}"), Some(&[][..]));
        assert_eq!(auth.scopes("GET", "/products"), None, "Authorizer: NONE");
    }

    const SCOPED: &str = r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  JwtIssuer: {Type: String}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Users
        Authorizers:
          Users:
            AuthorizationScopes: [orders/read]
            JwtConfiguration:
              issuer: !Ref JwtIssuer
              audience: [web-client, mobile-client]
  Orders:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: orders}}
    Properties:
      Events:
        Read: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: "/orders/{id}"}}
        Write:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: POST
            Path: /orders
            Auth: {AuthorizationScopes: [orders/write, orders/admin]}
        Public:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: /products, Auth: {Authorizer: NONE}}
"#;

    #[tokio::test]
    async fn route_scopes_replace_the_authorizers_and_none_opens_a_route() {
        let template = Template::from_yaml_str(SCOPED).unwrap();
        let auth = read(&template, &[(ISSUER_PARAMETER, "http://127.0.0.1:1")]);
        assert_eq!(
            auth.trusted(),
            [(
                "http://127.0.0.1:1".to_owned(),
                vec!["web-client".to_owned(), "mobile-client".to_owned()]
            )]
        );
        assert_eq!(
            auth.scopes("GET", "/orders/{id}"),
            Some(&["orders/read".to_owned()][..])
        );
        assert_eq!(
            auth.scopes("POST", "/orders"),
            Some(&["orders/write".to_owned(), "orders/admin".to_owned()][..])
        );
        // An open route passes without a token, before any key is fetched.
        assert_eq!(auth.authorize("GET", "/products", None, 0).await, Ok(None));
        assert_eq!(
            auth.authorize("GET", "/orders/{id}", None, 0).await,
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn a_route_naming_an_undeclared_or_non_jwt_authorizer_is_an_error() {
        let undeclared = SCOPED.replace("DefaultAuthorizer: Users", "DefaultAuthorizer: Admins");
        let template = Template::from_yaml_str(&undeclared).unwrap();
        let err = ApiAuth::from_template(
            &template,
            &deployment(&[(ISSUER_PARAMETER, "http://127.0.0.1:1")]),
            CachePolicy::default(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("Admins"), "{err}");
        let lambda = SCOPED.replace("JwtConfiguration:", "FunctionArn: arn:x\n            X:");
        let template = Template::from_yaml_str(&lambda).unwrap();
        let err = ApiAuth::from_template(
            &template,
            &deployment(&[(ISSUER_PARAMETER, "http://127.0.0.1:1")]),
            CachePolicy::default(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("JWT authorizers only"), "{err}");
    }
}
