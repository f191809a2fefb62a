//! The whole JavaScript-facing surface: every `#[wasm_bindgen]` item of the crate lives here.
//!
//! The page never calls this directly: `www/engine-worker.js` (a module Worker) owns one
//! [`Engine`] and answers the page's messages. Every fallible method returns
//! `Result<_, JsError>` with a readable message, inputs are validated before they reach the
//! core (so bad input is an exception, not a trap), and `console_error_panic_hook` reports any
//! panic that slips through. Pixel arrays are `Float32Array`s of 784 values in [0, 1] per
//! image; results with arrays are plain objects whose array fields are typed arrays.

use crate::checkpoint::{Checkpoint, ModelMeta, Storage};
use crate::config::{ComponentDraw, Config};
use crate::data::{self, Dataset};
use crate::error::PffError;
use crate::gmm::Gmm;
use crate::model::Pff;
use crate::ops;
use crate::train::Trainer;
use js_sys::{Array, Float32Array, Object, Reflect, Uint8Array, Uint32Array};
use ndarray::{Array2, ArrayView2};
use std::collections::HashMap;
use wasm_bindgen::prelude::*;

#[cfg(all(feature = "threads", not(target_feature = "atomics")))]
compile_error!(
    "feature `threads` needs a wasm build with shared memory: the pinned nightly with \
     -C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128, the shared-memory link \
     arguments and -Z build-std=panic_abort,std (see .cargo/threads.toml and scripts/build-wasm.sh)"
);

#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// Threads rayon can use (1 in the single-threaded build or before `initThreadPool`).
#[wasm_bindgen(js_name = threadCount)]
pub fn thread_count() -> usize {
    rayon::current_num_threads()
}

/// Whether this is the threaded build.
#[wasm_bindgen(js_name = isThreadedBuild)]
pub fn is_threaded_build() -> bool {
    cfg!(feature = "threads")
}

/// The crate version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

fn err(e: PffError) -> JsError {
    JsError::new(&e.to_string())
}

fn input(msg: impl Into<String>) -> JsError {
    JsError::new(&PffError::Input(msg.into()).to_string())
}

fn set(o: &Object, k: &str, v: impl Into<JsValue>) {
    Reflect::set(o, &JsValue::from_str(k), &v.into()).expect("setting a property on a plain object cannot fail");
}

fn f32s(v: &[f32]) -> Float32Array {
    Float32Array::from(v)
}

fn images(pixels: &[f32], d: usize) -> Result<ArrayView2<'_, f32>, JsError> {
    if pixels.is_empty() || pixels.len() % d != 0 {
        return Err(input(format!("expected a multiple of {d} pixel values, got {}", pixels.len())));
    }
    if pixels.iter().any(|v| !v.is_finite()) {
        return Err(input("pixel values must be finite"));
    }
    Ok(ArrayView2::from_shape((pixels.len() / d, d), pixels).expect("length checked"))
}

fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, JsError> {
    serde_wasm_bindgen::to_value(v).map_err(|e| JsError::new(&e.to_string()))
}

/// One PFF model with its trainer, prior and loaded data.
#[wasm_bindgen]
pub struct Engine {
    trainer: Trainer,
    meta: ModelMeta,
    prior: Option<Gmm>,
    data: HashMap<String, Dataset>,
}

