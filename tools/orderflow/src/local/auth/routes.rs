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
