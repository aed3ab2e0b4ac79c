//! Reading the host pages' form posts (`application/x-www-form-urlencoded`, HTML 4.01
//! §17.13.4), and the CSRF check every one of them starts with.

use bytes::Bytes;
use http::Request;

use crate::pages::PageError;
use crate::session::{Session, SessionManager};

/// The fields of a form post, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Parses a urlencoded body.
    pub fn parse(body: &[u8]) -> Self {
        Self {
            fields: url::form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// Reads `req`'s body as a form: [`PageError::NotAForm`] unless it declares
    /// `application/x-www-form-urlencoded`.
    pub fn read(req: &Request<Bytes>) -> Result<Self, PageError> {
        if !portcullis::is_form(req) {
            return Err(PageError::NotAForm);
        }
        Ok(Self::parse(req.body()))
    }

    /// The value of a field sent at most once; [`PageError::BadForm`] when it is repeated
    /// (two values for one field are never guessed between).
    pub fn one<'a>(&'a self, name: &'a str) -> Result<Option<&'a str>, PageError> {
        let mut values = self.all(name);
        match (values.next(), values.next()) {
            (v, None) => Ok(v),
            _ => Err(PageError::BadForm),
        }
    }

    /// Every value of a field (e.g. checked boxes).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.fields
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A form post that passed its CSRF check: its fields and its `ticket` (the sealed pending
/// request it answers, or another id the form acts on; empty when absent).
#[derive(Debug, Clone)]
pub struct CheckedForm {
    /// The fields.
    pub form: Form,
    /// The `ticket` field.
    pub ticket: String,
}

/// Which CSRF token a form must carry (RFC 6749 §10.12, RFC 9700 §4.7).
#[derive(Debug, Clone, Copy)]
pub enum FormGuard<'a> {
    /// The login form: a token bound to the browser's pre-login binding cookie and the
    /// ticket ([`SessionManager::login_csrf_token`]).
    Login,
    /// A signed-in user's form doing this action: a token bound to the session, the action
    /// and the ticket ([`SessionManager::form_token`]).
    Session(&'a str),
}

impl SessionManager {
    /// The CSRF token of `session`'s form doing `action` with `ticket`: valid only for that
    /// action, that ticket and this session's cookie (so a token of one form never passes at
    /// another).
    pub fn form_token(&self, session: &Session, action: &str, ticket: &str) -> String {
        self.csrf_token(session, &purpose(action, ticket))
    }

    /// Reads a form post and its `ticket`, and checks its `csrf` field as `guard` says:
    /// [`PageError::Forbidden`] (403) when the token is missing or invalid,
    /// [`PageError::BadForm`] when a field is repeated, [`PageError::NotAForm`] for another
    /// content type.
    pub fn check_form(
        &self,
        req: &Request<Bytes>,
        guard: FormGuard<'_>,
    ) -> Result<CheckedForm, PageError> {
        let form = Form::read(req)?;
        let ticket = form.one("ticket")?.unwrap_or_default().to_owned();
        let token = form.one("csrf")?;
        let headers = req.headers();
        let valid = match guard {
            FormGuard::Login => self.check_login_csrf(headers, &ticket, token),
            FormGuard::Session(action) => {
                self.check_csrf(headers, &purpose(action, &ticket), token)
            }
        };
        if !valid {
            tracing::warn!("form refused: missing or invalid CSRF token");
            return Err(PageError::Forbidden);
        }
        Ok(CheckedForm { form, ticket })
    }
}

/// The purpose a signed-in form's CSRF token is bound to: its action and its ticket.
fn purpose(action: &str, ticket: &str) -> String {
    format!("{action} {ticket}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_single_or_refused() {
        let form = Form::parse(b"a=1&b=x%20y&b=2&c=");
        assert_eq!(form.one("a").unwrap(), Some("1"));
        assert_eq!(form.one("c").unwrap(), Some(""));
        assert_eq!(form.one("d").unwrap(), None);
        assert_eq!(form.one("b").unwrap_err(), PageError::BadForm);
        assert_eq!(form.all("b").collect::<Vec<_>>(), ["x y", "2"]);
    }

    #[test]
    fn only_urlencoded_bodies_are_forms() {
        let req = |ct: &str| {
            Request::post("/")
                .header(http::header::CONTENT_TYPE, ct)
                .body(Bytes::from_static(b"a=1"))
                .unwrap()
        };
        let form = Form::read(&req("application/x-www-form-urlencoded; charset=UTF-8"));
        assert_eq!(form.unwrap().one("a").unwrap(), Some("1"));
        let json = Form::read(&req("application/json"));
        assert_eq!(json.unwrap_err(), PageError::NotAForm);
    }
}
