//! Removing what expired: the SQL stores keep expired records until asked to delete them.

use std::convert::Infallible;
use std::time::Duration;

use portcullis::Provider;

use crate::session::SessionManager;

/// Purges every `every`, the first time at once, for ever: the provider's expired codes,
/// tokens, grants, tickets and retired keys ([`Provider::purge_expired`]) and the expired
/// sessions ([`SessionManager::purge_expired`]). A failure is logged and retried at the next
/// tick. Run it beside the server (e.g. in `tokio::select!`), on a tokio runtime.
pub async fn purge_periodically(
    provider: Provider,
    sessions: SessionManager,
    every: Duration,
) -> Infallible {
    let mut ticks = tokio::time::interval(every);
    // A slow purge delays the next one rather than bunching them up.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = provider.purge_expired().await {
            tracing::warn!(error = %e, "purge failed");
        }
        if let Err(e) = sessions.purge_expired().await {
            tracing::warn!(error = %e, "session purge failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use portcullis::core::{Issuer, UnixTime};
    use portcullis::{ManualClock, Stores};
    use portcullis_store_memory::MemoryStore;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn expired_sessions_are_purged_at_every_tick() {
        let issuer = Issuer::parse("http://127.0.0.1:8080").unwrap();
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs(1_000)));
        let provider = Provider::builder(issuer.clone())
            .stores(Stores::shared(store.clone()))
            .clock(clock.clone())
            .build()
            .unwrap();
        let sessions = SessionManager::builder(issuer, store)
            .lifetime(Duration::from_secs(60))
            .clock(clock.clone())
            .build()
            .unwrap();
        let every = Duration::from_secs(600);
        let task = tokio::spawn(purge_periodically(provider, sessions.clone(), every));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let headers = HeaderMap::new();
        sessions
            .sign_in(&headers, "alice", sessions.now())
            .await
            .unwrap();
        clock.advance(61);
        tokio::time::sleep(every).await;
        // The task's second tick purged it: nothing is left to purge.
        assert_eq!(sessions.purge_expired().await.unwrap(), 0);
        task.abort();
    }
}
