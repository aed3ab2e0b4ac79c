//! Where an issuer's endpoints go when one server hosts several issuers by path
//! (`https://auth.example/tenant-a`, `https://auth.example/tenant-b`), for the adapters'
//! multi-issuer routers. Framework-free: the adapters only turn it into routes.

use portcullis_core::Issuer;

use crate::paths;

/// The paths of one issuer among several on one origin, all derived from its identifier, so
/// a router cannot serve an issuer anywhere but where its discovery document says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerMount {
    /// The issuer's path, without a terminating `/` (`/tenant-a`).
    prefix: String,
}

/// Why a set of issuers cannot be served by path from one router.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// The issuer has no path (`https://auth.example`): serve it with the single-issuer
    /// router instead.
    #[error("issuer {0} has no path to serve it at")]
    NoPath(String),
    /// The issuer's path has a segment that is empty, `.` or `..`, or characters other than
    /// letters, digits, `-`, `.`, `_` and `~` (RFC 3986 §2.3), which routers would read as
    /// patterns or decode.
    #[error("issuer {0} has a path that cannot be routed literally")]
    UnsupportedPath(String),
    /// Two issuers' paths are the same, or one lies inside the other (`/a` and `/a/b`): one
    /// issuer's endpoints would shadow the other's.
    #[error("the paths of issuers {0} and {1} overlap")]
    Overlap(String, String),
}

impl IssuerMount {
    /// The paths of `issuer`, which must have a path of literal segments.
    pub fn of(issuer: &Issuer) -> Result<Self, MountError> {
        let unsupported = || MountError::UnsupportedPath(issuer.to_string());
        let uri: http::Uri = issuer.as_str().parse().map_err(|_| unsupported())?;
        // RFC 8414 §3 and OpenID Connect Discovery 1.0 §4: a terminating `/` is removed.
        let prefix = uri.path().trim_end_matches('/');
        if prefix.is_empty() {
            return Err(MountError::NoPath(issuer.to_string()));
        }
        let literal = |segment: &str| {
            !matches!(segment, "" | "." | "..")
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        };
        if !prefix[1..].split('/').all(literal) {
            return Err(unsupported());
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    /// The paths of each of `issuers`, in order, refusing overlapping ones.
    pub fn all<'a>(issuers: impl IntoIterator<Item = &'a Issuer>) -> Result<Vec<Self>, MountError> {
        let mut mounts: Vec<(Self, &Issuer)> = Vec::new();
        for issuer in issuers {
            let mount = Self::of(issuer)?;
            if let Some((_, other)) = mounts.iter().find(|(m, _)| m.overlaps(&mount)) {
                return Err(MountError::Overlap(other.to_string(), issuer.to_string()));
            }
            mounts.push((mount, issuer));
        }
        Ok(mounts.into_iter().map(|(m, _)| m).collect())
    }

    fn overlaps(&self, other: &Self) -> bool {
        let inside = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}/"));
        inside(&self.prefix, &other.prefix) || inside(&other.prefix, &self.prefix)
    }

    /// The issuer's path (`/tenant-a`): its endpoints ([`paths`]) and its OpenID Provider
    /// metadata (OpenID Connect Discovery 1.0 §4: `/tenant-a/.well-known/openid-configuration`)
    /// lie below it.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where the issuer's authorization server metadata lies (RFC 8414 §3: the well-known
    /// suffix goes between the host and the issuer's path):
    /// `/.well-known/oauth-authorization-server/tenant-a`.
    pub fn oauth_authorization_server(&self) -> String {
        format!("{}{}", paths::OAUTH_AUTHORIZATION_SERVER, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(issuer: &str) -> Result<IssuerMount, MountError> {
        IssuerMount::of(&Issuer::parse(issuer).unwrap())
    }

    #[test]
    fn the_paths_come_from_the_issuer() {
        let m = mount("https://auth.example/tenant-a/").unwrap();
        assert_eq!(m.prefix(), "/tenant-a");
        assert_eq!(
            m.oauth_authorization_server(),
            "/.well-known/oauth-authorization-server/tenant-a"
        );
        let m = mount("http://127.0.0.1:8080/org/Tenant_b.1~x").unwrap();
        assert_eq!(m.prefix(), "/org/Tenant_b.1~x");
    }

    #[test]
    fn issuers_without_a_literal_path_are_refused() {
        for issuer in ["https://auth.example", "https://auth.example/"] {
            assert_eq!(mount(issuer), Err(MountError::NoPath(issuer.into())));
        }
        for issuer in [
            "https://auth.example/{tenant}",
            "https://auth.example/a//b",
            "https://auth.example/a/../b",
            "https://auth.example/a/./b",
            "https://auth.example/caf%C3%A9",
            "https://auth.example/*rest",
            "https://auth.example/a:b",
        ] {
            assert_eq!(
                mount(issuer),
                Err(MountError::UnsupportedPath(issuer.into())),
                "{issuer}"
            );
        }
    }

    #[test]
    fn overlapping_issuers_are_refused() {
        let parse = |s: &str| Issuer::parse(s).unwrap();
        let ok = [parse("https://x.example/a"), parse("https://x.example/ab")];
        assert_eq!(IssuerMount::all(&ok).unwrap().len(), 2);
        for (first, second) in [
            ("https://x.example/a", "https://y.example/a/"),
            ("https://x.example/a", "https://x.example/a/b"),
            ("https://x.example/a/b", "https://x.example/a"),
        ] {
            let issuers = [parse(first), parse(second)];
            assert_eq!(
                IssuerMount::all(&issuers),
                Err(MountError::Overlap(first.into(), second.into()))
            );
        }
    }
}
