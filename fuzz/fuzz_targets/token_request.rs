//! Token, revocation and introspection request form parsing and client authentication
//! extraction. The first line of the input is the `Authorization` header, the rest the form
//! body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    ClientAuthentication, IntrospectionRequest, Params, RevocationRequest, TokenRequest,
};

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (Some(&data[..i]), &data[i + 1..]),
        None => (None, data),
    };
    if let Ok(params) = Params::parse(body) {
        let _ = TokenRequest::parse(&params);
        let _ = RevocationRequest::parse(&params);
        let _ = IntrospectionRequest::parse(&params);
        let _ = ClientAuthentication::extract(header, &params);
    }
});
