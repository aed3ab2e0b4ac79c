//! A route's required scope named by a type, for the framework extractors.

use std::marker::PhantomData;
use std::ops::Deref;

use crate::{Authenticated, Forbidden};

/// A scope a route requires, named by a type: `struct Payments; impl RequiredScope for
/// Payments { const SCOPE: &'static str = "payments"; }`.
pub trait RequiredScope: Send + Sync + 'static {
    /// The scopes, space-separated.
    const SCOPE: &'static str;
}

/// An authenticated request whose token carries `T`'s scope; 403 `insufficient_scope`
/// otherwise (RFC 6750 §3.1). Dereferences to the [`Authenticated`] request.
pub struct RequireScope<T> {
    authenticated: Authenticated,
    scope: PhantomData<T>,
}

impl<T: RequiredScope> RequireScope<T> {
    /// `authenticated` if its token carries `T`'s scope.
    pub(crate) fn check(authenticated: Authenticated) -> Result<Self, Forbidden> {
        authenticated.require_scope(T::SCOPE)?;
        Ok(Self {
            authenticated,
            scope: PhantomData,
        })
    }

    /// The authenticated request.
    pub fn into_inner(self) -> Authenticated {
        self.authenticated
    }
}

impl<T> Clone for RequireScope<T> {
    fn clone(&self) -> Self {
        Self {
            authenticated: self.authenticated.clone(),
            scope: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for RequireScope<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequireScope")
            .field(&self.authenticated)
            .finish()
    }
}

impl<T> Deref for RequireScope<T> {
    type Target = Authenticated;

    fn deref(&self) -> &Authenticated {
        &self.authenticated
    }
}
