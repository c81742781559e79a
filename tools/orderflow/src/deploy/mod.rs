//! `orderflow deploy local`: the template deployed for real — `sam deploy --config-env local`
//! into MiniStack, an independent AWS emulator — and the HTTP API it does not serve (MiniStack
//! does not import an HTTP API's OpenAPI body, docs/DEPLOY-NOTES.md §4) served on 127.0.0.1 by
//! the local cloud's own API Gateway, its routes invoking the deployed functions.
//!
//! - [`ministack`]: MiniStack in a process group of its own: started, waited for, stopped;
//! - [`build`]: what is deployed — release bootstraps through `sam build`, or the debug
//!   binaries already built, staged ([`stage`]: the template rewritten to point at them);
//! - [`sam`]: the artifact bucket and `sam deploy`;
//! - [`stack`]: the deployed stack read back: status, outputs, resources;
//! - [`lambda`]: Lambda `Invoke` behind the HTTP API's routes;
//! - [`up`](mod@up): the steps in order, into a running [`Deployed`];
//! - [`command`]: the `orderflow deploy` subcommands.

pub mod build;
pub mod command;
pub mod lambda;
pub mod ministack;
pub mod sam;
pub mod stack;
pub mod stage;
pub mod up;

pub use stack::{StackDescription, StackError};
pub use up::{deploy, DeployOptions, Deployed};

/// Why a deployment did not reach `ready`.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("MiniStack: {0}")]
    MiniStack(String),
    #[error("{step}: {message}")]
    Step { step: &'static str, message: String },
    #[error("{0}")]
    Stack(#[from] StackError),
    #[error("template {path}: {message}")]
    Template { path: String, message: String },
    #[error("cannot listen on 127.0.0.1:{port} for the API: {source}; pass --api-port")]
    ApiPort { port: u16, source: std::io::Error },
    #[error("{0}")]
    Local(#[from] crate::local::UpError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl DeployError {
    fn step(step: &'static str, message: impl std::fmt::Display) -> DeployError {
        DeployError::Step {
            step,
            message: message.to_string(),
        }
    }
}
