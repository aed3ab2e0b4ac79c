//! Authorization request query parsing and validation, for a client with plain responses
//! and one with JWT responses by default (JARM §3); every error response is then built in
//! its mode (query or fragment location, JWT claims), which must stay at the redirect URI.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    validate_authorization_request, Algorithm, AuthorizeRejection, Client, Params, Policy,
};
use portcullis_fuzz::{client, issuer, NOW};

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse(data) {
        let mut jarm: Client = client().clone();
        jarm.oidc.authorization_signed_response_alg = Some(Algorithm::ES256);
        for c in [client(), &jarm] {
            let decided =
                validate_authorization_request(&params, Some(c), issuer(), &Policy::default());
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
