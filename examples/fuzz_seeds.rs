//! Writes the seed corpora of the fuzz targets (`fuzz/`) from real files: MNIST images and
//! manifests where `data/` holds them, the shipped model's prior, and small but complete
//! weights files and training states. `scripts/fuzz.sh` runs it before fuzzing.
//!
//!   cargo run --release --example fuzz_seeds -- fuzz/corpus

use pff::checkpoint::{Checkpoint, ModelMeta, Storage};
use pff::data::{Dataset, encode_shard};
use pff::run::{RunData, RunRequest, TrainingRun};
use std::path::Path;

fn put(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A few real digits when `data/mnist` is there, else synthetic ones.
fn digits(root: &Path, n: usize) -> Dataset {
    match pff::data::decode_shard(&std::fs::read(root.join("data/mnist/test-000.bin.gz")).unwrap_or_default(), "test") {
        Ok(d) => d.slice(0..n),
        Err(_) => Dataset::from_parts((0..n * 784).map(|i| (i * 7 % 256) as u8).collect(), (0..n).map(|i| (i % 10) as u8).collect(), "synthetic").unwrap(),
    }
}

fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus".into()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let d = digits(root, 3);

    put(&out.join("shard"), "three-digits.bin.gz", &encode_shard(&d.pixels, &d.labels).unwrap());
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend(&d.pixels);
    let mut labels = vec![0, 0, 8, 1, 0, 0, 0, 3];
    labels.extend(&d.labels);
    put(&out.join("idx"), "images.idx3", &images);
    put(&out.join("idx"), "labels.idx1", &labels);
    put(&out.join("idx"), "images.idx3.gz", &gzip(&images));

    for name in ["mnist", "fashion"] {
        if let Ok(m) = std::fs::read(root.join(format!("data/{name}/manifest.json"))) {
            put(&out.join("manifest"), &format!("{name}.json"), &m);
        }
    }
    let (manifest, _) = pff::data::build_shards("toy", "test", "none", &[("train", &d), ("test", &d)]).unwrap();
    put(&out.join("manifest"), "toy.json", manifest.to_json().as_bytes());

    // a small model trained for one epoch: its weights (f32, f16, with its prior) and its state
    let mut set = std::collections::BTreeMap::new();
    for (k, v) in [("hidden", 10), ("latent", 3), ("steps", 4), ("prior_components", 2)] {
        set.insert(k.to_string(), serde_json::json!(v));
    }
    let req = RunRequest { preset: Some("tiny".into()), dataset: Some("toy".into()), epochs: Some(1), no_test: true, set, ..Default::default() };
    let train = digits(root, 40);
    let mut run = TrainingRun::new(req.spec().unwrap()).unwrap();
    let data = RunData { train: &train, dev: &train, test: None };
    while !run.is_done() {
        run.advance(&data, 10).unwrap();
    }
    let best = run.best_checkpoint().unwrap();
    put(&out.join("weights"), "small-f32.safetensors", &best.to_bytes(Storage::F32).unwrap());
    put(&out.join("weights"), "small-f16.safetensors", &best.to_bytes(Storage::F16).unwrap());
    put(&out.join("weights"), "small.train.safetensors", &run.state_bytes().unwrap());
    let bare = Checkpoint { prior: None, meta: ModelMeta::default(), ..best.clone() };
    put(&out.join("weights"), "bare.safetensors", &bare.to_bytes(Storage::F32).unwrap());

    put(&out.join("prior"), "small.json", serde_json::to_string(best.prior.as_ref().unwrap()).unwrap().as_bytes());
    if let Ok(shipped) = std::fs::read(root.join("data/weights/mnist-web.safetensors"))
        && let Ok(ck) = Checkpoint::from_bytes(&shipped)
        && let Some(p) = ck.prior
    {
        put(&out.join("prior"), "mnist-web.json", serde_json::to_string(&p).unwrap().as_bytes());
    }

    for (i, p) in ["index.html", "pkg/single/pff.js", "data/mnist/manifest.json", "%2e%2e/x", "a/./b%20c", "data/weights/"].iter().enumerate() {
        put(&out.join("request_path"), &format!("path-{i}"), p.as_bytes());
    }
    let request = RunRequest { preset: Some("web".into()), train_limit: Some(1000), ..Default::default() };
    put(&out.join("run_request"), "request.json", serde_json::to_string(&request).unwrap().as_bytes());
    put(&out.join("run_request"), "sets.txt", b"lr=0.001\nhidden=200\nlr_milestones=[30,40]\ncomponent_draw=reference-softmax\n");
    println!("wrote the seed corpora under {}", out.display());
}
