//! The standard claims (OpenID Connect Core §5.1), the JSON type of each, and the scope that
//! releases it (§5.4): the one table discovery, claim release and hosts read.

/// The JSON type of a standard claim's value (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimType {
    /// A string.
    String,
    /// A boolean (`email_verified`, `phone_number_verified`).
    Boolean,
    /// A number of seconds since 1970 (`updated_at`).
    Timestamp,
    /// A JSON object of string members (`address`, §5.1.1).
    Address,
}

/// One standard claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardClaim {
    /// Its name.
    pub name: &'static str,
    /// The JSON type of its value.
    pub claim_type: ClaimType,
    /// The scope that releases it (§5.4); `None` for `sub`, always released.
    pub scope: Option<&'static str>,
}

const fn claim(
    name: &'static str,
    claim_type: ClaimType,
    scope: Option<&'static str>,
) -> StandardClaim {
    StandardClaim {
        name,
        claim_type,
        scope,
    }
}

const PROFILE: Option<&str> = Some("profile");
const EMAIL: Option<&str> = Some("email");
const ADDRESS: Option<&str> = Some("address");
const PHONE: Option<&str> = Some("phone");

/// Every standard claim, in the order of §5.1.
pub const STANDARD_CLAIMS: &[StandardClaim] = {
    use ClaimType::*;
    &[
        claim("sub", String, None),
        claim("name", String, PROFILE),
        claim("given_name", String, PROFILE),
        claim("family_name", String, PROFILE),
        claim("middle_name", String, PROFILE),
        claim("nickname", String, PROFILE),
        claim("preferred_username", String, PROFILE),
        claim("profile", String, PROFILE),
        claim("picture", String, PROFILE),
        claim("website", String, PROFILE),
        claim("email", String, EMAIL),
        claim("email_verified", Boolean, EMAIL),
        claim("gender", String, PROFILE),
        claim("birthdate", String, PROFILE),
        claim("zoneinfo", String, PROFILE),
        claim("locale", String, PROFILE),
        claim("phone_number", String, PHONE),
        claim("phone_number_verified", Boolean, PHONE),
        claim("address", Address, ADDRESS),
        claim("updated_at", Timestamp, PROFILE),
    ]
};

/// The standard claim named `name`, if it is one.
pub fn standard_claim(name: &str) -> Option<&'static StandardClaim> {
    STANDARD_CLAIMS.iter().find(|c| c.name == name)
}

/// The members of the `address` claim (§5.1.1).
pub const ADDRESS_MEMBERS: &[&str] = &[
    "formatted",
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];

/// Checks a value a host gives the claim `name` (§5.1): a standard claim's of its type (a
/// timestamp whole seconds, an address an object of [`ADDRESS_MEMBERS`] strings), any other
/// claim's a string, a boolean or a number. `sub` is the provider's own. The error says
/// what the value must be, never the value.
pub fn check_claim_value(name: &str, value: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    if name == "sub" {
        return Err("`sub` is the subject identifier and cannot be set".into());
    }
    let (ok, expected) = match standard_claim(name).map(|c| c.claim_type) {
        Some(ClaimType::String) => (value.is_string(), "a string"),
        Some(ClaimType::Boolean) => (value.is_boolean(), "a boolean"),
        Some(ClaimType::Timestamp) => (value.is_i64(), "a number (seconds since 1970)"),
        Some(ClaimType::Address) => {
            let members = value.as_object();
            let other =
                members.and_then(|m| m.keys().find(|k| !ADDRESS_MEMBERS.contains(&k.as_str())));
            if let Some(other) = other {
                return Err(format!(
                    "`{other}` is not an address member (one of {})",
                    ADDRESS_MEMBERS.join(", ")
                ));
            }
            let strings = members.is_some_and(|m| m.values().all(Value::is_string));
            (strings, "an object of strings")
        }
        None => (
            value.is_string() || value.is_boolean() || value.is_number(),
            "a string, a boolean or a number",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("must be {expected}"))
    }
}

/// The claims a standard scope releases (§5.4), in the order of §5.1; none for any other
/// scope.
pub fn scope_claims(scope: &str) -> Vec<&'static str> {
    STANDARD_CLAIMS
        .iter()
        .filter(|c| c.scope == Some(scope))
        .map(|c| c.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_section_5_1() {
        assert_eq!(STANDARD_CLAIMS.len(), 20);
        let of_type = |t: ClaimType| -> Vec<&str> {
            STANDARD_CLAIMS
                .iter()
                .filter(|c| c.claim_type == t)
                .map(|c| c.name)
                .collect()
        };
        assert_eq!(
            of_type(ClaimType::Boolean),
            ["email_verified", "phone_number_verified"]
        );
        assert_eq!(of_type(ClaimType::Timestamp), ["updated_at"]);
        assert_eq!(of_type(ClaimType::Address), ["address"]);
        assert_eq!(standard_claim("locale").map(|c| c.scope), Some(PROFILE));
        assert_eq!(standard_claim("sub").map(|c| c.scope), Some(None));
        assert_eq!(standard_claim("acr"), None);
    }

    #[test]
    fn claim_values_are_of_their_type() {
        use serde_json::json;
        for (name, value) in [
            ("name", json!("Bob")),
            ("email_verified", json!(true)),
            ("updated_at", json!(1_700_000_000)),
            ("address", json!({"locality": "Oxford", "country": "GB"})),
            ("favourite", json!(7)),
            ("team", json!("blue")),
            ("admin", json!(false)),
        ] {
            assert_eq!(check_claim_value(name, &value), Ok(()), "{name}");
        }
        for (name, value, error) in [
            ("sub", json!("root"), "cannot be set"),
            ("email", json!(true), "must be a string"),
            ("email_verified", json!("yes"), "must be a boolean"),
            ("updated_at", json!("today"), "must be a number"),
            ("updated_at", json!(1.5), "must be a number"),
            ("address", json!("Oxford"), "must be an object of strings"),
            (
                "address",
                json!({"locality": 1}),
                "must be an object of strings",
            ),
            (
                "address",
                json!({"town": "Oxford"}),
                "`town` is not an address member",
            ),
            ("nickname", json!({"a": "b"}), "must be a string"),
            ("favourite", json!(["a"]), "a string, a boolean or a number"),
            (
                "favourite",
                json!({"a": 1}),
                "a string, a boolean or a number",
            ),
        ] {
            let e = check_claim_value(name, &value).unwrap_err();
            assert!(e.contains(error), "{name}: {e}");
            assert!(!e.contains("Oxford") && !e.contains("root"), "{e}");
        }
    }
}
