//! The server's request-path decoding: any path it accepts is plain and relative (no `..`, no
//! root, no prefix, no NUL), so nothing outside the served folder can be named.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Component;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Some(rel) = pff::urlpath::decode_relative(raw) {
        assert!(rel.components().all(|c| matches!(c, Component::Normal(_))), "{raw:?} decoded to {rel:?}");
        assert!(!rel.to_string_lossy().contains('\0'));
    }
});
