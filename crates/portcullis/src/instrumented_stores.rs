//! One wrapper around every store trait: each call in a `portcullis.store` span, its latency
//! and failures in the metrics ([`crate::observability::store_call`]). The provider wraps
//! the stores it is given ([`Stores::instrumented`]), so every host gets it.
//!
//! Every method forwards to the wrapped store's own, never to a trait default: a store's
//! overrides (its atomic statements) stay in use.

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_core::{
    AccessTokenRecord, Client, CodeRecord, DeviceAuthorizationRecord, FamilyId, Grant, GrantId,
    Issuer, KeyRecord, PrivateKeyEnvelope, PushedRequestRecord, RefreshTokenRecord, TokenHash,
    UnixTime,
};
use portcullis_store::{
    AccessTokenStore, ClientStore, CodeStore, ConsumeOutcome, DeviceAuthorizationStore,
    DeviceInsertOutcome, GrantStore, GrantUse, KeyStore, PushedRequestStore, RefreshState,
    RefreshTokenStore, ReplayCache, ReplayNamespace, ReplayOutcome, RotateIssueOutcome,
    RotateOutcome, RotationGrace, StoreResult, TokenIssuance,
};

use crate::observability::store_call;
use crate::stores::Stores;

/// A store whose every call is observed.
struct Instrumented<S: ?Sized>(Arc<S>);

impl Stores {
    /// These stores, each call observed.
    pub(crate) fn instrumented(self) -> Self {
        let issuance = self.issuance_of_the_same_store();
        Self {
            clients: Arc::new(Instrumented(self.clients)),
            codes: Arc::new(Instrumented(self.codes)),
            grants: Arc::new(Instrumented(self.grants)),
            access_tokens: Arc::new(Instrumented(self.access_tokens)),
            refresh_tokens: Arc::new(Instrumented(self.refresh_tokens)),
            issuance: issuance.map(|s| Arc::new(Instrumented(s)) as Arc<dyn TokenIssuance>),
            keys: Arc::new(Instrumented(self.keys)),
            replays: Arc::new(Instrumented(self.replays)),
            pushed_requests: Arc::new(Instrumented(self.pushed_requests)),
            device_authorizations: Arc::new(Instrumented(self.device_authorizations)),
        }
    }
}

#[async_trait]
impl<S: ClientStore + ?Sized> ClientStore for Instrumented<S> {
    async fn find_client(
        &self,
        issuer: &Issuer,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<Arc<Client>>> {
        store_call("find_client", self.0.find_client(issuer, client_id, now)).await
    }

    async fn save_client(&self, issuer: &Issuer, client: &Client) -> StoreResult<()> {
        store_call("save_client", self.0.save_client(issuer, client)).await
    }

    async fn delete_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<bool> {
        store_call("delete_client", self.0.delete_client(issuer, client_id)).await
    }

    async fn list_clients(&self, issuer: &Issuer, now: UnixTime) -> StoreResult<Vec<Arc<Client>>> {
        store_call("list_clients", self.0.list_clients(issuer, now)).await
    }

    async fn replace_client(
        &self,
        issuer: &Issuer,
        current: Option<&Client>,
        replacement: &Client,
    ) -> StoreResult<bool> {
        let call = self.0.replace_client(issuer, current, replacement);
        store_call("replace_client", call).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        store_call("purge_clients", ClientStore::purge_expired(&*self.0, now)).await
    }
}

#[async_trait]
impl<S: CodeStore + ?Sized> CodeStore for Instrumented<S> {
    async fn insert_code(&self, record: &CodeRecord) -> StoreResult<()> {
        store_call("insert_code", self.0.insert_code(record)).await
    }

    async fn consume_code(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<ConsumeOutcome> {
        store_call("consume_code", self.0.consume_code(issuer, hash, now)).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        store_call("purge_codes", CodeStore::purge_expired(&*self.0, now)).await
    }
}

#[async_trait]
impl<S: GrantStore + ?Sized> GrantStore for Instrumented<S> {
    async fn save_grant(&self, grant: &Grant) -> StoreResult<()> {
        store_call("save_grant", self.0.save_grant(grant)).await
    }

    async fn find_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<Option<Grant>> {
        store_call("find_grant", self.0.find_grant(issuer, id)).await
    }

    async fn touch_grant(
        &self,
        issuer: &Issuer,
        id: &GrantId,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let call = self.0.touch_grant(issuer, id, now, expires_at);
        store_call("touch_grant", call).await
    }

    async fn grants_for(
        &self,
        issuer: &Issuer,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<Vec<Grant>> {
        let call = self.0.grants_for(issuer, subject, client_id);
        store_call("grants_for", call).await
    }

    async fn grants_of_subject(&self, issuer: &Issuer, subject: &str) -> StoreResult<Vec<Grant>> {
        let call = self.0.grants_of_subject(issuer, subject);
        store_call("grants_of_subject", call).await
    }

    async fn revoke_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<bool> {
        store_call("revoke_grant", self.0.revoke_grant(issuer, id)).await
    }

    async fn revoke_grants_of_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<u64> {
        let call = self.0.revoke_grants_of_client(issuer, client_id);
        store_call("revoke_grants_of_client", call).await
    }

    async fn revoke_family(
        &self,
        issuer: &Issuer,
        family_id: &FamilyId,
        until: UnixTime,
    ) -> StoreResult<()> {
        let call = self.0.revoke_family(issuer, family_id, until);
        store_call("revoke_family", call).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        store_call("purge_grants", GrantStore::purge_expired(&*self.0, now)).await
    }
}

#[async_trait]
impl<S: AccessTokenStore + ?Sized> AccessTokenStore for Instrumented<S> {
    async fn insert_access_token(&self, record: &AccessTokenRecord) -> StoreResult<()> {
        store_call("insert_access_token", self.0.insert_access_token(record)).await
    }

