//! The shard decoder (gzip, header, pixels, labels) and the manifest check: `Ok` or an error,
//! never a panic; a shard that passes `verify_shard` decodes to what its manifest says.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pff::data::{ShardInfo, decode_shard, sha256_hex, verify_shard};

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = decode_shard(data, "fuzz") {
        assert_eq!(d.pixels.len(), d.len() * pff::data::PIXELS);
        let info = ShardInfo { file: "fuzz".into(), count: d.len(), sha256: sha256_hex(data) };
        assert_eq!(verify_shard(data, &info, "fuzz").unwrap(), d);
    }
});
