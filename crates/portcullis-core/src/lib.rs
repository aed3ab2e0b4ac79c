//! Portcullis core: the OAuth 2.0 protocol without I/O.
//!
//! Every function here is pure: the current time is an argument, randomness comes from an
//! injected [`ring::rand::SecureRandom`], and nothing touches the network, a clock, a store
//! or the environment. The engine (`portcullis`) performs the effects these functions decide.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod authorization_details;
mod authorization_response;
mod authorize;
mod backchannel_logout;
mod bearer;
mod client;
mod client_assertion;
mod client_auth;
mod client_certificate;
mod client_id_metadata;
mod client_secret;
mod client_secret_rotation;
mod consent;
mod device_authorization;
mod dpop;
mod error;
mod id_token;
mod ids;
mod interaction;
mod introspection;
mod issuer;
mod jose;
mod key_encryption;
mod login_decision;
mod oidc;
mod params;
mod pkce;
mod policy;
mod public_address;
mod pushed_request;
mod records;
mod redirect_uri;
mod refresh_grace;
mod registration;
mod request_object;
mod resources;
mod response_type;
mod revocation;
mod scope;
mod sealed_secret;
mod secret;
mod security_profile;
mod signing_keys;
mod standard_claims;
mod time;
mod token;
mod token_binding;
mod trusted_jwt;

