//! The AWS side of a process: the one `SdkConfig` it builds in `main` ([`sdk_config`]), the
//! HTTPS client every SDK client uses ([`https`]), and the SDK clients made from the config
//! ([`Clients`]). With the `local-cloud` feature, a client can also count its calls
//! ([`counting`], for `orderflow load`) and end its process between two steps ([`crash`],
//! `ORDERFLOW_FAULTS=crash_between_steps=N`); deployment builds have no such hook.

pub mod config;
#[cfg(feature = "local-cloud")]
pub mod counting;
#[cfg(feature = "local-cloud")]
pub mod crash;
pub mod https;

pub use config::{sdk_config, with_http_client, SSL_CERT_FILE};
#[cfg(feature = "local-cloud")]
pub use counting::COUNT_AWS_CALLS;
#[cfg(feature = "local-cloud")]
pub use crash::CrashBetweenSteps;
pub use https::{https_client, root_certificates};

pub use aws_config::SdkConfig;

/// Makes a process's SDK clients from its one `SdkConfig` (DESIGN §7).
#[derive(Debug, Clone)]
// A build with no SDK client of ours (the tools' SQS-only builds) makes nothing from it.
#[cfg_attr(
    not(any(feature = "dynamodb", feature = "eventbridge", feature = "sns")),
    allow(dead_code)
)]
pub struct Clients<'a> {
    sdk: &'a SdkConfig,
    #[cfg(feature = "local-cloud")]
    count_calls: bool,
    #[cfg(feature = "local-cloud")]
    crash: Option<crash::CrashBetweenSteps>,
}

impl<'a> Clients<'a> {
    /// In a local-cloud build, the clients also log one line per AWS call when
    /// `ORDERFLOW_COUNT_AWS_CALLS=1`, and end the process between steps when `ORDERFLOW_FAULTS`
    /// asks for `crash_between_steps` (both read here, once, in `main`: every function gets them
    /// through the one place its clients are made, with no code of its own).
    pub fn new(sdk: &'a SdkConfig) -> Self {
        Clients {
            sdk,
            #[cfg(feature = "local-cloud")]
            count_calls: counting::enabled(&crate::config::env),
            #[cfg(feature = "local-cloud")]
            crash: crash::CrashBetweenSteps::from_lookup(&crate::config::env),
        }
    }
}

macro_rules! client {
    ($feature:literal, $name:ident, $sdk:ident) => {
        #[cfg(feature = $feature)]
        impl Clients<'_> {
            pub fn $name(&self) -> $sdk::Client {
                let config = $sdk::config::Builder::from(self.sdk);
                #[cfg(feature = "local-cloud")]
                let config = if self.count_calls {
                    config.interceptor(counting::CountCalls)
                } else {
                    config
                };
                // After the counter, so a call that ends the process is counted first.
                #[cfg(feature = "local-cloud")]
                let config = match &self.crash {
                    Some(crash) => config.interceptor(crash.clone()),
                    None => config,
                };
                $sdk::Client::from_conf(config.build())
            }
        }
    };
}

client!("dynamodb", dynamodb, aws_sdk_dynamodb);
client!("eventbridge", eventbridge, aws_sdk_eventbridge);
client!("sns", sns, aws_sdk_sns);
