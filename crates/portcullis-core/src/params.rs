//! `application/x-www-form-urlencoded` parameters, as the authorization and token endpoints
//! receive them (RFC 6749 §3.1, §3.2, Appendix B).

use std::collections::BTreeSet;
use std::fmt;

use percent_encoding::percent_decode;

/// Most parameters one request may carry; real requests have around ten.
const MAX_PARAMS: usize = 64;

/// Parameters that may appear more than once: `resource` (RFC 8707 §2) and `audience`
/// (RFC 8693 §2.1).
const MULTI_VALUED: &[&str] = &["resource", "audience"];

/// Why a parameter string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// A `%` not followed by two hex digits.
    #[error("malformed percent-encoding")]
    BadPercentEncoding,
    /// A name or value is not UTF-8 once decoded.
    #[error("parameters must be UTF-8")]
    NotUtf8,
    /// More than 64 parameters (`MAX_PARAMS`).
    #[error("too many parameters")]
    TooMany,
}

/// Decoded request parameters. Parameters sent without a value are treated as omitted
/// (RFC 6749 §3.1); repeats are remembered, since no parameter may appear twice.
#[derive(Clone, Default)]
pub struct Params {
    /// Every kept name and value, decoded, back to back (one allocation per request).
    text: String,
    /// Each kept parameter's name `text[a..b]` and value `text[b..c]`, in order.
    pairs: Vec<[usize; 3]>,
    repeated: BTreeSet<String>,
}

impl Params {
    /// Parses a query string or form body. Invalid UTF-8 and malformed percent-encoding
    /// are refused rather than repaired, so no two parsers can disagree on a value.
    pub fn parse(input: &[u8]) -> Result<Self, ParamsError> {
        let mut params = Params {
            // Decoding never lengthens a component.
            text: String::with_capacity(input.len()),
            ..Params::default()
        };
        for piece in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            let start = params.text.len();
            decode_into(name, &mut params.text)?;
            let name_end = params.text.len();
            decode_into(value, &mut params.text)?;
            let end = params.text.len();
            if end == name_end {
                params.text.truncate(start);
                continue;
            }
            if params.pairs.len() == MAX_PARAMS {
                return Err(ParamsError::TooMany);
            }
            let name = &params.text[start..name_end];
            if !MULTI_VALUED.contains(&name) && params.names().any(|n| n == name) {
                params.repeated.insert(name.to_owned());
            }
            params.pairs.push([start, name_end, end]);
        }
        Ok(params)
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|[a, b, _]| &self.text[*a..*b])
    }

    fn values_of<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.pairs
            .iter()
            .filter(move |[a, b, _]| &self.text[*a..*b] == name)
            .map(|[_, b, c]| &self.text[*b..*c])
    }

    /// The (first) value of `name`. Endpoints refuse repeated parameters before reading
    /// values, through [`Params::is_repeated`] and [`Params::first_repeated`].
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values_of(name).next()
    }

    /// Every value of a multi-valued parameter (`resource`), in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.values_of(name)
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

    /// Every parameter as (name, value), in the order sent.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|[a, b, c]| (&self.text[*a..*b], &self.text[*b..*c]))
    }
}

impl fmt::Debug for Params {
    /// Names only: values include secrets (`client_secret`, codes, tokens).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Params")
            .field("names", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte,
/// and the result must be UTF-8. Malformed percent-encoding is refused, never passed through.
pub(crate) fn decode(raw: &[u8]) -> Result<String, ParamsError> {
    let mut out = String::with_capacity(raw.len());
    decode_into(raw, &mut out)?;
    Ok(out)
}

/// [`decode`], appending to `out`.
fn decode_into(raw: &[u8], out: &mut String) -> Result<(), ParamsError> {
    let percent = raw.contains(&b'%');
    // Most components (tokens, codes, ids, grant types) have nothing to decode.
    if !percent && !raw.contains(&b'+') {
        out.push_str(std::str::from_utf8(raw).map_err(|_| ParamsError::NotUtf8)?);
        return Ok(());
    }
    if percent {
        check_percent_encoding(raw)?;
    }
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&spaced).collect();
    out.push_str(std::str::from_utf8(&bytes).map_err(|_| ParamsError::NotUtf8)?);
    Ok(())
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
    fn debug_names_parameters_but_shows_no_value() {
        let p = Params::parse(b"client_id=app&client_secret=hunter2").unwrap();
        let debug = format!("{p:?}");
        assert!(debug.contains("client_secret"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
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