#[wasm_bindgen]
impl Engine {
    /// A freshly initialised model from a preset (`tiny`, `web`, `paper`). `overrides` is a
    /// JSON object of hyper-parameters (for example `{"lr": 0.001, "steps": 8}`), or empty.
    #[wasm_bindgen(constructor)]
    pub fn new(preset: &str, seed: u32, overrides: &str) -> Result<Engine, JsError> {
        let mut cfg = Config::preset(preset).map_err(err)?;
        if !overrides.trim().is_empty() {
            let v: serde_json::Value = serde_json::from_str(overrides).map_err(|e| input(format!("overrides are not JSON: {e}")))?;
            let obj = v.as_object().ok_or_else(|| input("overrides must be a JSON object"))?;
            for (k, val) in obj {
                let s = match val {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                cfg.set(k, &s).map_err(err)?;
            }
        }
        let model = Pff::new(cfg, seed as u64).map_err(err)?;
        let meta = ModelMeta { seed: seed as u64, ..Default::default() };
        Ok(Engine { trainer: Trainer::new(model, seed as u64), meta, prior: None, data: HashMap::new() })
    }

    /// Loads a weights file (the `.safetensors` the CLI writes). Throws on anything malformed.
    #[wasm_bindgen(js_name = fromWeights)]
    pub fn from_weights(bytes: &[u8]) -> Result<Engine, JsError> {
        let ck = Checkpoint::from_bytes(bytes).map_err(err)?;
        let seed = ck.meta.seed;
        Ok(Engine { trainer: Trainer::new(ck.model, seed), meta: ck.meta, prior: ck.prior, data: HashMap::new() })
    }

    /// Replaces this engine's model with the weights in `bytes`, keeping the loaded data. On
    /// error the current model stays in place.
    #[wasm_bindgen(js_name = loadWeights)]
    pub fn load_weights(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        let ck = Checkpoint::from_bytes(bytes).map_err(err)?;
        self.trainer = Trainer::new(ck.model, ck.meta.seed);
        self.meta = ck.meta;
        self.prior = ck.prior;
        Ok(())
    }

    /// The current model as a weights file (f32, or f16 when `half` is true).
    #[wasm_bindgen(js_name = exportWeights)]
    pub fn export_weights(&self, half: bool) -> Result<Vec<u8>, JsError> {
        let ck = Checkpoint { model: self.trainer.model.clone(), meta: self.meta.clone(), prior: self.prior.clone() };
        ck.to_bytes(if half { Storage::F16 } else { Storage::F32 }).map_err(err)
    }

    /// `{config, meta, params, hasPrior, threads, epoch, batch}`.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let o = Object::new();
        set(&o, "config", to_js(&self.trainer.model.cfg)?);
        set(&o, "meta", to_js(&self.meta)?);
        set(&o, "params", self.trainer.model.num_params() as f64);
        set(&o, "hasPrior", self.prior.is_some());
        set(&o, "threads", rayon::current_num_threads() as f64);
        set(&o, "epoch", self.trainer.cursor.epoch as f64);
        set(&o, "batch", self.trainer.cursor.batch as f64);
        Ok(o.into())
    }

    /// Names the dataset the model is trained on (recorded in exported weights).
    #[wasm_bindgen(js_name = setDatasetName)]
    pub fn set_dataset_name(&mut self, name: &str) {
        self.meta.dataset = name.to_string();
    }

