//! [`TokenIssuance`]: the writes that issue a grant's tokens, as one store operation.

use async_trait::async_trait;
use portcullis_core::{
    AccessTokenRecord, FamilyId, GrantId, Issuer, RefreshTokenRecord, TokenHash, UnixTime,
};

use crate::{
    AccessTokenStore, GrantStore, RefreshTokenStore, RotateOutcome, RotationGrace, StoreResult,
};

/// The use of a grant that tokens are issued under: [`GrantStore::touch_grant`]'s
/// arguments, and its liveness check.
#[derive(Debug, Clone, Copy)]
pub struct GrantUse<'a> {
    /// The grant's issuer.
    pub issuer: &'a Issuer,
    /// The grant.
    pub grant_id: &'a GrantId,
    /// When it is used: its `last_used_at`.
    pub now: UnixTime,
    /// What its life is extended to, at least (to cover the tokens issued).
    pub expires_at: UnixTime,
}

/// What [`TokenIssuance::rotate_and_issue`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateIssueOutcome {
    /// The token was rotated: the successor and the access token are stored.
    Issued,
    /// The grant is revoked or gone: nothing is issued.
    GrantRevoked,
    /// As [`RotateOutcome::AlreadyRotated`]: nothing is issued, and the caller treats it as
    /// reuse (RFC 9700 §4.14.2).
    AlreadyRotated {
        /// The token's family.
        family_id: FamilyId,
    },
    /// As [`RotateOutcome::Missing`]: nothing is issued.
    Missing,
}

/// The writes that issue tokens under a grant — record the grant's use (its liveness
/// check), rotate the presented refresh token, store the new tokens — as one operation, so
/// that a store sharing one database does them in one statement or transaction.
///
/// The defaults run the separate calls in sequence: what a store that keeps its grants and
/// tokens apart gets, and what the engine runs when a host composed its grant and token
/// stores from different values (`Stores::with_grants` and the like). Their outcome is the
/// same; an atomic store also leaves nothing half-written on a failure.
#[async_trait]
pub trait TokenIssuance: GrantStore + AccessTokenStore + RefreshTokenStore {
    /// Records `grant`'s use and, only if the grant exists and is not revoked, stores
    /// `refresh` (if any) and `access`: the code exchange, and the refresh of a token that
    /// does not rotate. `false`: the grant is revoked or gone, and nothing is stored.
    async fn issue_tokens(
        &self,
        grant: &GrantUse<'_>,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
    ) -> StoreResult<bool> {
        issue_in_sequence(self, self, self, grant, refresh, access).await
    }

    /// A refresh with rotation: rotates `old` to `successor` (keeping `grace`, as
    /// [`RefreshTokenStore::rotate_refresh_token`]), records `grant`'s use and stores
    /// `access` — all of it only if the grant stands and the rotation succeeds.
    ///
    /// **Atomicity:** as [`RefreshTokenStore::rotate_refresh_token`]: for one `old` token,
    /// across all concurrent callers and processes, at most one call returns
    /// [`RotateIssueOutcome::Issued`]. On any other outcome no token issued here is live:
    /// an atomic store stores none, the default revokes the access token it stored first
    /// (best effort: see [`rotate_in_sequence`]). An error leaves the outcome undetermined
    /// (the rotation may have happened): the caller hands out nothing.
    async fn rotate_and_issue(
        &self,
        grant: &GrantUse<'_>,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
        access: &AccessTokenRecord,
    ) -> StoreResult<RotateIssueOutcome> {
        rotate_in_sequence(self, self, self, grant, old, successor, grace, access).await
    }
}

/// [`TokenIssuance::issue_tokens`] as separate calls: the touch decides, then the inserts.
pub async fn issue_in_sequence(
    grants: &(impl GrantStore + ?Sized),
    access_tokens: &(impl AccessTokenStore + ?Sized),
    refresh_tokens: &(impl RefreshTokenStore + ?Sized),
    grant: &GrantUse<'_>,
    refresh: Option<&RefreshTokenRecord>,
    access: &AccessTokenRecord,
) -> StoreResult<bool> {
    let live = grants
        .touch_grant(grant.issuer, grant.grant_id, grant.now, grant.expires_at)
        .await?;
    if !live {
        return Ok(false);
    }
    if let Some(refresh) = refresh {
        refresh_tokens.insert_refresh_token(refresh).await?;
    }
    access_tokens.insert_access_token(access).await?;
    Ok(true)
}

/// [`TokenIssuance::rotate_and_issue`] as separate calls. The rotation comes last: a
/// failure before it leaves the presented token usable for a retry, instead of making the
/// retry look like reuse. The access token stored first is revoked unless it is issued.
#[allow(clippy::too_many_arguments)]
pub async fn rotate_in_sequence(
    grants: &(impl GrantStore + ?Sized),
    access_tokens: &(impl AccessTokenStore + ?Sized),
    refresh_tokens: &(impl RefreshTokenStore + ?Sized),
    grant: &GrantUse<'_>,
    old: &TokenHash,
    successor: &RefreshTokenRecord,
    grace: Option<&RotationGrace>,
    access: &AccessTokenRecord,
) -> StoreResult<RotateIssueOutcome> {
    access_tokens.insert_access_token(access).await?;
    let live = grants
        .touch_grant(grant.issuer, grant.grant_id, grant.now, grant.expires_at)
        .await?;
    let outcome = if live {
        match refresh_tokens
            .rotate_refresh_token(grant.issuer, old, successor, grace)
            .await?
        {
            RotateOutcome::Rotated => return Ok(RotateIssueOutcome::Issued),
            RotateOutcome::AlreadyRotated { family_id } => {
                RotateIssueOutcome::AlreadyRotated { family_id }
            }
            RotateOutcome::Missing => RotateIssueOutcome::Missing,
        }
    } else {
        RotateIssueOutcome::GrantRevoked
    };
    // Best effort: the outcome (a reuse to answer and act on, RFC 9700 §4.14.2) matters more
    // than this clean-up. The token was never handed out — its value lives only in the
    // caller's memory — so one left live by a failed revocation is one nobody can present.
    let _ = access_tokens
        .revoke_access_token(grant.issuer, &access.hash)
        .await;
    Ok(outcome)
}
