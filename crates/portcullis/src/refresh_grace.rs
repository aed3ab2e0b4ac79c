//! The refresh grace period: racers presenting a just-rotated refresh token get the one
//! answer the rotation gave, within bounds (see `portcullis_core::RefreshGrace`).

use std::time::Duration;

use portcullis_core::{
    open_grace_answer, seal_grace_answer, Client, RefreshTokenRecord, TokenResponse, UnixTime,
};
use portcullis_store::RotationGrace;

use crate::client_endpoint::TokenEndpointError;
use crate::provider::Provider;

impl Provider {
    /// What a rotation at `now` keeps for `client`'s grace period, if it has one: `answer`,
    /// sealed under a key derived from the presented (old) refresh token.
    pub(crate) fn grace_to_keep(
        &self,
        client: &Client,
        presented: &str,
        answer: &TokenResponse,
        now: UnixTime,
    ) -> Result<Option<RotationGrace>, TokenEndpointError> {
        let Some(grace) = client.tokens.refresh.grace else {
            return Ok(None);
        };
        let until = now.plus(Duration::from_secs(grace.window_secs));
        let inner = &self.inner;
        let sealed = seal_grace_answer(
            presented,
            answer,
            now,
            until,
            &inner.issuer,
            inner.rng.as_ref(),
        )?;
        Ok(Some(RotationGrace {
            sealed_answer: sealed,
            until,
            max_claims: grace.max_reuses,
        }))
    }

    /// The answer kept by the rotation of `old`, if `client` presented it (as `presented`)
    /// within its grace period; `None` means the presentation is reuse.
    pub(crate) async fn grace_answer(
        &self,
        client: &Client,
        old: &RefreshTokenRecord,
        presented: &str,
        now: UnixTime,
    ) -> Result<Option<TokenResponse>, TokenEndpointError> {
        if client.tokens.refresh.grace.is_none() || old.client_id != client.id {
            return Ok(None);
        }
        let inner = &self.inner;
        let sealed = inner
            .stores
            .refresh_tokens
            .claim_rotation_grace(&inner.issuer, &old.hash, now)
            .await?;
        let answer = sealed.and_then(|s| open_grace_answer(presented, &s, &inner.issuer, now));
        if answer.is_some() {
            tracing::info!(client_id = %client.id, "rotated refresh token presented within its grace period");
        }
        Ok(answer)
    }
}
