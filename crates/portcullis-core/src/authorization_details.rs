//! Rich authorization requests (RFC 9396): the `authorization_details` parameter, the types
//! a host registers with their validators, and how a grant's details narrow.
//!
//! A request's details are parsed once, at the endpoint that receives them (authorization,
//! PAR or token endpoint), and every element must be of a type the host registered (§2,
//! §5). The host approves some or all of them on the consent page; tokens carry what was
//! approved, and a token request may narrow it but never widen it (§6).
//!
//! **Subset rule.** A requested element is covered by a granted one when both have the same
//! `type` and that type's [`AuthorizationDetailsType::covers`] says so; by default only an
//! equal element covers (every member the same), so nothing a validator has not reasoned
//! about can be widened.
//!
//! **Without a user.** A type is granted only with a user's approval unless the host
//! registers it for grants without one ([`AuthorizationDetailsTypes::with_grant_without_user`]):
//! RFC 9396 §6.3 lets `client_credentials` carry details, but a type meant for the user's
//! consent (a payment from their account, say) must not be granted by a client on its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{AuthorizeErrorCode, OAuthError, TokenErrorCode};

/// Longest `authorization_details` parameter accepted, in bytes (like `claims`).
pub const MAX_AUTHORIZATION_DETAILS_LEN: usize = 8 * 1024;

/// Most elements an `authorization_details` array may hold.
pub const MAX_AUTHORIZATION_DETAILS: usize = 16;

/// Longest refusal text of a host's validator kept in an `error_description`.
const MAX_REFUSAL_LEN: usize = 200;

/// One element of `authorization_details` (RFC 9396 §2): a JSON object with a string
/// `type`, the common members (`locations`, `actions`, `datatypes`, `privileges`: arrays of
/// strings; `identifier`: a string) well typed, and the type's own members kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthorizationDetail(Map<String, Value>);

/// The common members that are arrays of strings (RFC 9396 §2.2).
const STRING_ARRAYS: [&str; 4] = ["locations", "actions", "datatypes", "privileges"];

impl AuthorizationDetail {
    /// Checks one element's shape (RFC 9396 §2, §2.2).
    pub fn from_json(value: Value) -> Result<Self, AuthorizationDetailsError> {
        let Value::Object(map) = value else {
            return Err(malformed("each element must be an object"));
        };
        if !map.get("type").is_some_and(Value::is_string) {
            return Err(malformed("each element needs a string type"));
        }
        for name in STRING_ARRAYS {
            match map.get(name) {
                None => {}
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
                Some(_) => return Err(malformed("a common member has the wrong type")),
            }
        }
        if map.get("identifier").is_some_and(|v| !v.is_string()) {
            return Err(malformed("a common member has the wrong type"));
        }
        Ok(Self(map))
    }

