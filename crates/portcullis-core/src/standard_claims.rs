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
}
