//! The dataset manifest parser and its validation; a manifest that passes round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pff::data::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::from_json(data, "fuzz") {
        assert_eq!(Manifest::from_json(m.to_json().as_bytes(), "fuzz").unwrap(), m);
    }
});