    /// The `type`.
    pub fn detail_type(&self) -> &str {
        self.0
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// A member, common (`locations`, `actions`, …) or of the type.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The members of a string-array common member (`locations`, `actions`, `datatypes`,
    /// `privileges`); empty when absent.
    pub fn strings(&self, name: &str) -> Vec<&str> {
        match self.0.get(name) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The whole element as JSON.
    pub fn as_json(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// The host's rules for one authorization details type.
pub trait AuthorizationDetailsType: Send + Sync {
    /// Accepts a well-shaped element of this type or refuses it with a reason (sent to the
    /// client as the `error_description` of `invalid_authorization_details`, so never a
    /// secret).
    fn validate(&self, detail: &AuthorizationDetail) -> Result<(), String>;

    /// Whether `granted` covers `requested` (both of this type), for narrowing at the token
    /// endpoint (RFC 9396 §6) and for the consent page's subset. Default: only when equal.
    fn covers(&self, granted: &AuthorizationDetail, requested: &AuthorizationDetail) -> bool {
        granted == requested
    }
}

/// One registered type: its validator, and whether it may be granted without a user.
#[derive(Clone)]
struct Registered {
    rules: Arc<dyn AuthorizationDetailsType>,
    without_user: bool,
}

/// The authorization details types a provider accepts, each with its validator
/// (RFC 9396 §2; advertised as `authorization_details_types_supported`, §10). Empty by
/// default: every `authorization_details` is then refused.
#[derive(Clone, Default)]
pub struct AuthorizationDetailsTypes(BTreeMap<String, Registered>);

impl AuthorizationDetailsTypes {
    /// Registers `name` with its validator (replacing an earlier one of that name), granted
    /// only with a user's approval: a `client_credentials` request carrying it is refused.
    pub fn with(
        self,
        name: impl Into<String>,
        rules: impl AuthorizationDetailsType + 'static,
    ) -> Self {
        self.register(name.into(), Arc::new(rules), false)
    }

    /// Registers `name` with its validator (replacing an earlier one of that name), also
    /// granted without a user: a confidential client may ask for it with
    /// `client_credentials` (RFC 9396 §6.3).
    pub fn with_grant_without_user(
        self,
        name: impl Into<String>,
        rules: impl AuthorizationDetailsType + 'static,
    ) -> Self {
        self.register(name.into(), Arc::new(rules), true)
    }

    fn register(
        mut self,
        name: String,
        rules: Arc<dyn AuthorizationDetailsType>,
        without_user: bool,
    ) -> Self {
        self.0.insert(
            name,
            Registered {
                rules,
                without_user,
            },
        );
        self
    }

    /// The registered type names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether no type is registered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses and validates an `authorization_details` parameter (RFC 9396 §2, §5): at most
    /// [`MAX_AUTHORIZATION_DETAILS_LEN`] bytes, a non-empty JSON array of at most
    /// [`MAX_AUTHORIZATION_DETAILS`] well-shaped elements, each of a registered type the
    /// client may use (`client_types`: the client's `authorization_details_types`, `None`:
    /// any) that its validator accepts.
    pub fn parse(
        &self,
        json: &str,
        client_types: Option<&BTreeSet<String>>,
    ) -> Result<Vec<AuthorizationDetail>, AuthorizationDetailsError> {
        if json.len() > MAX_AUTHORIZATION_DETAILS_LEN {
            return Err(malformed("authorization_details is too long"));
        }
        let Ok(Value::Array(items)) = serde_json::from_str::<Value>(json) else {
            return Err(malformed("authorization_details must be a JSON array"));
        };
        if items.is_empty() {
            return Err(malformed("authorization_details is empty"));
        }
        if items.len() > MAX_AUTHORIZATION_DETAILS {
            return Err(malformed("authorization_details has too many elements"));
        }
        items
            .into_iter()
            .map(|item| {
                let detail = AuthorizationDetail::from_json(item)?;
                self.validate(&detail, client_types)?;
                Ok(detail)
            })
            .collect()
    }

    fn validate(
        &self,
        detail: &AuthorizationDetail,
        client_types: Option<&BTreeSet<String>>,
    ) -> Result<(), AuthorizationDetailsError> {
        let name = detail.detail_type();
        let Some(registered) = self.0.get(name) else {
            return Err(AuthorizationDetailsError::UnknownType);
        };
        if client_types.is_some_and(|allowed| !allowed.contains(name)) {
            return Err(AuthorizationDetailsError::TypeNotAllowed);
        }
        registered
            .rules
            .validate(detail)
            .map_err(|reason| AuthorizationDetailsError::Refused(sanitized(&reason)))
    }

    /// Whether one of `granted` covers `requested` (see the module's subset rule).
    fn covered(&self, requested: &AuthorizationDetail, granted: &[AuthorizationDetail]) -> bool {
        let Some(registered) = self.0.get(requested.detail_type()) else {
            return false;
        };
        granted
            .iter()
            .filter(|g| g.detail_type() == requested.detail_type())
            .any(|g| registered.rules.covers(g, requested))
    }

    /// Checks that every one of `details` (parsed by [`AuthorizationDetailsTypes::parse`]) is
    /// of a type registered for grants without a user
    /// ([`AuthorizationDetailsTypes::with_grant_without_user`]), as a grant that no user
    /// approves needs (`client_credentials`, RFC 9396 §6.3); else `NeedsUser`.
    pub fn check_without_user(
        &self,
        details: &[AuthorizationDetail],
    ) -> Result<(), AuthorizationDetailsError> {
        let allowed = |d: &AuthorizationDetail| {
            self.0
                .get(d.detail_type())
                .is_some_and(|registered| registered.without_user)
        };
        if details.iter().all(allowed) {
            Ok(())
        } else {
            Err(AuthorizationDetailsError::NeedsUser)
        }
    }

    /// The details a token request gets (RFC 9396 §6.1, §6.2): all of `granted` when it
    /// asked for none, else what it asked for if each element is covered by a granted one,
    /// else `NotGranted`.
    pub fn narrow(
        &self,
        requested: Option<Vec<AuthorizationDetail>>,
        granted: &[AuthorizationDetail],
    ) -> Result<Vec<AuthorizationDetail>, AuthorizationDetailsError> {
        let Some(requested) = requested else {
            return Ok(granted.to_vec());
        };
        if requested.iter().all(|r| self.covered(r, granted)) {
            Ok(requested)
        } else {
            Err(AuthorizationDetailsError::NotGranted)
        }
    }

    /// What the resource owner approved of `requested`: the elements of `approved` (all of
    /// `requested` when `None`) that a requested element covers — never more than asked.
    pub fn approved(
        &self,
        requested: &[AuthorizationDetail],
        approved: Option<&[AuthorizationDetail]>,
    ) -> Vec<AuthorizationDetail> {
        match approved {
            None => requested.to_vec(),
            Some(approved) => approved
                .iter()
                .filter(|a| self.covered(a, requested))
                .cloned()
                .collect(),
        }
    }
}

impl fmt::Debug for AuthorizationDetailsTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

/// Equal when the same names map to the same validators, granted with the same rule.
impl PartialEq for AuthorizationDetailsTypes {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(&other.0).all(|((a, ra), (b, rb))| {
                a == b && Arc::ptr_eq(&ra.rules, &rb.rules) && ra.without_user == rb.without_user
            })
    }
}

impl Eq for AuthorizationDetailsTypes {}

/// Why `authorization_details` was refused: `invalid_authorization_details` (RFC 9396 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationDetailsError {
    /// Not a well-formed array of well-formed elements, or over a bound.
    Malformed(&'static str),
    /// An element's type is not registered.
    UnknownType,
    /// An element's type is registered but not for this client (RFC 9396 §10).
    TypeNotAllowed,
    /// The type's validator refused an element, for this reason.
    Refused(String),
    /// A token request asked for details that were not granted (RFC 9396 §6).
    NotGranted,
    /// A grant without a user (`client_credentials`) asked for a type registered only for
    /// grants a user approves.
    NeedsUser,
}

fn malformed(description: &'static str) -> AuthorizationDetailsError {
    AuthorizationDetailsError::Malformed(description)
}

impl fmt::Display for AuthorizationDetailsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(d) => f.write_str(d),
            Self::UnknownType => f.write_str("authorization_details has an unknown type"),
            Self::TypeNotAllowed => {
                f.write_str("authorization_details has a type this client may not use")
            }
            Self::Refused(reason) => write!(f, "authorization_details refused: {reason}"),
            Self::NotGranted => f.write_str("authorization_details exceed what was granted"),
            Self::NeedsUser => {
                f.write_str("authorization_details has a type that needs a user's approval")
            }
        }
    }
}

