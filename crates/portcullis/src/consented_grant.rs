//! The grant an approval issues under: the subject's live grant to the client with the
//! approved scopes added, or a new one — and how it is stored.

use portcullis_core::{grant_at_consent, Consent, Grant, ScopeSet, UnixTime};
use portcullis_store::StoreError;

use crate::authorize::Approval;
use crate::provider::Provider;

/// A grant after an approval, with the stored copy it came from (none for a new grant).
pub(crate) struct ConsentedGrant {
    pub(crate) grant: Grant,
    stored: Option<Grant>,
}

/// What storing a [`ConsentedGrant`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GrantStored {
    Stored,
    /// The grant was revoked (or removed) since the approval read it: nothing may be issued
    /// under it.
    Revoked,
}

impl ConsentedGrant {
    /// Whether the approval only used the stored grant: nothing but `last_used_at` and
    /// `expires_at` changed (the scopes were covered, the session already recorded).
    fn only_used(&self) -> bool {
        self.stored.as_ref().is_some_and(|stored| {
            let mut used = stored.clone();
            used.last_used_at = self.grant.last_used_at;
            used.expires_at = self.grant.expires_at;
            used == self.grant
        })
    }
}

impl Provider {
    /// The subject's live grant to the client with `scopes` added, or a new one (not saved).
    pub(crate) async fn consent_grant(
        &self,
        client_id: &str,
        approval: &Approval,
        scopes: &ScopeSet,
        now: UnixTime,
    ) -> Result<ConsentedGrant, StoreError> {
        let inner = &self.inner;
        let grants = inner
            .stores
            .grants
            .grants_for(&inner.issuer, &approval.subject, client_id)
            .await?;
        let stored = grants.clone();
        let consent = Consent {
            issuer: &inner.issuer,
            subject: &approval.subject,
            client_id,
            scopes,
        };
        let lifetime = inner.policy.lifetimes.longest_token();
        let grant = grant_at_consent(grants, &consent, now, lifetime, inner.rng.as_ref())
            .map_err(|e| StoreError::with_source("random id", e))?;
        let stored = stored.into_iter().find(|g| g.id == grant.id);
        Ok(ConsentedGrant { grant, stored })
    }

    /// Stores the grant of an approval. A grant only used records the use
    /// ([`portcullis_store::GrantStore::touch_grant`]), which never writes back a copy read
    /// before a concurrent change; anything else saves the whole grant.
    pub(crate) async fn store_consented_grant(
        &self,
        consented: &ConsentedGrant,
    ) -> Result<GrantStored, StoreError> {
        let inner = &self.inner;
        let grant = &consented.grant;
        if !consented.only_used() {
            inner.stores.grants.save_grant(grant).await?;
            return Ok(GrantStored::Stored);
        }
        let live = inner
            .stores
            .grants
            .touch_grant(
                &grant.issuer,
                &grant.id,
                grant.last_used_at,
                grant.expires_at,
            )
            .await?;
        Ok(if live {
            GrantStored::Stored
        } else {
            GrantStored::Revoked
        })
    }
}
