//! The HTTP edge of the API functions (`lambda_http`, `http` feature): which route a request is
//! for ([`route`]), who calls ([`caller`]), the one step that turns a request into a typed
//! command or a problem ([`edge`]), and the answers (RFC 9457 [`Problem`]s, JSON).

mod access;
pub mod edge;
mod problem;
pub mod route;

pub use crate::api::FieldIssue;
pub use access::{caller, token_subject, Access};
pub use problem::{check_body_size, json_response, Problem, PROBLEM_JSON};
