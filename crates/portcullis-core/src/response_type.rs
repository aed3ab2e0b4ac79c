//! What an authorization response carries and how it travels (RFC 6749 §3.1.1; OAuth 2.0
//! Multiple Response Type Encoding Practices §2.1).

/// The `response_type` values this server supports: the authorization code flow only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseType {
    /// `code` (RFC 6749 §4.1.1).
    Code,
}

impl ResponseType {
    /// Every supported value.
    pub const ALL: [Self; 1] = [Self::Code];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
        }
    }

    /// Parses a `response_type`; `None` for one this server does not support.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }
}

/// The `response_mode` values this server supports: `query` only, the default of `code`
/// (Multiple Response Type Encoding Practices §2.1, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseMode {
    /// `query`: the response parameters in the redirect URI's query.
    Query,
}

impl ResponseMode {
    /// Every supported value.
    pub const ALL: [Self; 1] = [Self::Query];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
        }
    }

    /// Parses a `response_mode`; `None` for one this server does not support.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_code_in_the_query() {
        assert_eq!(ResponseType::parse("code"), Some(ResponseType::Code));
        for other in ["token", "id_token", "code id_token", "Code", ""] {
            assert_eq!(ResponseType::parse(other), None, "{other}");
        }
        assert_eq!(ResponseMode::parse("query"), Some(ResponseMode::Query));
        for other in ["fragment", "form_post", "Query", ""] {
            assert_eq!(ResponseMode::parse(other), None, "{other}");
        }
    }
}
