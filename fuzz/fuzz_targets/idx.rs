//! The IDX parsers (images and labels, gzipped or not).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pff::data::{maybe_gunzip, parse_idx_images, parse_idx_labels};

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = maybe_gunzip(data, "fuzz") {
        let _ = parse_idx_images(&raw, "fuzz");
        let _ = parse_idx_labels(&raw, "fuzz");
    }
});
