//! `conformance_tests!` and the one list of checks it shares with `run_conformance`.

/// Expands to one `#[test]` per conformance check, in one module per group (`clients`,
/// `codes`, `grants`, `access_tokens`, `refresh_tokens`, `revocation`, `keys`, `replay`,
/// `issuance`, `sessions`, `pushed_requests`, `device_authorizations`), so that a failure is named `codes::code_is_consumed_once`.
///
/// `conformance_tests!(make_store)` runs every group; `conformance_tests!(make_store; codes,
/// replay)` only those named. `conformance_tests!(make_store; known_failures = [check, …])`
/// runs every group but expects the named checks to fail (and fails if one passes): a way
/// to land a store with a documented gap, never to hide one. `make_store` is evaluated once
/// per test, inside that test's
/// multi-thread tokio runtime (4 workers); it must be a
/// `Fn(DbName) -> impl Future<Output = Arc<S>>`, see the crate docs. The modules import the
/// surrounding module (`use super::*`), so `make_store` may name its items.
#[macro_export]
macro_rules! conformance_tests {
    (@groups $make_store:expr; $known:tt; $($group:ident),+) => {
        $( $crate::__checks_of!($group, __conformance_mod, $make_store; $known); )+
    };
    ($make_store:expr $(,)?) => {
        $crate::conformance_tests!($make_store; known_failures = []);
    };
    ($make_store:expr; known_failures = $known:tt $(,)?) => {
        $crate::conformance_tests!(
            @groups $make_store; $known;
            clients, codes, grants, access_tokens, refresh_tokens, revocation, issuance, keys,
            replay,
            sessions, pushed_requests, device_authorizations
        );
    };
    ($make_store:expr; $($group:ident),+ $(,)?) => {
        $crate::conformance_tests!(@groups $make_store; []; $($group),+);
    };
}

