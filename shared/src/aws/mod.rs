//! The AWS side of a process: the one `SdkConfig` it builds in `main` ([`sdk_config`]), the
//! HTTPS client every SDK client uses ([`https`]), and the SDK clients made from the config
//! ([`Clients`]). With the `local-cloud` feature, a client can also count its calls
//! ([`counting`], for `orderflow load`); deployment builds have no such hook.

pub mod config;
#[cfg(feature = "local-cloud")]
pub mod counting;
pub mod https;

pub use config::{sdk_config, with_http_client, SSL_CERT_FILE};
#[cfg(feature = "local-cloud")]
pub use counting::COUNT_AWS_CALLS;
pub use https::{https_client, root_certificates};

pub use aws_config::SdkConfig;

/// Makes a process's SDK clients from its one `SdkConfig` (DESIGN §7).
#[derive(Debug, Clone, Copy)]
// A build with no SDK client of ours (the tools' SQS-only builds) makes nothing from it.
#[cfg_attr(
    not(any(feature = "dynamodb", feature = "eventbridge", feature = "sns")),
    allow(dead_code)
)]
pub struct Clients<'a> {
    sdk: &'a SdkConfig,
    #[cfg(feature = "local-cloud")]
    count_calls: bool,
}

impl<'a> Clients<'a> {
    pub fn new(sdk: &'a SdkConfig) -> Self {
        Clients {
            sdk,
            #[cfg(feature = "local-cloud")]
            count_calls: false,
        }
    }

    /// Clients that log one line per AWS call when `on` (`ORDERFLOW_COUNT_AWS_CALLS=1`).
    #[cfg(feature = "local-cloud")]
    pub fn counting_calls(self, on: bool) -> Self {
        Clients {
            count_calls: on,
            ..self
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
                $sdk::Client::from_conf(config.build())
            }
        }
    };
}

client!("dynamodb", dynamodb, aws_sdk_dynamodb);
client!("eventbridge", eventbridge, aws_sdk_eventbridge);
client!("sns", sns, aws_sdk_sns);