impl std::error::Error for AuthorizationDetailsError {}

/// `reason` cut to [`MAX_REFUSAL_LEN`] characters of those an `error_description` may hold
/// (RFC 6749 §5.2: %x20-21 / %x23-5B / %x5D-7E), others replaced by `?`.
fn sanitized(reason: &str) -> String {
    reason
        .chars()
        .take(MAX_REFUSAL_LEN)
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '?',
        })
        .collect()
}

impl From<AuthorizationDetailsError> for OAuthError<TokenErrorCode> {
    fn from(e: AuthorizationDetailsError) -> Self {
        OAuthError::new(TokenErrorCode::InvalidAuthorizationDetails, e.to_string())
    }
}

impl From<AuthorizationDetailsError> for OAuthError<AuthorizeErrorCode> {
    fn from(e: AuthorizationDetailsError) -> Self {
        OAuthError::new(
            AuthorizeErrorCode::InvalidAuthorizationDetails,
            e.to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 9396 §2.1's `payment_initiation`: `instructedAmount` an object with a string
    /// `currency` and `amount`; `creditorName` required. A payment covers one of the same
    /// creditor and currency for at most its amount.
    struct Payment;

    fn amount(d: &AuthorizationDetail) -> Option<f64> {
        d.get("instructedAmount")?
            .get("amount")?
            .as_str()?
            .parse()
            .ok()
    }

    impl AuthorizationDetailsType for Payment {
        fn validate(&self, d: &AuthorizationDetail) -> Result<(), String> {
            if !d.get("creditorName").is_some_and(Value::is_string) {
                return Err("creditorName is required".into());
            }
            amount(d)
                .map(drop)
                .ok_or_else(|| "instructedAmount is invalid".into())
        }

        fn covers(&self, granted: &AuthorizationDetail, requested: &AuthorizationDetail) -> bool {
            granted.get("creditorName") == requested.get("creditorName")
                && amount(requested) <= amount(granted)
        }
    }

    /// Accepts everything; covers only by equality (the default).
    struct Any;

    impl AuthorizationDetailsType for Any {
        fn validate(&self, _: &AuthorizationDetail) -> Result<(), String> {
            Ok(())
        }
    }

    struct Refuse(&'static str);

    impl AuthorizationDetailsType for Refuse {
        fn validate(&self, _: &AuthorizationDetail) -> Result<(), String> {
            Err(self.0.into())
        }
    }

    fn types() -> AuthorizationDetailsTypes {
        AuthorizationDetailsTypes::default()
            .with("payment_initiation", Payment)
            .with("account_information", Any)
    }

    fn payment(amount: &str) -> Value {
        json!({"type": "payment_initiation", "actions": ["initiate"],
            "locations": ["https://bank.example/payments"],
            "instructedAmount": {"currency": "EUR", "amount": amount},
            "creditorName": "Merchant A"})
    }

    fn detail(v: Value) -> AuthorizationDetail {
        AuthorizationDetail::from_json(v).unwrap()
    }

    fn parse(json: &str) -> Result<Vec<AuthorizationDetail>, AuthorizationDetailsError> {
        types().parse(json, None)
    }

    #[test]
    fn a_well_formed_array_of_registered_types_parses_with_every_member_kept() {
        let json = json!([payment("123.50"),
            {"type": "account_information", "identifier": "acc-1", "datatypes": ["balances"],
             "privileges": ["read"], "nested": {"a": [1, null, true]}}])
        .to_string();
        let details = parse(&json).unwrap();
        assert_eq!(details.len(), 2);
        assert_eq!(details[0].detail_type(), "payment_initiation");
        assert_eq!(details[0].strings("actions"), ["initiate"]);
        assert_eq!(details[0].strings("datatypes"), Vec::<&str>::new());
        assert_eq!(
            details[1].get("nested"),
            Some(&json!({"a": [1, null, true]}))
        );
        assert_eq!(
            serde_json::to_string(&details).unwrap(),
            serde_json::to_string(&serde_json::from_str::<Value>(&json).unwrap()).unwrap(),
            "serialized as sent"
        );
        let back: Vec<AuthorizationDetail> =
            serde_json::from_str(&serde_json::to_string(&details).unwrap()).unwrap();
        assert_eq!(back, details);
        assert_eq!(details[1].as_json()["identifier"], "acc-1");
    }

    #[test]
    fn malformed_input_is_refused_with_its_reason() {
        let cases = [
            ("{}", "authorization_details must be a JSON array"),
            ("not json", "authorization_details must be a JSON array"),
            ("[]", "authorization_details is empty"),
            ("[1]", "each element must be an object"),
            ("[{}]", "each element needs a string type"),
            (r#"[{"type": 1}]"#, "each element needs a string type"),
            (
                r#"[{"type": "account_information", "locations": "x"}]"#,
                "a common member has the wrong type",
            ),
            (
                r#"[{"type": "account_information", "actions": [1]}]"#,
                "a common member has the wrong type",
            ),
            (
                r#"[{"type": "account_information", "datatypes": {}}]"#,
                "a common member has the wrong type",
            ),
            (
                r#"[{"type": "account_information", "privileges": [null]}]"#,
                "a common member has the wrong type",
            ),
            (
                r#"[{"type": "account_information", "identifier": ["x"]}]"#,
                "a common member has the wrong type",
            ),
        ];
        for (json, reason) in cases {
            assert_eq!(
                parse(json),
                Err(AuthorizationDetailsError::Malformed(reason)),
                "{json}"
            );
        }
    }

    #[test]
    fn the_bounds_hold_at_their_limits() {
        // The documented bounds (like `claims`: 8 KiB).
        assert_eq!(
            (MAX_AUTHORIZATION_DETAILS_LEN, MAX_AUTHORIZATION_DETAILS),
            (8192, 16)
        );
        let one = r#"{"type":"account_information"}"#;
        let list = |n: usize| format!("[{}]", vec![one; n].join(","));
        assert_eq!(
            parse(&list(MAX_AUTHORIZATION_DETAILS)).unwrap().len(),
            MAX_AUTHORIZATION_DETAILS
        );
        assert_eq!(
            parse(&list(MAX_AUTHORIZATION_DETAILS + 1)),
            Err(malformed("authorization_details has too many elements"))
        );
        let padded = |len: usize| {
            let pad = len - r#"[{"type":"account_information","p":""}]"#.len();
            format!(
                r#"[{{"type":"account_information","p":"{}"}}]"#,
                "a".repeat(pad)
            )
        };
        assert_eq!(
            padded(MAX_AUTHORIZATION_DETAILS_LEN).len(),
            MAX_AUTHORIZATION_DETAILS_LEN
        );
        assert!(parse(&padded(MAX_AUTHORIZATION_DETAILS_LEN)).is_ok());
        assert_eq!(
            parse(&padded(MAX_AUTHORIZATION_DETAILS_LEN + 1)),
            Err(malformed("authorization_details is too long"))
        );
    }

    #[test]
    fn types_must_be_registered_allowed_for_the_client_and_accepted() {
        let unknown = r#"[{"type":"account_information"},{"type":"other"}]"#;
        assert_eq!(parse(unknown), Err(AuthorizationDetailsError::UnknownType));
        assert_eq!(
            AuthorizationDetailsTypes::default().parse(r#"[{"type":"account_information"}]"#, None),
            Err(AuthorizationDetailsError::UnknownType),
            "nothing registered by default"
        );
        let only_accounts = BTreeSet::from(["account_information".to_owned()]);
        let pay = json!([payment("1.00")]).to_string();
        assert_eq!(
            types().parse(&pay, Some(&only_accounts)),
            Err(AuthorizationDetailsError::TypeNotAllowed)
        );
        assert!(types()
            .parse(r#"[{"type":"account_information"}]"#, Some(&only_accounts))
            .is_ok());
        assert!(types().parse(&pay, None).is_ok());
        let no_creditor = r#"[{"type":"payment_initiation","instructedAmount":{"amount":"1"}}]"#;
        assert_eq!(
            parse(no_creditor),
            Err(AuthorizationDetailsError::Refused(
                "creditorName is required".into()
            ))
        );
    }

    /// A validator's reason reaches the client only in `error_description`'s characters.
    #[test]
    fn a_refusal_is_cut_and_kept_to_safe_characters() {
        let long = "x".repeat(MAX_REFUSAL_LEN + 50);
        let leaked: &'static str = Box::leak(format!("bad \"q\" \\ é\n{long}").into_boxed_str());
        let t = AuthorizationDetailsTypes::default().with("t", Refuse(leaked));
        let Err(AuthorizationDetailsError::Refused(reason)) = t.parse(r#"[{"type":"t"}]"#, None)
        else {
            panic!("refused")
        };
        assert!(reason.starts_with("bad ?q? ? ??xxx"), "{reason}");
        assert_eq!(reason.chars().count(), MAX_REFUSAL_LEN);
        assert_eq!(sanitized("~ !#[]"), "~ !#[]");
    }

    #[test]
    fn errors_map_to_invalid_authorization_details_with_status_400() {
        let e = OAuthError::<TokenErrorCode>::from(AuthorizationDetailsError::NotGranted);
        assert_eq!(e.code, TokenErrorCode::InvalidAuthorizationDetails);
        assert_eq!(
            (e.code.as_str(), e.code.status()),
            ("invalid_authorization_details", 400)
        );
        assert_eq!(
            e.description,
            "authorization_details exceed what was granted"
        );
        let e = OAuthError::<AuthorizeErrorCode>::from(AuthorizationDetailsError::UnknownType);
        assert_eq!(e.code, AuthorizeErrorCode::InvalidAuthorizationDetails);
        assert_eq!(e.description, "authorization_details has an unknown type");
        for (e, text) in [
            (
                AuthorizationDetailsError::TypeNotAllowed,
                "authorization_details has a type this client may not use",
            ),
            (
                AuthorizationDetailsError::Refused("why".into()),
                "authorization_details refused: why",
            ),
            (
                AuthorizationDetailsError::NeedsUser,
                "authorization_details has a type that needs a user's approval",
            ),
            (malformed("m"), "m"),
        ] {
            assert_eq!(e.to_string(), text);
        }
    }

    /// RFC 9396 §6: nothing asked, all granted; asked, each element covered by a granted
    /// one of its type, else `NotGranted`.
    #[test]
    fn narrowing_keeps_to_what_was_granted() {
        let t = types();
        let granted = vec![
            detail(payment("100.00")),
            detail(json!({"type": "account_information", "actions": ["read"]})),
        ];
        assert_eq!(t.narrow(None, &granted), Ok(granted.clone()));
        let less = vec![detail(payment("40.00"))];
        assert_eq!(t.narrow(Some(less.clone()), &granted), Ok(less));
        let same_account = vec![granted[1].clone()];
        assert_eq!(
            t.narrow(Some(same_account.clone()), &granted),
            Ok(same_account)
        );
        for wider in [
            vec![detail(payment("100.01"))],
            vec![detail(
                json!({"type": "account_information", "actions": ["read", "write"]}),
            )],
            vec![detail(json!({"type": "account_information"}))],
            vec![granted[1].clone(), detail(json!({"type": "other"}))],
        ] {
            assert_eq!(
                t.narrow(Some(wider), &granted),
                Err(AuthorizationDetailsError::NotGranted)
            );
        }
        // Another type's element never covers: a payment is not an account.
        let as_account = detail(
            json!({"type": "account_information", "creditorName": "Merchant A",
            "instructedAmount": {"currency": "EUR", "amount": "1"}}),
        );
        assert_eq!(
            t.narrow(Some(vec![as_account]), &[detail(payment("100"))]),
            Err(AuthorizationDetailsError::NotGranted)
        );
        assert_eq!(
            t.narrow(Some(less_payment()), &[]),
            Err(AuthorizationDetailsError::NotGranted)
        );
    }

    fn less_payment() -> Vec<AuthorizationDetail> {
        vec![detail(payment("1.00"))]
    }

    /// The consent page's subset: never more than asked.
    #[test]
    fn approval_keeps_only_what_was_asked() {
        let t = types();
        let asked = vec![
            detail(payment("100.00")),
            detail(json!({"type": "account_information"})),
        ];
        assert_eq!(t.approved(&asked, None), asked);
        assert_eq!(t.approved(&asked, Some(&asked[1..])), asked[1..]);
        let lowered = detail(payment("50.00"));
        let raised = detail(payment("150.00"));
        let foreign = detail(json!({"type": "account_information", "actions": ["write"]}));
        assert_eq!(
            t.approved(&asked, Some(&[lowered.clone(), raised, foreign])),
            vec![lowered]
        );
        assert_eq!(t.approved(&asked, Some(&[])), vec![]);
    }

    /// RFC 9396 §6.3 as an opt-in: only types registered for grants without a user pass.
    #[test]
    fn grants_without_a_user_take_only_types_registered_for_them() {
        let t = types().with_grant_without_user("machine", Any);
        let machine = detail(json!({"type": "machine"}));
        let accounts = detail(json!({"type": "account_information"}));
        assert_eq!(t.check_without_user(&[]), Ok(()));
        assert_eq!(t.check_without_user(std::slice::from_ref(&machine)), Ok(()));
        for needs_user in [
            vec![accounts.clone()],
            vec![machine.clone(), accounts],
            vec![detail(payment("1.00")), machine.clone()],
            vec![detail(json!({"type": "unregistered"}))],
        ] {
            assert_eq!(
                t.check_without_user(&needs_user),
                Err(AuthorizationDetailsError::NeedsUser),
                "{needs_user:?}"
            );
        }
        // Registered again with `with`, it needs a user again.
        let t = t.with("machine", Any);
        assert_eq!(
            t.check_without_user(&[machine]),
            Err(AuthorizationDetailsError::NeedsUser)
        );
        // Either way it parses, is covered and listed like any other type.
        let both = types().with_grant_without_user("machine", Any);
        assert!(both.parse(r#"[{"type":"machine"}]"#, None).is_ok());
        assert_eq!(
            both.names().collect::<Vec<_>>(),
            ["account_information", "machine", "payment_initiation"]
        );
    }

    #[test]
    fn registries_compare_by_names_and_validators() {
        let a = types();
        assert_eq!(a, a.clone());
        assert_ne!(a, types(), "other validators");
        let user = AuthorizationDetailsTypes::default().with("t", Any);
        let machine = AuthorizationDetailsTypes::default().with_grant_without_user("t", Any);
        let rules = user.0["t"].rules.clone();
        let same_rules = |without_user| {
            let mut t = AuthorizationDetailsTypes::default();
            t.0.insert(
                "t".into(),
                Registered {
                    rules: rules.clone(),
                    without_user,
                },
            );
            t
        };
        assert_eq!(user, same_rules(false));
        assert_ne!(
            user,
            same_rules(true),
            "another rule for grants without a user"
        );
        assert!(machine.0["t"].without_user && !user.0["t"].without_user);
        assert_ne!(a, AuthorizationDetailsTypes::default());
        assert_eq!(
            format!("{a:?}"),
            r#"{"account_information", "payment_initiation"}"#
        );
        assert_eq!(
            a.names().collect::<Vec<_>>(),
            ["account_information", "payment_initiation"]
        );
        assert!(!a.is_empty() && AuthorizationDetailsTypes::default().is_empty());
    }
}
