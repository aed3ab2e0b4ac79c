//! Authorization request query parsing and validation, for a client with plain responses,
//! one with JWT responses by default (JARM §3), and one registered for every implicit and
//! hybrid response type under `Policy::dangerous_allow_implicit`; every error response is
//! then built in its mode (query or fragment location, JWT claims), which must stay at the
//! redirect URI, and an accepted request whose response carries tokens never travels in the
//! query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    validate_authorization_request, Algorithm, AuthorizeRejection, Client, Params, Policy,
    ResponseTransport, ResponseType,
};
use portcullis_fuzz::{client, issuer, NOW};

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse(data) {
        let mut jarm: Client = client().clone();
        jarm.oidc.authorization_signed_response_alg = Some(Algorithm::ES256);
        let mut legacy: Client = client().clone();
        legacy.requests.response_types = ResponseType::ALL.into_iter().skip(1).collect();
        let standard = Policy::default();
        let mut implicit = Policy::default();
        implicit.dangerous_allow_implicit = true;
        for (c, policy) in [
            (client(), &standard),
            (&jarm, &standard),
            (&legacy, &implicit),
        ] {
            let decided = validate_authorization_request(&params, Some(c), issuer(), policy);
            if let Ok(request) = &decided {
                if request.response_type().carries_tokens() {
                    assert_ne!(request.delivery().transport, ResponseTransport::Query);
                }
            }
            if let Err(AuthorizeRejection::Redirect(e)) = decided {
                let r = e.response;
                for location in [r.plain_location(), r.location(&[("response", "a.b.c")])]
                    .into_iter()
                    .flatten()
                {
                    assert!(location.starts_with(r.redirect_uri()), "{location}");
                }
                let claims = r.jwt_claims(NOW);
                assert_eq!(claims["aud"], "app");
                assert_eq!(claims["iss"], portcullis_fuzz::ISSUER);
            }
        }
    }
});
