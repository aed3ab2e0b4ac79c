//! OpenID Connect request parameters: prompt, max_age, the claims request, and the
//! logout endpoint's parameters (all parsed by `Params` then field by field).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{ClaimsRequest, OidcRequest, Params, Prompt};

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse(data) {
        let _ = OidcRequest::parse(&params);
        let _ = params.first_repeated();
        let _ = params.all("resource").count();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ClaimsRequest::parse(text);
        let _ = Prompt::parse(text);
    }
});
