//! What a user gave which application: listing grants, revoking one, and remembered consent.

use portcullis_core::{consent_remembered, Client, ConsentRule, GrantId, ScopeSet, UnixTime};
use portcullis_store::StoreError;

use crate::authorize::PendingAuthorization;
use crate::backchannel::LogoutEvent;
use crate::provider::Provider;

/// One application's access, as the host shows it to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantSummary {
    /// The grant, for [`Provider::revoke_grant`].
    pub id: GrantId,
    /// The application.
    pub client_id: String,
    /// What the user consented to.
    pub scopes: ScopeSet,
    /// When access was first given.
    pub created_at: UnixTime,
    /// When the application last redeemed a code or refresh token under it.
    pub last_used_at: UnixTime,
}

impl Provider {
    /// The live grants of `subject`: one per application they gave access to.
    pub async fn grants(&self, subject: &str) -> Result<Vec<GrantSummary>, StoreError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut out: Vec<GrantSummary> = inner
            .stores
            .grants
            .grants_of_subject(&inner.issuer, subject)
            .await?
            .into_iter()
            .filter(|g| g.is_live(now))
            .map(|g| GrantSummary {
                id: g.id,
                client_id: g.client_id,
                scopes: g.scopes,
                created_at: g.created_at,
                last_used_at: g.last_used_at,
            })
            .collect();
        out.sort_by(|a, b| (&a.client_id, a.created_at).cmp(&(&b.client_id, b.created_at)));
        Ok(out)
    }

    /// Revokes one of `subject`'s grants: every code, access and refresh token under it stops
    /// working at once; their grants to other applications are untouched. `false` if the
    /// grant is not theirs (or unknown). The application, if it registered a
    /// `backchannel_logout_uri`, gets a logout token for the user (Back-Channel Logout 1.0),
    /// sent without waiting for it.
    pub async fn revoke_grant(&self, subject: &str, grant: &GrantId) -> Result<bool, StoreError> {
        let inner = &self.inner;
        let grants = &inner.stores.grants;
        let found = match grants.find_grant(&inner.issuer, grant).await? {
            Some(g) if g.subject == subject => g,
            _ => return Ok(false),
        };
        let revoked = grants.revoke_grant(&inner.issuer, grant).await?;
        if revoked {
            crate::observability::revoked("grant");
            let _running = self.spawn_logout(LogoutEvent::GrantRevoked(found));
        }
        Ok(revoked)
    }

    /// Whether the host must ask `subject` for consent (show a consent or confirmation
    /// page; with `prompt=none`, answer `consent_required`): the client's
    /// [`ConsentRule`](portcullis_core::ConsentRule), and for `AskUnlessConsented` whether a
    /// live grant to this client already covers the requested scopes. Always with
    /// `prompt=consent`, always when the request carries authorization details (RFC 9396:
    /// each is a transaction of its own, e.g. a payment), and always for a public client whose redirect URI cannot prove its
    /// identity (RFC 8252 §8.6).
    pub async fn needs_consent(
        &self,
        pending: &PendingAuthorization,
        subject: &str,
    ) -> Result<bool, StoreError> {
        let client = self.client(pending.client_id()).await?;
        self.needs_consent_of(client.as_deref(), pending, subject)
            .await
    }

    /// [`Provider::needs_consent`] with the client already loaded (`None`: it is gone, so
    /// ask).
    pub(crate) async fn needs_consent_of(
        &self,
        client: Option<&Client>,
        pending: &PendingAuthorization,
        subject: &str,
    ) -> Result<bool, StoreError> {
        let prompt_consent = pending.oidc().is_some_and(|o| o.prompt.consent);
        let Some(client) = client else {
            return Ok(true);
        };
        // Authorization details are a transaction of their own (e.g. a payment): the user
        // sees them, even for a first-party client.
        if !pending.authorization_details().is_empty() {
            return Ok(true);
        }
        match client.consent_rule(pending.redirect_uri(), prompt_consent) {
            ConsentRule::Ask => return Ok(true),
            ConsentRule::Skip => return Ok(false),
            ConsentRule::AskUnlessConsented => {}
        }
        let inner = &self.inner;
        let now = inner.clock.now();
        let grants = inner
            .stores
            .grants
            .grants_for(&inner.issuer, subject, pending.client_id())
            .await?;
        Ok(!consent_remembered(&grants, pending.scopes(), now))
    }
}