/// The checks of each group, handed to the macro `$then` as
/// `$then!(group; [check, …]; args…)`. The single list both `conformance_tests!` and the
/// `run_*` functions read.
#[doc(hidden)]
#[macro_export]
macro_rules! __checks_of {
    (clients, $then:ident, $($args:tt)*) => {
        $crate::$then! {clients; [
            client_round_trip,
            registered_client_round_trip,
            client_save_replaces,
            clients_are_scoped_by_issuer,
            client_expires_at_its_expiry,
            client_delete,
            client_purge_expired,
            clients_are_listed_by_issuer,
            replace_client_compares_and_swaps,
            racing_client_replacements_on_separate_handles,
        ]; $($args)*}
    };
    (codes, $then:ident, $($args:tt)*) => {
        $crate::$then! {codes; [
            code_is_consumed_once,
            unknown_code_is_missing,
            codes_are_scoped_by_issuer,
            expired_code_is_never_consumed,
            code_purge_expired,
            handles_share_one_database,
            racing_consumers_on_one_handle,
            racing_consumers_on_separate_handles,
        ]; $($args)*}
    };
    (grants, $then:ident, $($args:tt)*) => {
        $crate::$then! {grants; [
            grant_round_trip,
            grant_save_replaces,
            grants_are_listed_by_subject_and_client,
            revoke_grant_marks_it_revoked,
            a_stale_save_keeps_the_revocation_and_saves_the_rest,
            grant_purge_expired,
            touch_grant_records_use_of_live_grants_only,
            racing_touches_on_separate_handles,
        ]; $($args)*}
    };
    (access_tokens, $then:ident, $($args:tt)*) => {
        $crate::$then! {access_tokens; [
            access_token_round_trip,
            revoke_access_token_kills_only_that_token,
            access_token_purge_expired,
        ]; $($args)*}
    };
    (refresh_tokens, $then:ident, $($args:tt)*) => {
        $crate::$then! {refresh_tokens; [
            refresh_token_round_trip,
            rotation_happens_once,
            rotation_grace_is_bounded,
            refresh_token_purge_expired,
            racing_rotations_on_one_handle,
            racing_rotations_on_separate_handles,
            racing_grace_claims_on_one_handle,
            racing_grace_claims_on_separate_handles,
        ]; $($args)*}
    };
    (revocation, $then:ident, $($args:tt)*) => {
        $crate::$then! {revocation; [
            revoked_grant_kills_its_tokens,
            revoking_a_clients_grants_kills_its_tokens,
            revoked_family_kills_its_tokens,
            revoke_family_is_scoped_by_issuer,
            rotations_racing_a_revocation_leave_nothing_alive,
        ]; $($args)*}
    };
    (issuance, $then:ident, $($args:tt)*) => {
        $crate::$then! {issuance; [
            issue_tokens_only_under_a_live_grant,
            rotate_and_issue_happens_once,
            racing_rotate_and_issue_on_separate_handles,
        ]; $($args)*}
    };
    (keys, $then:ident, $($args:tt)*) => {
        $crate::$then! {keys; [
            key_round_trip,
            retire_key_keeps_the_earlier_retirement,
            reseal_key_swaps_only_the_current_private_key,
            racing_reseals_on_separate_handles,
            key_purge_expired,
        ]; $($args)*}
    };
    (replay, $then:ident, $($args:tt)*) => {
        $crate::$then! {replay; [
            an_id_is_fresh_once,
            namespaces_and_issuers_are_independent,
            an_expired_entry_is_fresh_again,
            an_id_expired_on_arrival_is_never_fresh,
            replay_purge_expired,
            racing_replay_checks_on_one_handle,
            racing_replay_checks_on_separate_handles,
        ]; $($args)*}
    };
    (sessions, $then:ident, $($args:tt)*) => {
        $crate::$then! {sessions; [
            session_round_trip,
            session_expires_at_its_expiry,
            deleted_session_is_never_found,
            sessions_are_scoped_by_issuer,
            delete_sessions_of_subject_spares_the_others,
            racing_deletes_on_separate_handles,
            session_purge_expired,
        ]; $($args)*}
    };
    (pushed_requests, $then:ident, $($args:tt)*) => {
        $crate::$then! {pushed_requests; [
            pushed_request_is_taken_once,
            expired_pushed_request_is_never_taken,
            pushed_requests_are_scoped_by_issuer,
            pushed_request_purge_expired,
            racing_takers_on_one_handle,
            racing_takers_on_separate_handles,
        ]; $($args)*}
    };
    (device_authorizations, $then:ident, $($args:tt)*) => {
        $crate::$then! {device_authorizations; [
            device_authorization_round_trip,
            device_authorization_is_answered_once,
            device_polls_are_recorded,
            approved_device_authorization_is_taken_once,
            device_authorization_purge_expired,
            racing_device_takers_on_one_handle,
            racing_device_takers_on_separate_handles,
            racing_device_polls_on_separate_handles,
            racing_device_inserts_on_separate_handles,
        ]; $($args)*}
    };
}

/// One module of tests for a group.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_mod {
    ($group:ident; [$($check:ident),+ $(,)?]; $make_store:expr; [$($known:ident),*]) => {
        mod $group {
            #[allow(unused_imports)]
            use super::*;
            const __KNOWN_FAILURES: &[&str] = &[$(stringify!($known)),*];
            $(
                #[test]
                fn $check() {
                    $crate::__private::run_test(
                        stringify!($check),
                        __KNOWN_FAILURES.contains(&stringify!($check)),
                        || $make_store,
                        |h| $crate::checks::$group::$check(h),
                    );
                }
            )+
        }
    };
}

/// Runs a group's checks through a `Runner`, inside an async fn.
#[doc(hidden)]
#[macro_export]
macro_rules! __run_group {
    ($group:ident; [$($check:ident),+ $(,)?]; $runner:expr) => {
        $( $runner.run(stringify!($check), $crate::checks::$group::$check).await; )+
    };
}
