//! The sample authorization details type (RFC 9396 §2.1): `payment_initiation`, registered
//! when the configuration lists it in `authorization_details_types`.

use portcullis::core::{AuthorizationDetail, AuthorizationDetailsType, AuthorizationDetailsTypes};

/// The types this example knows how to validate.
pub(crate) const KNOWN_TYPES: [&str; 1] = [PAYMENT_INITIATION];

const PAYMENT_INITIATION: &str = "payment_initiation";

/// `payment_initiation` as RFC 9396 §2.1 shows it: `actions` among `initiate`, `status`
/// and `cancel`; `instructedAmount` with a three-letter upper-case `currency` and a
/// positive decimal `amount` string; a non-empty `creditorName`. Other members (the
/// creditor's account, the remittance text) are kept as sent. A granted payment covers only
/// an equal one (the default subset rule).
struct PaymentInitiation;

impl AuthorizationDetailsType for PaymentInitiation {
    fn validate(&self, detail: &AuthorizationDetail) -> Result<(), String> {
        let actions = detail.strings("actions");
        if let Some(a) = actions
            .iter()
            .find(|a| !["initiate", "status", "cancel"].contains(a))
        {
            return Err(format!("unknown action {a}"));
        }
        let amount = detail.get("instructedAmount");
        let currency = amount.and_then(|a| a.get("currency")?.as_str());
        if !currency.is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err("instructedAmount.currency must be an ISO 4217 code".into());
        }
        let value = amount.and_then(|a| a.get("amount")?.as_str());
        if !value.is_some_and(is_positive_decimal) {
            return Err("instructedAmount.amount must be a positive decimal string".into());
        }
        match detail.get("creditorName").and_then(|n| n.as_str()) {
            Some(name) if !name.trim().is_empty() => Ok(()),
            _ => Err("creditorName is required".into()),
        }
    }
}

/// `123`, `123.5`, `0.01`: digits with at most two decimals, above zero.
fn is_positive_decimal(s: &str) -> bool {
    let (units, cents) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    !units.is_empty()
        && units.len() <= 12
        && cents.len() <= 2
        && cents.is_empty() != s.contains('.')
        && digits(units)
        && digits(cents)
        && s.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// The registry of the configured type names (each one of [`KNOWN_TYPES`]).
pub(crate) fn registry<'a>(
    names: impl IntoIterator<Item = &'a String>,
) -> AuthorizationDetailsTypes {
    names.into_iter().fold(
        AuthorizationDetailsTypes::default(),
        |types, name| match name.as_str() {
            PAYMENT_INITIATION => types.with(PAYMENT_INITIATION, PaymentInitiation),
            _ => types,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<usize, String> {
        registry(&["payment_initiation".to_owned()])
            .parse(json, None)
            .map(|d| d.len())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_rfc_example_passes_and_each_rule_is_enforced() {
        let good = r#"[{"type":"payment_initiation","actions":["initiate","status","cancel"],
            "locations":["https://example.com/payments"],
            "instructedAmount":{"currency":"EUR","amount":"123.50"},
            "creditorName":"Merchant A",
            "creditorAccount":{"iban":"DE02100100109307118603"},
            "remittanceInformationUnstructured":"Ref Number Merchant"}]"#;
        assert_eq!(check(good), Ok(1));
        for (bad, reason) in [
            (
                good.replace("\"cancel\"", "\"refund\""),
                "unknown action refund",
            ),
            (
                good.replace("EUR", "eur"),
                "instructedAmount.currency must be an ISO 4217 code",
            ),
            (
                good.replace("123.50", "-1"),
                "instructedAmount.amount must be a positive decimal string",
            ),
            (
                good.replace("123.50", "0.00"),
                "instructedAmount.amount must be a positive decimal string",
            ),
            (
                good.replace("123.50", "1.505"),
                "instructedAmount.amount must be a positive decimal string",
            ),
            (
                good.replace("123.50", "12."),
                "instructedAmount.amount must be a positive decimal string",
            ),
            (good.replace("Merchant A", " "), "creditorName is required"),
        ] {
            assert_eq!(
                check(&bad),
                Err(format!("authorization_details refused: {reason}")),
                "{bad}"
            );
        }
        for ok in ["1", "0.01", "999999999999.99"] {
            assert!(is_positive_decimal(ok), "{ok}");
        }
        for bad in ["", ".5", "1.", "1e3", "0", "1234567890123"] {
            assert!(!is_positive_decimal(bad), "{bad}");
        }
    }
}
