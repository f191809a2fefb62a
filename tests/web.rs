//! The JavaScript-facing surface (`src/web/`), exercised in headless Chromium: the dataset
//! store's checks, the model's inference calls, a training run, and errors with their kinds.
//! Built with `--features gpu` (the page's `webgpu` build), a run moved onto the browser's
//! WebGPU adapter trains the CPU run's batches; scripts/test.sh runs that on SwiftShader, whose
//! Chrome flags come from tests/webdriver-webgpu.json (WASM_BINDGEN_TEST_WEBDRIVER_JSON).
#![cfg(target_arch = "wasm32")]

use pff::checkpoint::{Checkpoint, ModelMeta, Storage};
use pff::data::Dataset;
use pff::run::RunRequest;
use pff::web::{DatasetStore, Model, Run, matmul, thread_count};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn get(o: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(k)).unwrap()
}

fn kind(e: JsValue) -> String {
    get(&e, "kind").as_string().unwrap_or_default()
}

fn len(v: JsValue) -> u32 {
    js_sys::Array::from(&v).length()
}

fn toy(n: usize) -> Dataset {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let pixels = (0..n * 784).map(|p| if (p % 784 + (p / 784) % 10) % 7 == 0 { 200 } else { 0 }).collect();
    Dataset::from_parts(pixels, labels, "toy").unwrap()
}

fn small_model() -> Vec<u8> {
    let mut cfg = pff::Config::tiny();
    cfg.hidden = 30;
    cfg.steps = 6;
    let model = pff::Pff::new(cfg, 1).unwrap();
    Checkpoint { model, meta: ModelMeta::default(), prior: None }.to_bytes(Storage::F32).unwrap()
}

/// A store holding the toy dataset's train, dev and test splits (every shard verified).
fn toy_store() -> (DatasetStore, Vec<pff::data::EncodedShard>) {
    let (train, dev, test) = (toy(120), toy(40), toy(30));
    let (manifest, shards) = pff::data::build_shards("toy", "test", "none", &[("train", &train), ("dev", &dev), ("test", &test)]).unwrap();
    let mut store = DatasetStore::new();
    store.set_manifest("toy", manifest.to_json().as_bytes()).unwrap();
    for split in ["train", "dev", "test"] {
        while let Some(file) = store.next_shard(split, 0).unwrap() {
            let shard = shards.iter().find(|s| s.file == file).unwrap();
            store.add_shard(split, &file, &shard.bytes).unwrap();
        }
    }
    (store, shards)
}

#[wasm_bindgen_test]
fn the_model_classifies_settles_and_round_trips_weights() {
    let bytes = small_model();
    let m = Model::from_weights(&bytes, None, None).unwrap();
    let img = vec![0.5f32; 784];
    let r = m.classify(&img).unwrap();
    let probs: Vec<f64> = js_sys::Array::from(&get(&r, "probs")).iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(probs.len(), 10);
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4);
    assert!(get(&r, "forward_prediction").as_f64().is_some(), "one naming convention: the core's field names");
    let t = m.settle(&img, 3).unwrap();
    assert_eq!(get(&t, "steps").as_f64(), Some(6.0));
    let auto = m.settle(&img, -1).unwrap();
    assert_eq!(get(&auto, "label").as_f64(), get(&auto, "winner").as_f64(), "label -1 shows the classifier's answer");
    assert_eq!(len(get(&t, "z1")), 6 * 30);
    let back = Model::from_weights(&m.export_weights(false).unwrap(), None, None).unwrap();
    assert_eq!(Checkpoint::from_bytes(&back.export_weights(false).unwrap()).unwrap().model, Checkpoint::from_bytes(&bytes).unwrap().model);
    assert_eq!(kind(m.classify(&img[..100]).unwrap_err()), "bad-input", "a wrong-sized image is an error, not a trap");
    assert_eq!(kind(m.dream(10, -1, 1).unwrap_err()), "bad-input", "no prior yet");
}

#[wasm_bindgen_test]
fn a_weights_file_is_named_by_the_page_else_by_its_url() {
    let name = |n: Option<&str>, url: Option<&str>| {
        let m = Model::from_weights(&small_model(), n.map(str::to_string), url.map(str::to_string)).unwrap();
        get(&m.info().unwrap(), "name").as_string().unwrap()
    };
    assert_eq!(name(Some("mine.safetensors"), Some("weights/x.safetensors")), "mine.safetensors");
    assert_eq!(name(None, Some("weights/mnist-web.safetensors")), "mnist-web.safetensors");
    assert_eq!(name(Some(""), Some("weights/")), "weights");
    assert_eq!(name(None, None), "weights");
}