    /// Sets the learning rate of both optimisers (η of the schedule).
    #[wasm_bindgen(js_name = setLearningRate)]
    pub fn set_learning_rate(&mut self, lr: f64) -> Result<(), JsError> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(input(format!("learning rate must be positive, got {lr}")));
        }
        // the optimisers take it (through the schedule) at the next batch
        self.trainer.model.cfg.lr = lr;
        Ok(())
    }

    /// Adds one gzip-compressed shard to a split (`train`, `dev`, `test`); returns the split's
    /// new size. A corrupt shard throws and leaves the split unchanged.
    #[wasm_bindgen(js_name = addShard)]
    pub fn add_shard(&mut self, split: &str, gz_bytes: &[u8]) -> Result<usize, JsError> {
        let d = data::decode_shard(gz_bytes, &format!("{split} shard")).map_err(err)?;
        let entry = self.data.entry(split.to_string()).or_default();
        entry.extend(&d);
        Ok(entry.len())
    }

    /// Keeps only the first `n` images of a split.
    #[wasm_bindgen(js_name = limitSplit)]
    pub fn limit_split(&mut self, split: &str, n: usize) {
        if let Some(d) = self.data.get_mut(split) {
            d.truncate(n);
        }
    }

    /// Number of images loaded in a split.
    #[wasm_bindgen(js_name = splitSize)]
    pub fn split_size(&self, split: &str) -> usize {
        self.data.get(split).map_or(0, Dataset::len)
    }

    /// Images `start..start+count` of a split: `{pixels: Uint8Array, labels: Uint8Array}`.
    pub fn images(&self, split: &str, start: usize, count: usize) -> Result<JsValue, JsError> {
        let d = self.split(split)?;
        let end = (start + count).min(d.len());
        let start = start.min(end);
        let o = Object::new();
        set(&o, "pixels", Uint8Array::from(&d.pixels[start * data::PIXELS..end * data::PIXELS]));
        set(&o, "labels", Uint8Array::from(&d.labels[start..end]));
        Ok(o.into())
    }

    /// Trains on the next `count` batches of the `train` split (stopping early at an epoch
    /// boundary). Returns `{batches: [{goodness_loss, head_loss, gen_loss, recon_loss,
    /// forward_ce, samples}], epoch, batch, batchesPerEpoch}`.
    #[wasm_bindgen(js_name = trainBatches)]
    pub fn train_batches(&mut self, count: usize) -> Result<JsValue, JsError> {
        let data = self.data.get("train").ok_or_else(|| input("no training data loaded (add a train shard first)"))?;
        let stats = self.trainer.train_batches(data, count, |_, _| {}).map_err(err)?;
        self.meta.epochs = self.trainer.cursor.epoch;
        let o = Object::new();
        set(&o, "batches", to_js(&stats)?);
        set(&o, "epoch", self.trainer.cursor.epoch as f64);
        set(&o, "batch", self.trainer.cursor.batch as f64);
        set(&o, "batchesPerEpoch", self.trainer.batches_per_epoch(data.len()) as f64);
        Ok(o.into())
    }

    /// Starts training afresh from a new initialisation of the current configuration.
    #[wasm_bindgen(js_name = resetModel)]
    pub fn reset_model(&mut self, seed: u32) -> Result<(), JsError> {
        let model = Pff::new(self.trainer.model.cfg.clone(), seed as u64).map_err(err)?;
        self.trainer = Trainer::new(model, seed as u64);
        self.meta = ModelMeta { seed: seed as u64, ..Default::default() };
        self.prior = None;
        Ok(())
    }

    /// Evaluates the first `limit` images of a split (0 = all): `{n, accuracy, error,
    /// forward_accuracy, recon_sse, confusion, predictions: Uint8Array}`.
    pub fn evaluate(&mut self, split: &str, limit: usize) -> Result<JsValue, JsError> {
        let d = self.split(split)?;
        let n = if limit == 0 { d.len() } else { limit.min(d.len()) };
        let idx: Vec<usize> = (0..n).collect();
        let (x, labels) = d.batch(&idx);
        let ev = self.trainer.model.evaluate(x.view(), &labels);
        if split == "dev" {
            self.meta.dev_accuracy = Some(ev.accuracy);
        }
        let o: Object = to_js(&ev)?.into();
        let preds: Vec<u8> = ev.predictions.iter().map(|&p| p as u8).collect();
        set(&o, "predictions", Uint8Array::from(preds.as_slice()));
        Ok(o.into())
    }

    /// Classifies one image: `{scores, probs, forward: Float32Array(10), prediction}`. The ten
    /// label hypotheses settle together as one batch of ten rows.
    pub fn classify(&self, pixels: &[f32]) -> Result<JsValue, JsError> {
        let m = &self.trainer.model;
        let x = images(pixels, m.cfg.input_dim)?;
        if x.nrows() != 1 {
            return Err(input("classify takes exactly one image"));
        }
        let scores = m.goodness_scores(x);
        let probs = ops::softmax(scores.view());
        let fwd = m.forward_probs(x);
        let o = Object::new();
        set(&o, "scores", f32s(scores.as_slice().expect("contiguous")));
        set(&o, "probs", f32s(probs.as_slice().expect("contiguous")));
        set(&o, "forward", f32s(fwd.as_slice().expect("contiguous")));
        set(&o, "prediction", ops::argmax_rows(scores.view())[0] as f64);
        Ok(o.into())
    }

    /// Goodness-classifier predictions for many images.
    #[wasm_bindgen(js_name = classifyBatch)]
    pub fn classify_batch(&self, pixels: &[f32]) -> Result<Vec<u8>, JsError> {
        let x = images(pixels, self.trainer.model.cfg.input_dim)?;
        Ok(self.trainer.model.classify(x).into_iter().map(|p| p as u8).collect())
    }

    /// The settling of one image over K steps: `{steps, classes, hidden, label, goodness
    /// (K×C), energy (K×C×2), z1 (K×H), z2 (K×H), prediction (K×784), scores (C)}`, all
    /// Float32Arrays, row-major. `label` picks the hypothesis whose states are returned.
    pub fn settle(&self, pixels: &[f32], label: usize) -> Result<JsValue, JsError> {
        let m = &self.trainer.model;
        let x = images(pixels, m.cfg.input_dim)?;
        if x.nrows() != 1 || label >= m.cfg.classes {
            return Err(input(format!("settle takes one image and a label in 0..{}", m.cfg.classes)));
        }
        let t = m.settle_trace(x, label);
        let good: Vec<f32> = t.goodness.iter().flatten().copied().collect();
        let energy: Vec<f32> = t.layer_energy.iter().flatten().flat_map(|e| e.iter().copied()).collect();
        let o = Object::new();
        set(&o, "steps", t.steps as f64);
        set(&o, "classes", m.cfg.classes as f64);
        set(&o, "hidden", m.cfg.hidden as f64);
        set(&o, "label", label as f64);
        set(&o, "goodness", f32s(&good));
        set(&o, "energy", f32s(&energy));
        set(&o, "z1", f32s(t.z1.as_slice().expect("contiguous")));
        set(&o, "z2", f32s(t.z2.as_slice().expect("contiguous")));
        set(&o, "prediction", f32s(t.prediction.as_slice().expect("contiguous")));
        set(&o, "scores", f32s(&t.scores));
        Ok(o.into())
    }

    /// Whether a generative prior is available.
    #[wasm_bindgen(js_name = hasPrior)]
    pub fn has_prior(&self) -> bool {
        self.prior.is_some()
    }

    /// Fits the GMM prior on the latents of the first `limit` images of a split (0 = all).
    #[wasm_bindgen(js_name = fitPrior)]
    pub fn fit_prior(&mut self, split: &str, limit: usize, components: usize, seed: u32) -> Result<JsValue, JsError> {
        let d = self.split(split)?;
        let n = if limit == 0 { d.len() } else { limit.min(d.len()) };
        let idx: Vec<usize> = (0..n).collect();
        let (x, labels) = d.batch(&idx);
        let z = self.trainer.model.latents(x.view()).mapv(|v| v as f64);
        let g = Gmm::fit(z.view(), components, Some(&labels), &mut crate::rng::rng(seed as u64, &[0x6a])).map_err(err)?;
        self.prior = Some(g);
        self.prior_info()
    }

    /// `{components, weights, labels}` of the prior (labels: the digit each component mostly
    /// holds, −1 when unknown).
    #[wasm_bindgen(js_name = priorInfo)]
    pub fn prior_info(&self) -> Result<JsValue, JsError> {
        let g = self.prior.as_ref().ok_or_else(|| input("this model has no generative prior yet"))?;
        let o = Object::new();
        set(&o, "components", g.weights.len() as f64);
        set(&o, "weights", Array::from_iter(g.weights.iter().map(|&w| JsValue::from_f64(w))));
        let labels: Vec<f64> = (0..g.weights.len()).map(|c| g.component_labels.get(c).copied().flatten().map_or(-1.0, |l| l as f64)).collect();
        set(&o, "labels", Array::from_iter(labels.into_iter().map(JsValue::from_f64)));
        Ok(o.into())
    }

    /// Samples `n` digits from the prior (`component` < 0: any, by the mixture weights):
    /// `{images: Float32Array(n×784), latents: Float32Array(n×G), components: Uint32Array}`.
    pub fn sample(&self, n: usize, component: i32, seed: u32) -> Result<JsValue, JsError> {
        let g = self.prior.as_ref().ok_or_else(|| input("this model has no generative prior yet (fit one first)"))?;
        if n == 0 || n > 10_000 {
            return Err(input(format!("sample count {n} must be in 1..=10000")));
        }
        let only = usize::try_from(component).ok();
        let draw: ComponentDraw = self.trainer.model.cfg.component_draw;
        let (z, comps) = g.sample(n, draw, only, &mut crate::rng::rng(seed as u64, &[0x5a])).map_err(err)?;
        let zf = z.mapv(|v| v as f32);
        let imgs = self.trainer.model.generative.decode(zf.view());
        let comps: Vec<u32> = comps.into_iter().map(|c| c as u32).collect();
        let o = Object::new();
        set(&o, "images", f32s(imgs.as_slice().expect("contiguous")));
        set(&o, "latents", f32s(zf.as_slice().expect("contiguous")));
        set(&o, "components", Uint32Array::from(comps.as_slice()));
        Ok(o.into())
    }

    /// Top latents (N×G) of images, as the prior sees them.
    pub fn latents(&self, pixels: &[f32]) -> Result<Vec<f32>, JsError> {
        let x = images(pixels, self.trainer.model.cfg.input_dim)?;
        Ok(self.trainer.model.latents(x).into_raw_vec_and_offset().0)
    }

    /// Decodes latents (N×G) into images (N×784).
    pub fn decode(&self, latents: &[f32]) -> Result<Vec<f32>, JsError> {
        let g = self.trainer.model.cfg.latent;
        let z = images(latents, g)?;
        Ok(self.trainer.model.generative.decode(z).into_raw_vec_and_offset().0)
    }

    fn split(&self, split: &str) -> Result<&Dataset, JsError> {
        self.data.get(split).filter(|d| !d.is_empty()).ok_or_else(|| input(format!("no {split} data loaded")))
    }
}

