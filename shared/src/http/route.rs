//! Which route a request is for. API Gateway's HTTP API names it in the request context
//! (`routeKey`: `"POST /orders"`, `"GET /orders/{orderId}"`, with `pathParameters`) whatever
//! the path carries in front of it: lambda_http puts a named stage into the path
//! (`/prod/orders`), and a custom domain's base-path mapping adds its own prefix
//! (`/shop/orders`). So the route key decides, and the path only has to end with the route.
//! Without a route key (or with the catch-all `$default`), the path with the stage stripped
//! must be the route.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// A matched route: its template and its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'t> {
    template: &'t str,
    params: Vec<(String, String)>,
}

impl<'t> Route<'t> {
    /// The path template, as in the contract (`/orders/{orderId}`).
    pub fn template(&self) -> &'t str {
        self.template
    }

    /// A path parameter (`orderId`), decoded as API Gateway passed it when it did.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The route among `templates` (path templates such as `/orders/{orderId}`) that `request` is
/// for, if any. The method is the caller's to check.
pub fn route<'t>(request: &Request, templates: &[&'t str]) -> Option<Route<'t>> {
    let path = request.uri().path();
    let (route_key, stage) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            (context.route_key.as_deref(), context.stage.as_deref())
        }
        _ => (None, None),
    };
    let named = route_key
        .and_then(|key| key.split_once(' '))
        .and_then(|(_, template)| templates.iter().find(|t| **t == template));
    let Some(template) = named else {
        let path = strip_stage(path, stage);
        return templates.iter().find_map(|t| matches(t, &segments(path)));
    };
    // The route key names the route: whatever comes before it in the path is API Gateway's.
    let tail = segments(path);
    let count = segments(template).len();
    let mut route = matches(template, tail.get(tail.len().checked_sub(count)?..)?)?;
    // API Gateway's path parameters are decoded; the raw path segments are not.
    if let Some(given) = request.path_parameters_ref() {
        for (name, value) in &mut route.params {
            if let Some(decoded) = given.first(name) {
                decoded.clone_into(value);
            }
        }
    }
    Some(route)
}

/// The path without a named stage's prefix (`/prod/orders` → `/orders`).
fn strip_stage<'p>(path: &'p str, stage: Option<&str>) -> &'p str {
    let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") else {
        return path;
    };
    match path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

/// `/orders/abc/` → `["orders", "abc"]` (a trailing slash is ignored).
fn segments(path: &str) -> Vec<&str> {
    let path = path.trim_end_matches('/');
    path.strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .filter(|_| !path.is_empty())
        .collect()
}

/// `template` against exactly these segments: literal segments equal, `{name}` any non-empty
/// segment.
fn matches<'t>(template: &'t str, path: &[&str]) -> Option<Route<'t>> {
    let wanted = segments(template);
    if wanted.len() != path.len() {
        return None;
    }
    let mut params = Vec::new();
    for (want, got) in wanted.iter().zip(path) {
        match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            Some(name) if !got.is_empty() => params.push((name.to_owned(), (*got).to_owned())),
            Some(_) => return None,
            None if want == got => {}
            None => return None,
        }
    }
    Some(Route { template, params })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{http_fixture, http_fixture_with};
    use serde_json::json;

    const QUERIES: [&str; 2] = ["/products", "/orders/{orderId}"];
    const ORDER_ID: &str = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";

    /// `name` as API Gateway sends it on stage `stage` with `raw_path`.
    fn on_stage(name: &str, stage: &str, raw_path: &str) -> Request {
        http_fixture_with(name, |event| {
            event["requestContext"]["stage"] = json!(stage);
            event["rawPath"] = json!(raw_path);
        })
        .unwrap()
    }

    fn template_of(request: &Request) -> Option<&'static str> {
        route(request, &QUERIES).map(|r| r.template())
    }

    #[test]
    fn on_the_default_stage_the_path_is_the_route() {
        let request = http_fixture("apigw-get-order.json").unwrap();
        let route = route(&request, &QUERIES).unwrap();
        assert_eq!(route.template(), "/orders/{orderId}");
        assert_eq!(route.param("orderId"), Some(ORDER_ID));
        let products = http_fixture("apigw-get-products.json").unwrap();
        assert_eq!(template_of(&products), Some("/products"));
    }

    #[test]
    fn on_a_named_stage_the_route_key_decides_although_the_path_starts_with_the_stage() {
        let request = on_stage("apigw-get-products.json", "prod", "/prod/products");
        assert_eq!(request.uri().path(), "/prod/products");
        assert_eq!(template_of(&request), Some("/products"));
        // lambda_http adds the stage when API Gateway left it out of rawPath.
        let order = on_stage(
            "apigw-get-order.json",
            "prod",
            &format!("/orders/{ORDER_ID}"),
        );
        assert_eq!(order.uri().path(), format!("/prod/orders/{ORDER_ID}"));
        let route = route(&order, &QUERIES).unwrap();
        assert_eq!(route.param("orderId"), Some(ORDER_ID));
    }

    #[test]
    fn behind_a_base_path_mapping_the_route_key_decides() {
        let request = on_stage(
            "apigw-get-order.json",
            "$default",
            &format!("/shop/v1/orders/{ORDER_ID}"),
        );
        let route = route(&request, &QUERIES).unwrap();
        assert_eq!(route.template(), "/orders/{orderId}");
        assert_eq!(route.param("orderId"), Some(ORDER_ID));
        let staged = on_stage("apigw-get-products.json", "prod", "/shop/products");
        assert_eq!(staged.uri().path(), "/prod/shop/products");
        assert_eq!(template_of(&staged), Some("/products"));
    }

    #[test]
    fn without_a_route_key_the_stage_is_stripped_from_the_path() {
        for route_key in [json!(null), json!("$default")] {
            let request = http_fixture_with("apigw-get-products.json", |event| {
                event["requestContext"]["stage"] = json!("prod");
                event["requestContext"]["routeKey"] = route_key.clone();
                event["routeKey"] = route_key.clone();
            })
            .unwrap();
            assert_eq!(request.uri().path(), "/prod/products");
            assert_eq!(template_of(&request), Some("/products"), "{route_key}");
        }
        assert_eq!(strip_stage("/prod", Some("prod")), "/");
        assert_eq!(strip_stage("/production/x", Some("prod")), "/production/x");
        assert_eq!(strip_stage("/orders", Some("$default")), "/orders");
    }

    #[test]
    fn a_path_that_does_not_end_with_its_route_matches_nothing() {
        let mut request = http_fixture("apigw-get-products.json").unwrap();
        *request.uri_mut() = "/nothing-here".parse().unwrap();
        assert_eq!(template_of(&request), None);
        let mut extra = http_fixture("apigw-get-order.json").unwrap();
        *extra.uri_mut() = format!("/orders/{ORDER_ID}/more").parse().unwrap();
        assert_eq!(template_of(&extra), None);
    }

    #[test]
    fn a_trailing_slash_is_the_same_route_and_an_empty_parameter_is_none() {
        assert!(matches("/orders", &segments("/orders/")).is_some());
        assert!(matches("/orders/{orderId}", &segments("/orders/")).is_none());
        assert!(matches("/orders/{orderId}", &segments("/orders//")).is_none());
        assert_eq!(segments("/"), Vec::<&str>::new());
    }
}