    async fn find_access_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        store_call("find_access_token", self.0.find_access_token(issuer, hash)).await
    }

    async fn revoke_access_token(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool> {
        let call = self.0.revoke_access_token(issuer, hash);
        store_call("revoke_access_token", call).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let call = AccessTokenStore::purge_expired(&*self.0, now);
        store_call("purge_access_tokens", call).await
    }
}

#[async_trait]
impl<S: RefreshTokenStore + ?Sized> RefreshTokenStore for Instrumented<S> {
    async fn insert_refresh_token(&self, record: &RefreshTokenRecord) -> StoreResult<()> {
        store_call("insert_refresh_token", self.0.insert_refresh_token(record)).await
    }

    async fn find_refresh_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<(RefreshTokenRecord, RefreshState)>> {
        store_call(
            "find_refresh_token",
            self.0.find_refresh_token(issuer, hash),
        )
        .await
    }

    async fn rotate_refresh_token(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
    ) -> StoreResult<RotateOutcome> {
        let call = self.0.rotate_refresh_token(issuer, old, successor, grace);
        store_call("rotate_refresh_token", call).await
    }

    async fn claim_rotation_grace(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<String>> {
        let call = self.0.claim_rotation_grace(issuer, old, now);
        store_call("claim_rotation_grace", call).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let call = RefreshTokenStore::purge_expired(&*self.0, now);
        store_call("purge_refresh_tokens", call).await
    }
}

#[async_trait]
impl<S: TokenIssuance + ?Sized> TokenIssuance for Instrumented<S> {
    async fn issue_tokens(
        &self,
        grant: &GrantUse<'_>,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
    ) -> StoreResult<bool> {
        store_call("issue_tokens", self.0.issue_tokens(grant, refresh, access)).await
    }

    async fn rotate_and_issue(
        &self,
        grant: &GrantUse<'_>,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
        access: &AccessTokenRecord,
    ) -> StoreResult<RotateIssueOutcome> {
        let call = self
            .0
            .rotate_and_issue(grant, old, successor, grace, access);
        store_call("rotate_and_issue", call).await
    }
}

#[async_trait]
impl<S: KeyStore + ?Sized> KeyStore for Instrumented<S> {
    fn persists(&self) -> bool {
        self.0.persists()
    }

    async fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        store_call("insert_key", self.0.insert_key(key)).await
    }

    async fn reseal_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        old: &PrivateKeyEnvelope,
        new: &PrivateKeyEnvelope,
    ) -> StoreResult<bool> {
        store_call("reseal_key", self.0.reseal_key(issuer, kid, old, new)).await
    }

    async fn keys(&self, issuer: &Issuer) -> StoreResult<Vec<KeyRecord>> {
        store_call("keys", self.0.keys(issuer)).await
    }

    async fn retire_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        retires_at: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let call = self.0.retire_key(issuer, kid, retires_at, expires_at);
        store_call("retire_key", call).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        store_call("purge_keys", KeyStore::purge_expired(&*self.0, now)).await
    }
}

#[async_trait]
impl<S: ReplayCache + ?Sized> ReplayCache for Instrumented<S> {
    async fn check_and_insert(
        &self,
        issuer: &Issuer,
        namespace: ReplayNamespace,
        id: &TokenHash,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<ReplayOutcome> {
        let call = self
            .0
            .check_and_insert(issuer, namespace, id, expires_at, now);
        store_call("check_and_insert", call).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        store_call("purge_replays", ReplayCache::purge_expired(&*self.0, now)).await
    }
}

#[async_trait]
impl<S: PushedRequestStore + ?Sized> PushedRequestStore for Instrumented<S> {
    async fn insert_pushed_request(&self, record: &PushedRequestRecord) -> StoreResult<()> {
        let call = self.0.insert_pushed_request(record);
        store_call("insert_pushed_request", call).await
    }

    async fn consume_pushed_request(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PushedRequestRecord>> {
        let call = self.0.consume_pushed_request(issuer, hash, now);
        store_call("consume_pushed_request", call).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let call = PushedRequestStore::purge_expired(&*self.0, now);
        store_call("purge_pushed_requests", call).await
    }
}

#[async_trait]
impl<S: DeviceAuthorizationStore + ?Sized> DeviceAuthorizationStore for Instrumented<S> {
    async fn insert_device_authorization(
        &self,
        record: &DeviceAuthorizationRecord,
    ) -> StoreResult<DeviceInsertOutcome> {
        let call = self.0.insert_device_authorization(record);
        store_call("insert_device_authorization", call).await
    }

    async fn find_device_authorization_by_user_code(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let call = self
            .0
            .find_device_authorization_by_user_code(issuer, user_code_hash, now);
        store_call("find_device_authorization_by_user_code", call).await
    }

    async fn answer_device_authorization(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        approval: Option<&CodeRecord>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let call = self
            .0
            .answer_device_authorization(issuer, user_code_hash, approval, now);
        store_call("answer_device_authorization", call).await
    }

    async fn poll_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let call = self.0.poll_device_authorization(issuer, hash, now);
        store_call("poll_device_authorization", call).await
    }

    async fn take_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let call = self.0.take_device_authorization(issuer, hash, now);
        store_call("take_device_authorization", call).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let call = DeviceAuthorizationStore::purge_expired(&*self.0, now);
        store_call("purge_device_authorizations", call).await
    }
}
