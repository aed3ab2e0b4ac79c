//! Sample authorization details types (RFC 9396 §2) for tests and fuzzing.

use portcullis_core::{AuthorizationDetail, AuthorizationDetailsType, AuthorizationDetailsTypes};

/// `payment_initiation` (RFC 9396 §2.1), simplified: a string `creditorName` is required
/// and `instructedAmount.amount` must be a positive number in a string; a granted payment
/// covers one to the same creditor for at most its amount.
#[derive(Debug, Clone, Copy)]
pub struct SamplePayment;

fn amount(d: &AuthorizationDetail) -> Option<f64> {
    d.get("instructedAmount")?
        .get("amount")?
        .as_str()?
        .parse()
        .ok()
}

impl AuthorizationDetailsType for SamplePayment {
    fn validate(&self, d: &AuthorizationDetail) -> Result<(), String> {
        if !d.get("creditorName").is_some_and(|n| n.is_string()) {
            return Err("creditorName is required".into());
        }
        match amount(d) {
            Some(a) if a > 0.0 => Ok(()),
            _ => Err("instructedAmount.amount must be positive".into()),
        }
    }

    fn covers(&self, granted: &AuthorizationDetail, requested: &AuthorizationDetail) -> bool {
        granted.get("creditorName") == requested.get("creditorName")
            && amount(requested) <= amount(granted)
    }
}

/// Accepts every well-shaped element; covers only an equal one (the default rule).
#[derive(Debug, Clone, Copy)]
pub struct AcceptAll;

impl AuthorizationDetailsType for AcceptAll {
    fn validate(&self, _: &AuthorizationDetail) -> Result<(), String> {
        Ok(())
    }
}

/// `payment_initiation` ([`SamplePayment`]) and `account_information` ([`AcceptAll`]).
pub fn sample_authorization_details_types() -> AuthorizationDetailsTypes {
    AuthorizationDetailsTypes::default()
        .with("payment_initiation", SamplePayment)
        .with("account_information", AcceptAll)
}
