//! The bundled payment provider: deterministic, so the chain is testable anywhere.
//! `tok_declined` declines, `tok_gateway_error` fails transiently, every other token approves.

use async_trait::async_trait;

use crate::ports::{ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway};
use crate::telemetry::messages::{PROVIDER_CHARGE_APPROVED, PROVIDER_CHARGE_DECLINED};

pub const DECLINED_TOKEN: &str = "tok_declined";
pub const GATEWAY_ERROR_TOKEN: &str = "tok_gateway_error";

#[derive(Debug, Default, Clone, Copy)]
pub struct SimulatedGateway;

#[async_trait]
impl PaymentGateway for SimulatedGateway {
    async fn charge(&self, request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        let outcome = Self::decide(request);
        // The provider's own record of what it did: `orderflow chaos` counts charges per order
        // from these lines (a real provider's dashboard plays this part).
        match &outcome {
            Ok(ChargeOutcome::Approved { charge_id }) => tracing::info!(
                provider = "simulated",
                order_id = %request.order_id,
                idempotency_key = %request.idempotency_key,
                charge_id = %charge_id,
                amount = request.amount.amount,
                "{PROVIDER_CHARGE_APPROVED}"
            ),
            Ok(ChargeOutcome::Declined { .. }) => tracing::info!(
                provider = "simulated",
                order_id = %request.order_id,
                "{PROVIDER_CHARGE_DECLINED}"
            ),
            Err(_) => {}
        }
        outcome
    }
}

impl SimulatedGateway {
    fn decide(request: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        match request.token.as_str() {
            DECLINED_TOKEN => Ok(ChargeOutcome::Declined {
                reason: "card declined by issuer".into(),
            }),
            GATEWAY_ERROR_TOKEN => Err(GatewayError::Transient(
                "simulated provider outage (tok_gateway_error)".into(),
            )),
            // The charge id derives from the idempotency key, as a real provider's would
            // when the same key is presented twice.
            _ => Ok(ChargeOutcome::Approved {
                charge_id: format!("ch_{}", request.idempotency_key.replace('-', "")),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, Money, OrderId, PaymentToken};

    fn request(token: &str) -> ChargeRequest {
        let order_id = OrderId::new();
        ChargeRequest {
            idempotency_key: order_id.to_string(),
            order_id,
            amount: Money::new(100, Currency::EUR),
            token: PaymentToken::parse(token).unwrap(),
        }
    }

    #[tokio::test]
    async fn the_simulated_gateway_approves_declines_and_fails_by_token() {
        let gw = SimulatedGateway;
        assert!(matches!(
            gw.charge(&request("tok_visa")).await,
            Ok(ChargeOutcome::Approved { .. })
        ));
        assert!(matches!(
            gw.charge(&request(DECLINED_TOKEN)).await,
            Ok(ChargeOutcome::Declined { .. })
        ));
        assert!(matches!(
            gw.charge(&request(GATEWAY_ERROR_TOKEN)).await,
            Err(GatewayError::Transient(_))
        ));
    }

    #[tokio::test]
    async fn the_same_idempotency_key_gets_the_same_charge_id() {
        let gw = SimulatedGateway;
        let req = request("tok_mastercard");
        assert_eq!(gw.charge(&req).await, gw.charge(&req).await);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_approved_charge_is_logged_as_the_tools_read_it() {
        use crate::telemetry::messages::{CHARGE_ID, ORDER_ID};
        let logs = crate::testing::CapturedLogs::start();
        let req = request("tok_visa");
        let Ok(ChargeOutcome::Approved { charge_id }) = SimulatedGateway.charge(&req).await else {
            panic!("tok_visa approves")
        };
        let approved: Vec<_> = logs
            .lines()
            .into_iter()
            .filter(|l| l["message"] == PROVIDER_CHARGE_APPROVED)
            .collect();
        assert_eq!(approved.len(), 1, "{approved:?}");
        assert_eq!(approved[0][ORDER_ID], req.order_id.as_str());
        assert_eq!(approved[0][CHARGE_ID], charge_id.as_str());
    }
}
