//! Property tests of the file formats: shards and weights files round-trip, and any single-byte
//! change to either is caught (an error, or a value that the sha256 check then rejects), never a
//! panic and never a silently different model or image.
#![cfg(not(target_arch = "wasm32"))]

use pff::checkpoint::{Checkpoint, ModelMeta, Storage};
use pff::data::{ShardInfo, decode_shard, encode_shard, sha256_hex, verify_shard};
use proptest::prelude::*;

fn images() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (1usize..6).prop_flat_map(|n| (proptest::collection::vec(any::<u8>(), n * 784), proptest::collection::vec(0u8..10, n)))
}

/// A small model (2×10 units) of a random seed, with random metadata.
fn small_model(seed: u64, dev: f64) -> Checkpoint {
    let mut cfg = pff::Config::tiny();
    cfg.hidden = 10;
    cfg.latent = 3;
    let model = pff::Pff::new(cfg, seed).unwrap();
    Checkpoint { model, meta: ModelMeta { dataset: "mnist".into(), seed, dev_accuracy: Some(dev), ..Default::default() }, prior: None }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn shards_round_trip((pixels, labels) in images()) {
        let gz = encode_shard(&pixels, &labels).unwrap();
        let d = decode_shard(&gz, "shard").unwrap();
        prop_assert_eq!(d.pixels, pixels);
        prop_assert_eq!(d.labels, labels);
    }

    #[test]
    fn a_changed_shard_byte_is_always_caught((pixels, labels) in images(), at in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let gz = encode_shard(&pixels, &labels).unwrap();
        let info = ShardInfo { file: "s".into(), count: labels.len(), sha256: sha256_hex(&gz) };
        let mut bad = gz.clone();
        let i = at.index(bad.len());
        bad[i] ^= xor;
        let _ = decode_shard(&bad, "shard"); // may decode (gzip's CRC misses nothing here, but need not be asked to), must not panic
        prop_assert!(verify_shard(&bad, &info, "shard").is_err(), "byte {} changed and accepted", i);
    }

    #[test]
    fn weights_round_trip_in_f32_and_f16(seed in 0u64..1000, dev in 0.0f64..1.0) {
        let ck = small_model(seed, dev);
        let back = Checkpoint::from_bytes(&ck.to_bytes(Storage::F32).unwrap()).unwrap();
        prop_assert_eq!(&back.model, &ck.model);
        prop_assert_eq!(back.meta.dev_accuracy, Some(dev));
        let half = Checkpoint::from_bytes(&ck.to_bytes(Storage::F16).unwrap()).unwrap();
        let rounded: Vec<f32> = ck.model.rep.w1.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect();
        prop_assert_eq!(half.model.rep.w1.iter().copied().collect::<Vec<f32>>(), rounded);
        prop_assert_eq!(half.meta.storage.as_str(), "f16");
    }

    #[test]
    fn a_changed_weights_byte_is_always_caught(seed in 0u64..1000, at in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let bytes = small_model(seed, 0.5).to_bytes(Storage::F32).unwrap();
        let mut bad = bytes.clone();
        let i = at.index(bad.len());
        bad[i] ^= xor;
        prop_assert!(Checkpoint::from_bytes(&bad).is_err(), "byte {} of {} changed and the file still loads", i, bad.len());
    }
}

/// Bytes of the header (where a change is most likely to stay valid JSON) get a dense sweep.
#[test]
fn every_header_byte_changed_is_caught() {
    let bytes = small_model(7, 0.25).to_bytes(Storage::F32).unwrap();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for i in 0..header_end {
        for xor in [0x01, 0x20, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= xor;
            assert!(Checkpoint::from_bytes(&bad).is_err(), "header byte {i} ^ {xor:#x} ({:?}) was accepted", bad[i] as char);
        }
    }
}