/// `a·b` through the engine's matmul seam (m×k times k×n, row-major), for tests and benchmarks.
#[wasm_bindgen]
pub fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Result<Vec<f32>, JsError> {
    if a.len() != m * k || b.len() != k * n {
        return Err(input(format!("matmul: {} and {} values do not make {m}×{k} and {k}×{n}", a.len(), b.len())));
    }
    let av = ArrayView2::from_shape((m, k), a).expect("checked");
    let bv = ArrayView2::from_shape((k, n), b).expect("checked");
    Ok(crate::linalg::matmul(av, bv).into_raw_vec_and_offset().0)
}

/// `performance.now()` of the global scope (window or worker), or `Date.now()` without one.
fn now_ms() -> f64 {
    let perf = Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).ok().filter(|p| !p.is_undefined());
    perf.and_then(|p| {
        let f: js_sys::Function = Reflect::get(&p, &JsValue::from_str("now")).ok()?.dyn_into().ok()?;
        f.call0(&p).ok()?.as_f64()
    })
    .unwrap_or_else(js_sys::Date::now)
}

/// Best-of-`reps` GFLOP/s of an m×k·k×n product on random data.
#[wasm_bindgen(js_name = benchMatmul)]
pub fn bench_matmul(m: usize, k: usize, n: usize, reps: usize) -> f64 {
    let a = crate::rng::normal::<f32>(m, k, 1.0, 1);
    let b = crate::rng::normal::<f32>(k, n, 1.0, 2);
    let mut c = Array2::<f32>::zeros((m, n));
    crate::linalg::gemm(1.0, a.view(), b.view(), 0.0, c.view_mut());
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = now_ms();
        crate::linalg::gemm(1.0, a.view(), b.view(), 0.0, c.view_mut());
        best = best.min(now_ms() - t);
    }
    2.0 * (m * k * n) as f64 / (best.max(1e-3) / 1e3) / 1e9
}