#[wasm_bindgen_test]
fn bad_weights_are_errors_of_kind_bad_weights() {
    let good = small_model();
    for bad in [good[..good.len() - 10].to_vec(), b"not weights".to_vec(), Vec::new()] {
        assert_eq!(kind(Model::from_weights(&bad, None, None).err().unwrap()), "bad-weights");
    }
}

#[wasm_bindgen_test]
fn the_store_uses_only_shards_that_match_the_manifest() {
    let (train, dev) = (toy(60), toy(20));
    let (manifest, shards) = pff::data::build_shards("toy", "test", "none", &[("train", &train), ("dev", &dev)]).unwrap();
    let mut store = DatasetStore::new();
    store.set_manifest("toy", manifest.to_json().as_bytes()).unwrap();
    let file = store.next_shard("train", 0).unwrap().unwrap();
    let shard = &shards.iter().find(|s| s.file == file).unwrap().bytes;
    // The same images with one pixel changed, compressed again: valid gzip, wrong sha256.
    let mut altered = pff::data::decode_shard(shard, "x").unwrap();
    altered.pixels[100] ^= 0x40;
    let regzipped = pff::data::encode_shard(&altered.pixels, &altered.labels).unwrap();
    let err = store.add_shard("train", &file, &regzipped).unwrap_err();
    assert_eq!(kind(err.clone()), "corrupt-data");
    assert_eq!(get(&err, "file").as_string().unwrap(), format!("data/toy/{file}"));
    assert_eq!(store.size("train"), 0, "nothing of a failed shard is kept");
    assert_eq!(kind(store.add_shard("train", "dev-000.bin.gz", shard).unwrap_err()), "bad-input", "shards go in manifest order");
    assert_eq!(store.add_shard("train", &file, shard).unwrap(), 60);
    assert_eq!(store.next_shard("train", 0).unwrap(), None);
    let imgs = store.images("train", 5, 2).unwrap();
    assert_eq!(js_sys::Uint8Array::from(get(&imgs, "pixels")).length(), 2 * 784);
}

/// (The GPU build's runs step through Promises: its own test is below.)
#[cfg(not(feature = "gpu"))]
#[wasm_bindgen_test]
fn a_run_trains_on_the_store_and_ends_with_its_best_model() {
    let (store, _) = toy_store();
    let mut set = std::collections::BTreeMap::new();
    set.insert("hidden".to_string(), serde_json::json!(20));
    set.insert("steps".to_string(), serde_json::json!(4));
    let req = RunRequest { preset: Some("tiny".into()), dataset: Some("toy".into()), seed: Some(3), epochs: Some(2), set, ..Default::default() };
    let mut run = Run::new(serde_wasm_bindgen::to_value(&req).unwrap(), &store).unwrap();
    let mut steps = 0;
    while !run.is_done() {
        run.advance(&store, 2).unwrap();
        steps += 1;
        assert!(steps < 100, "the run ends");
    }
    assert_eq!(len(run.history().unwrap()), 3, "epochs 0, 1 and 2");
    let best = run.best_model().unwrap();
    let info = best.info().unwrap();
    let best_epoch = get(&get(&info, "meta"), "epochs").as_f64().unwrap();
    assert_eq!(get(&info, "name").as_string().unwrap(), format!("trained in this page (best: epoch {best_epoch})"), "the core names the run's model");
    let current = get(&run.current_model().unwrap().info().unwrap(), "name").as_string().unwrap();
    assert_eq!(current, "training in this page, epoch 2");
    let meta = get(&info, "meta");
    assert!(get(&meta, "epochs").as_f64().is_some(), "the best model says which epoch it came from");
    assert_eq!(get(&meta, "dataset").as_string().unwrap(), "toy");
    assert!(get(&meta, "test_accuracy").as_f64().is_some());
    assert!(!get(&info, "prior").is_null(), "the run fitted the prior");
    assert_eq!(len(get(&best.dream(10, -1, 1).unwrap(), "images")), 10 * 784);
    let map = best.latent_map(&store, "test", 0, 20).unwrap();
    assert_eq!(len(get(&map, "points")), 40);
    assert_eq!(best.class_names(&store), store.class_names(), "the model names the store's classes");
    let bad = serde_wasm_bindgen::to_value(&RunRequest { preset: Some("huge".into()), ..Default::default() }).unwrap();
    assert_eq!(kind(Run::new(bad, &store).err().unwrap()), "bad-config");
    // a run on another dataset than the store's is refused
    let other = serde_wasm_bindgen::to_value(&RunRequest { dataset: Some("mnist".into()), ..Default::default() }).unwrap();
    assert_eq!(kind(Run::new(other, &store).err().unwrap()), "bad-config");
    // the paper preset needs the GPU build: the CPU builds refuse it before making its model
    let paper = serde_wasm_bindgen::to_value(&RunRequest { preset: Some("paper".into()), dataset: Some("toy".into()), ..Default::default() }).unwrap();
    let err = Run::new(paper, &store).err().unwrap();
    assert_eq!(kind(err.clone()), "bad-config");
    assert!(get(&err, "message").as_string().unwrap().contains("the paper preset needs a GPU in the page"));
}