pub use authorization_details::{
    AuthorizationDetail, AuthorizationDetailsError, AuthorizationDetailsType,
    AuthorizationDetailsTypes, MAX_AUTHORIZATION_DETAILS, MAX_AUTHORIZATION_DETAILS_LEN,
};
pub use authorization_response::AuthorizationResponse;
pub use authorize::{
    reject_authorization_request, validate_authorization_request, AuthorizationRequest,
    AuthorizeRejection, CodeApproval, ErrorRedirect, FrontChannelAccessToken, FrontChannelTokens,
    IssuedCode, AUTHORIZE_PARAMETER_LIMITS,
};
pub use backchannel_logout::{
    is_backchannel_logout_uri, is_registrable_backchannel_logout_uri, logout_notice, next_step,
    session_sid, AttemptResult, DeliveryStep, LoggedOut, LogoutNotice, LogoutTokenClaims,
    BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_LIFETIME, LOGOUT_TOKEN_TYPE, MAX_GRANT_SESSIONS,
    MAX_LOGOUT_BACKOFF, MAX_LOGOUT_RETRIES,
};
pub use bearer::{
    access_token_credentials, bearer_credentials, AccessTokenCredentials, BearerCredentials,
    TokenScheme,
};
pub use client::{
    Client, ClientError, ClientKeys, ClientKind, ClientOidc, ClientRequests, ClientTokens,
    ConsentRule, GrantType, PkcePolicy, RefreshGrace, RefreshPolicy, SecretMethod, SectorError,
    SubjectType,
};
pub use client_assertion::{
    AcceptedAssertion, ClientAssertion, ClientAssertionPolicy, VerifiedAssertion,
    JWT_BEARER_ASSERTION_TYPE, MAX_CLOCK_SKEW,
};
pub use client_auth::{
    authenticate_client, ClientAuthMethod, ClientAuthentication, PresentedCredentials,
};
pub use client_certificate::{
    authenticate_client_certificate, certificate_key_registered, CertificateChain,
    CertificateSubject, ClientCertificate, ClientCertificateAuth,
};
pub use client_id_metadata::{
    cache_control_max_age, client_from_metadata_document, document_max_age, is_client_id_url,
    DEFAULT_DOCUMENT_AGE, MAX_DOCUMENT_AGE, MAX_DOCUMENT_BYTES, MIN_DOCUMENT_AGE,
};
pub use client_secret::{ClientSecretHash, ClientSecretHashError};
pub use client_secret_rotation::{
    PreviousSecret, SecretCheck, SecretRotationError, MAX_SECRET_ROLLOVER,
};
pub use consent::{consent_remembered, grant_at_consent, Consent};
pub use device_authorization::{
    decide_device_poll, normalize_user_code, user_code_hash, DeviceAuthorizationPolicy,
    DeviceAuthorizationRecord, DeviceAuthorizationRequest, DeviceAuthorizationResponse, DevicePoll,
    DeviceStatus, IssuedDeviceAuthorization, DEVICE_CODE_GRANT_TYPE, SLOW_DOWN_STEP,
    USER_CODE_ALPHABET, USER_CODE_LEN,
};
pub use dpop::{
    DpopError, DpopNonces, DpopPolicy, DpopProof, DpopRequest, VerifiedDpopProof, DPOP_PROOF_TYPE,
    MAX_DPOP_PROOF_LEN,
};
pub use error::{AuthorizeErrorCode, BearerErrorCode, OAuthError, TokenErrorCode};
pub use id_token::{half_hash, is_protocol_claim, merge_extra_claims, IdTokenClaims};
pub use ids::{random_id, FamilyId, GrantId};
pub use interaction::{
    open_payload, open_ticket, seal_payload, seal_ticket, InteractionKey, SealError, TicketError,
    MAX_TICKET_LEN,
};
pub use introspection::{
    may_introspect_access_token, may_introspect_refresh_token, ActiveToken, Introspection,
    IntrospectionJwtClaims, IntrospectionRequest, Introspector,
};
pub use issuer::{Issuer, IssuerError};
pub use jose::{
    sign_compact, verify_compact, verify_compact_hmac, Algorithm, JoseError, Jwk, JwkSet,
    JwsHeader, MacAlgorithm, SigningKey, UnsignedJws, VerifiedJws, VerifyingKey,
};
pub use key_encryption::{
    EnvelopeState, KeyBinding, KeyEncryptionKey, KeyEncryptionKeys, KeySealError, PrivateKeyDer,
    PrivateKeyEnvelope,
};
pub use login_decision::{
    decide_login, oidc_session, ApprovedAuthentication, InteractionRequired, LoginDecision,
    LoginPrompt, LoginReason, SignedIn,
};
pub use oidc::{
    pairwise_subject, release_claims, release_id_token_claims, AcrClaim, ClaimsRequest,
    LoginRequest, OidcRequest, OidcSession, Prompt,
};
pub use params::{Params, ParamsError};
pub use pkce::{CodeChallenge, CodeChallengeMethod};
pub use policy::{KeyPolicy, Lifetimes, Policy};
pub use public_address::is_public_address;
pub use pushed_request::{
    names_pushed_request, push_authorization_request, pushed_request_hash, resolve_pushed_request,
    validate_pushed_authorization_request, PushContext, PushRejection, PushedParams, PushedRequest,
    PushedRequestPolicy, PushedRequestRecord, MAX_PUSHED_REQUEST_LIFETIME,
    PUSHED_REQUEST_URI_PREFIX,
};
pub use records::{AccessTokenRecord, CodeRecord, Grant, RefreshTokenRecord, SessionRecord};
pub use redirect_uri::{RedirectUri, RedirectUriError};
pub use refresh_grace::{open_grace_answer, seal_grace_answer};
pub use registration::{
    client_kind, limits as registration_limits, needs_secret, ApplicationType, AssertionAlgorithm,
    ClientMetadata, ClientRegistration, KeptSecret, RegistrationError, RegistrationErrorCode,
    RegistrationRequest, RegistrationRules,
};
pub use request_object::{
    is_request_object_type, is_unsigned_request_object, request_object_refusal,
    unsigned_request_object, verify_request_object, AcceptedRequestObject, ClientRequestObjects,
    RequestObjectPolicy, VerifiedRequestObject, REQUEST_OBJECT_TYPE,
};
pub use resources::{
    format_for_audience, narrow_resources, requested_resources, scopes_for_audience, Resource,
    ResourceError, TokenFormat,
};
pub use response_type::{
    ResponseDelivery, ResponseMode, ResponseTransport, ResponseType, DEFAULT_JARM_ALG,
};
pub use revocation::{RevocationRequest, TokenKind};
pub use scope::{negotiate_scopes, ScopeError, ScopeSet};
pub use sealed_secret::{
    ClientSecretSealError, JwtClientSecret, SealedClientSecret, MIN_JWT_SECRET_BYTES,
};
pub use secret::{constant_time_eq, RandomError, SecretToken, TokenHash};
pub use security_profile::{
    Fapi2Violation, SecurityProfile, FAPI2_ALGORITHMS, FAPI2_MAX_CODE_LIFETIME,
};
pub use signing_keys::{active_key, pending_key, plan_rotation, KeyRecord, Rotation};
pub use standard_claims::{
    check_claim_value, scope_claims, standard_claim, ClaimType, StandardClaim, ADDRESS_MEMBERS,
    STANDARD_CLAIMS,
};
pub use time::UnixTime;
pub use token::{
    check_code_binding, check_refresh_token, decide_client_credentials, decide_code_exchange,
    decide_password_grant, grant_revoked, live_scopes, mint_access_token, mint_jwt_access_token,
    mint_refresh_token, prepare_jwt_access_token, AuthorizationCodeGrant, ClientCredentialsGrant,
    CodeExchange, Delegation, DeviceCodeGrant, LiveScopes, MintedToken, PasswordDecision,
    PasswordGrant, RefreshCheck, RefreshDecision, RefreshTokenGrant, TokenRequest, TokenResponse,
    TokenSubject, UnsignedJwtAccessToken,
};
pub use token::{
    check_grant_assertion, decide_jwt_bearer_scopes, decide_token_exchange, exchange_audience,
    id_token_auth_time, AcceptedGrantAssertion, ExchangeDecision, ExchangeMode, ExchangeParty,
    ExchangeRole, JwtBearerGrant, JwtBearerPolicy, PartySubject, TokenExchangeGrant,
    TokenExchangePolicy, TokenType,
};
pub use token_binding::{
    certificate_thumbprint, decide_token_binding, token_type, Confirmation, HolderProof,
    TokenBinding,
};
pub use trusted_jwt::TrustedIssuer;
