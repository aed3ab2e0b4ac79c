//! `application/x-www-form-urlencoded` parameters, as the authorization and token endpoints
//! receive them (RFC 6749 §3.1, §3.2, Appendix B).

use std::collections::BTreeSet;

use percent_encoding::percent_decode;

/// Most parameters one request may carry; real requests have around ten.
const MAX_PARAMS: usize = 64;

/// Parameters that may appear more than once: `resource` (RFC 8707 §2).
const MULTI_VALUED: &[&str] = &["resource"];

/// Why a parameter string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// A `%` not followed by two hex digits.
    #[error("malformed percent-encoding")]
    BadPercentEncoding,
    /// A name or value is not UTF-8 once decoded.
    #[error("parameters must be UTF-8")]
    NotUtf8,
    /// More than [`MAX_PARAMS`] parameters.
    #[error("too many parameters")]
    TooMany,
}

/// Decoded request parameters. Parameters sent without a value are treated as omitted
/// (RFC 6749 §3.1); repeats are remembered, since no parameter may appear twice.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    repeated: BTreeSet<String>,
}

impl Params {
    /// Parses a query string or form body. Invalid UTF-8 and malformed percent-encoding
    /// are refused rather than repaired, so no two parsers can disagree on a value.
    pub fn parse(input: &[u8]) -> Result<Self, ParamsError> {
        let mut params = Params::default();
        for piece in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            let name = decode(name)?;
            let value = decode(value)?;
            if value.is_empty() {
                continue;
            }
            if params.pairs.len() == MAX_PARAMS {
                return Err(ParamsError::TooMany);
            }
            if !MULTI_VALUED.contains(&name.as_str())
                && params.pairs.iter().any(|(n, _)| *n == name)
            {
                params.repeated.insert(name.clone());
            }
            params.pairs.push((name, value));
        }
        Ok(params)
    }

    /// The (first) value of `name`. Endpoints refuse repeated parameters before reading
    /// values, through [`Params::is_repeated`] and [`Params::first_repeated`].
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a multi-valued parameter (`resource`), in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` was sent more than once.
    pub fn is_repeated(&self, name: &str) -> bool {
        self.repeated.contains(name)
    }

    /// The first parameter (by name order) that was sent more than once.
    pub fn first_repeated(&self) -> Option<&str> {
        self.repeated.iter().next().map(String::as_str)
    }

    /// Whether `name` was sent (with a value).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte,
/// and the result must be UTF-8. Malformed percent-encoding is refused, never passed through.
pub(crate) fn decode(raw: &[u8]) -> Result<String, ParamsError> {
    check_percent_encoding(raw)?;
    // Most components (tokens, codes, ids, grant types) have nothing to decode.
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| ParamsError::NotUtf8);
    }
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&spaced).collect();
    String::from_utf8(bytes).map_err(|_| ParamsError::NotUtf8)
}

fn check_percent_encoding(raw: &[u8]) -> Result<(), ParamsError> {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let ok = raw.len() > i + 2
                && raw[i + 1].is_ascii_hexdigit()
                && raw[i + 2].is_ascii_hexdigit();
            if !ok {
                return Err(ParamsError::BadPercentEncoding);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent() {
        let p = Params::parse(b"a=b+c&d=%2F%20x").unwrap();
        assert_eq!(p.get("a"), Some("b c"));
        assert_eq!(p.get("d"), Some("/ x"));
    }

    #[test]
    fn empty_values_are_omitted() {
        let p = Params::parse(b"a=&b&c=1").unwrap();
        assert!(!p.contains("a"));
        assert!(!p.contains("b"));
        assert_eq!(p.get("c"), Some("1"));
    }

    #[test]
    fn resource_may_repeat() {
        let p = Params::parse(b"resource=a&resource=b").unwrap();
        assert_eq!(p.first_repeated(), None);
        assert_eq!(p.all("resource").collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn repeats_are_reported() {
        let p = Params::parse(b"a=1&b=2&a=3").unwrap();
        assert!(p.is_repeated("a"));
        assert!(!p.is_repeated("b"));
        assert_eq!(p.first_repeated(), Some("a"));
    }

    #[test]
    fn malformed_input_is_refused() {
        assert_eq!(
            Params::parse(b"a=%zz").unwrap_err(),
            ParamsError::BadPercentEncoding
        );
        assert_eq!(
            Params::parse(b"a=%4").unwrap_err(),
            ParamsError::BadPercentEncoding
        );
        assert_eq!(Params::parse(b"a=%ff").unwrap_err(), ParamsError::NotUtf8);
        let many: String = (0..65).map(|i| format!("p{i}=1&")).collect();
        assert_eq!(
            Params::parse(many.as_bytes()).unwrap_err(),
            ParamsError::TooMany
        );
    }
}
