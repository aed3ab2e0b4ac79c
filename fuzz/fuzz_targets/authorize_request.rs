//! Authorization request query parsing and validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{validate_authorization_request, Params, Policy};
use portcullis_fuzz::{client, issuer};

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse(data) {
        let _ =
            validate_authorization_request(&params, Some(client()), issuer(), &Policy::default());
    }
});
