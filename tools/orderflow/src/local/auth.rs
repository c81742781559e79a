//! The local cloud's JWT authorizer (`orderflow local up --auth`) and the identity provider it
//! trusts, played as on AWS: the provider publishes an OpenID discovery document and a JWKS,
//! and signs RS256; API Gateway's JWT authorizer reads the keys through the discovery document
//! and checks each request's token before a route's function runs.
//!
//! - [`issuer`]: the local identity provider — RSA keys kept in the state folder, its JWKS and
//!   discovery document, Cognito-shaped tokens ([`tokens`]);
//! - [`server`]: it, published on 127.0.0.1;
//! - [`jwks`]: the authorizer's cached copy of an issuer's keys;
//! - [`authorizer`]: one JWT authorizer's checks, by API Gateway's rules; [`claims`]: the
//!   claims as the function receives them;
//! - [`routes`]: which authorizer and scopes guard each route, from the template;
//! - [`start`](mod@start): all of it started for `local up --auth`.

pub mod authorizer;
pub mod claims;
pub mod issuer;
pub mod jwks;
pub mod routes;
pub mod server;
pub mod start;
pub mod tokens;

pub use authorizer::{AuthError, Authorized, JwtAuthorizer};
pub use issuer::{IssuerError, LocalIssuer, AUTH_FILE};
pub use jwks::CachePolicy;
pub use routes::{ApiAuth, ISSUER_PARAMETER};
pub use server::IssuerServer;
pub use start::{start, LocalAuth, StartError};
pub use tokens::TokenKind;