#[wasm_bindgen_test]
fn the_store_offers_its_dataset_with_bounds_clamped_to_it_and_its_noun() {
    let (store, _) = toy_store();
    let offer = store.offer().unwrap();
    let dev = get(&get(&offer, "bounds"), "dev_images");
    // the catalog's 2,000 dev images come down to the 40 the toy set has
    assert_eq!((get(&dev, "max").as_f64(), get(&dev, "default").as_f64()), (Some(40.0), Some(40.0)));
    assert_eq!(get(&get(&offer, "noun"), "one").as_string().unwrap(), "digit", "classes 0…9 and no noun: digits");
    assert_eq!(get(&store.noun().unwrap(), "many").as_string().unwrap(), "digits");
    let m = Model::from_weights(&small_model(), None, None).unwrap();
    assert_eq!(get(&m.noun(&store).unwrap(), "one").as_string().unwrap(), "digit");
    assert!(DatasetStore::new().offer().unwrap().is_undefined());
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

/// The toy run's request: 2×20 units, K 4, two epochs, seed 3.
#[cfg(feature = "gpu")]
fn toy_request() -> JsValue {
    let mut set = std::collections::BTreeMap::new();
    set.insert("hidden".to_string(), serde_json::json!(20));
    set.insert("steps".to_string(), serde_json::json!(4));
    let req = RunRequest { preset: Some("tiny".into()), dataset: Some("toy".into()), seed: Some(3), epochs: Some(2), set, ..Default::default() };
    serde_wasm_bindgen::to_value(&req).unwrap()
}

/// Every batch's losses of a run, stepped `advance(store, 2)` to its end, and its history.
#[cfg(feature = "gpu")]
async fn losses_to_the_end(run: &mut Run, store: &DatasetStore) -> (Vec<f64>, JsValue) {
    let mut losses = Vec::new();
    for step in 0.. {
        assert!(step < 100, "the run ends");
        if run.is_done() {
            break;
        }
        let p = run.advance(store, 2).await.unwrap();
        for b in js_sys::Array::from(&get(&p, "batches")).iter() {
            losses.extend(["goodness_loss", "head_loss", "gen_loss", "forward_ce"].map(|k| get(&b, k).as_f64().unwrap()));
        }
    }
    (losses, run.history().unwrap())
}

#[cfg(feature = "gpu")]
#[wasm_bindgen_test]
async fn a_run_on_webgpu_trains_the_cpu_runs_batches_and_ends_with_its_test_and_prior() {
    let (store, _) = toy_store();
    let mut on_cpu = Run::new(toy_request(), &store).unwrap();
    let mut on_gpu = Run::new(toy_request(), &store).unwrap();
    on_gpu.use_gpu().await.expect("a WebGPU adapter (Chrome's SwiftShader: tests/webdriver-webgpu.json)");
    assert_eq!((on_cpu.device(), on_gpu.device()), ("cpu".to_string(), "gpu".to_string()));
    let (cpu, cpu_history) = losses_to_the_end(&mut on_cpu, &store).await;
    let (gpu, gpu_history) = losses_to_the_end(&mut on_gpu, &store).await;
    assert_eq!(cpu.len(), gpu.len());
    assert_eq!(cpu.len(), 4 * 2 * 120usize.div_ceil(50), "four losses of two epochs of 3 batches (120 images, batch 50: the last one wraps)");
    let worst = cpu.iter().zip(&gpu).map(|(c, g)| (c - g).abs() / c.abs().max(1e-6)).fold(0.0, f64::max);
    assert!(worst < 1e-5, "largest relative loss difference {worst}");
    let devices: Vec<String> = js_sys::Array::from(&gpu_history).iter().skip(1).map(|r| get(&r, "device").as_string().unwrap_or_default()).collect();
    assert_eq!(devices, ["gpu", "gpu"]);
    let dev = |h: &JsValue| js_sys::Array::from(h).iter().map(|r| get(&r, "dev_accuracy").as_f64().unwrap()).collect::<Vec<_>>();
    assert_eq!(dev(&cpu_history), dev(&gpu_history), "the same dev accuracy after every epoch");
    let best = on_gpu.best_model().unwrap().info().unwrap();
    assert!(get(&get(&best, "meta"), "test_accuracy").as_f64().is_some(), "the test split was evaluated on the GPU");
    assert!(!get(&best, "prior").is_null(), "the prior was fitted on the GPU's latents");
}
