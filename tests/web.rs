//! The JavaScript-facing surface (`src/web.rs`), exercised in headless Chromium.
#![cfg(target_arch = "wasm32")]

use pff::checkpoint::Checkpoint;
use pff::web::{Engine, matmul, thread_count};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn get(o: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).unwrap()
}

/// The weights files hold the same model (byte order of the metadata may differ).
fn same_model(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Checkpoint::from_bytes(a).unwrap(), Checkpoint::from_bytes(b).unwrap());
    a.model == b.model && a.meta == b.meta
}

fn toy_shard() -> Vec<u8> {
    let n = 60;
    let mut pixels = vec![0u8; n * 784];
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    for i in 0..n {
        for p in 0..784 {
            if (p + i % 10) % 7 == 0 {
                pixels[i * 784 + p] = 200;
            }
        }
    }
    pff::data::encode_shard(&pixels, &labels).unwrap()
}

#[wasm_bindgen_test]
fn engine_classifies_settles_and_round_trips_weights() {
    let e = Engine::new("tiny", 1, "{\"hidden\": 30, \"steps\": 6}").unwrap();
    let img = vec![0.5f32; 784];
    let r = e.classify(&img).unwrap();
    let probs: js_sys::Float32Array = get(&r, "probs").into();
    assert_eq!(probs.length(), 10);
    let s: f32 = probs.to_vec().iter().sum();
    assert!((s - 1.0).abs() < 1e-4);
    let t = e.settle(&img, 3).unwrap();
    assert_eq!(get(&t, "steps").as_f64(), Some(6.0));
    let z1: js_sys::Float32Array = get(&t, "z1").into();
    assert_eq!(z1.length(), 6 * 30);
    let bytes = e.export_weights(false).unwrap();
    let back = Engine::from_weights(&bytes).unwrap();
    assert!(same_model(&back.export_weights(false).unwrap(), &bytes));
    assert!(e.classify(&img[..100]).is_err(), "a wrong-sized image is an error, not a trap");
}

#[wasm_bindgen_test]
fn corrupt_inputs_are_errors_and_the_engine_keeps_working() {
    let mut e = Engine::new("tiny", 2, "{\"hidden\": 20, \"steps\": 4}").unwrap();
    let good = e.export_weights(false).unwrap();
    let mut bad = good.clone();
    bad.truncate(good.len() - 10);
    assert!(e.load_weights(&bad).is_err());
    assert!(e.load_weights(b"not weights").is_err());
    assert!(Engine::from_weights(&[]).is_err());
    assert!(same_model(&e.export_weights(false).unwrap(), &good), "a failed load leaves the model in place");
    let shard = toy_shard();
    assert_eq!(e.add_shard("train", &shard).unwrap(), 60);
    let mut corrupt = shard.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    assert!(e.add_shard("train", &corrupt).is_err());
    assert!(e.add_shard("train", b"nope").is_err());
    assert_eq!(e.split_size("train"), 60, "a failed shard leaves the split unchanged");
    let r = e.train_batches(2).unwrap();
    let batches: js_sys::Array = get(&r, "batches").into();
    assert_eq!(batches.length(), 2);
    assert!(e.classify(&vec![0.1f32; 784]).is_ok());
    assert!(e.sample(10, -1, 1).is_err(), "no prior yet: an error, not a panic");
    e.add_shard("dev", &toy_shard()).unwrap();
    e.fit_prior("dev", 0, 2, 1).unwrap();
    let s = e.sample(10, -1, 1).unwrap();
    let imgs: js_sys::Float32Array = get(&s, "images").into();
    assert_eq!(imgs.length(), 10 * 784);
}

#[wasm_bindgen_test]
fn matmul_through_the_seam_is_correct() {
    let (m, k, n) = (37, 53, 29);
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 13) as f32 - 6.0).collect();
    let c = matmul(&a, &b, m, k, n).unwrap();
    for i in 0..m {
        for j in 0..n {
            let want: f32 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            assert!((c[i * n + j] - want).abs() < 1e-3);
        }
    }
    assert!(matmul(&a, &b, m, k + 1, n).is_err());
    assert!(thread_count() >= 1);
}
