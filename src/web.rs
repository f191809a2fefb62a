//! The whole JavaScript-facing surface: every `#[wasm_bindgen]` item of the crate lives here.
//!
//! Three handles, each what it says: a [`DatasetStore`] (verified shards of one dataset), a
//! [`Model`] (a weights file's contents, for inference) and a [`Run`] (a core training run).
//! The page's worker (`www/engine-worker.js`) holds one of each and dispatches messages to
//! them; it decides nothing itself.
//!
//! Results cross as serde structs of the core (serde-wasm-bindgen), with the core's field
//! names (snake_case) — the same names as in the weights files and `pff eval --json`. Errors
//! cross as JS `Error`s whose `kind` is the core's [`ErrorKind`](crate::ErrorKind) name
//! (`corrupt-data`, `bad-weights`, …) and, for data errors, whose `file` names the file. Inputs
//! are checked before they reach the core, so bad input is an exception, never a trap.

use crate::catalog;
use crate::checkpoint::{Checkpoint, Storage};
use crate::data::{self, Dataset, Manifest};
use crate::error::PffError;
use crate::generate;
use crate::infer::Evaluation;
use crate::ops;
use crate::run::{RunData, RunRequest, TrainingRun};
use js_sys::Reflect;
use ndarray::{Array2, ArrayView2};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
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

/// The SIMD instructions this build's kernels use: `"relaxed-simd"` (fused multiply-add, the
/// relaxed build) or `"simd128"`.
#[wasm_bindgen(js_name = simdKind)]
pub fn simd_kind() -> String {
    if cfg!(target_feature = "relaxed-simd") { "relaxed-simd" } else { "simd128" }.into()
}

/// Bytes of this instance's WebAssembly memory (it only grows; the soak test watches it).
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    Reflect::get(&memory.buffer(), &JsValue::from_str("byteLength")).ok().and_then(|v| v.as_f64()).unwrap_or(0.0)
}

/// The crate version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// The file at the site's root that says what the site publishes (`catalog::SITE_FILE`).
#[wasm_bindgen(js_name = siteFile)]
pub fn site_file() -> String {
    catalog::SITE_FILE.to_string()
}

/// The presets, defaults and limits the page offers (`catalog::Catalog`) for the site described
/// by `site` (the text of its `site.json`), or for the repository's own site without one.
#[wasm_bindgen]
pub fn catalog(site: Option<String>) -> Result<JsValue, JsValue> {
    let site = match site {
        Some(text) => catalog::Site::from_json(&text).map_err(js_error)?,
        None => catalog::Site::repository(),
    };
    to_js(&catalog::catalog_for(site))
}

/// The offer of a dataset (`catalog::DatasetOffer`: names, noun, split sizes and the bounds of
/// an in-page run on it) from the bytes of its `manifest.json`, checked like
/// [`DatasetStore::set_manifest`] checks them; throws `corrupt-data` naming the file.
#[wasm_bindgen(js_name = datasetOffer)]
pub fn dataset_offer(name: &str, bytes: &[u8]) -> Result<JsValue, JsValue> {
    to_js(&catalog::DatasetOffer::of(&checked_manifest(name, bytes)?))
}

fn checked_manifest(name: &str, bytes: &[u8]) -> Result<Manifest, JsValue> {
    let file = format!("data/{name}/manifest.json");
    let m = Manifest::from_json(bytes, &file).map_err(js_error)?;
    if m.name != name {
        return Err(js_error(PffError::data(file, format!("names dataset {:?}", m.name))));
    }
    Ok(m)
}

// ------------------------------------------------------------------------------ conversions

/// A core error as a JS `Error` with `kind` (and `file` for data errors).
pub fn js_error(e: PffError) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("PffError");
    let set = |k: &str, v: &str| Reflect::set(&err, &JsValue::from_str(k), &JsValue::from_str(v));
    let _ = set("kind", e.kind().as_str());
    if let Some(f) = e.file() {
        let _ = set("file", f);
    }
    err.into()
}

fn bad_input(msg: impl Into<String>) -> JsValue {
    js_error(PffError::Input(msg.into()))
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsValue> {
    // bytes as Uint8Array, maps as plain objects, `None` as null
    v.serialize(&serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true).serialize_maps_as_objects(true))
        .map_err(|e| js_error(PffError::Input(format!("cannot pass a result to JavaScript: {e}"))))
}

fn from_js<T: serde::de::DeserializeOwned>(v: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(v).map_err(|e| bad_input(format!("{what}: {e}")))
}

/// Bytes that cross as a `Uint8Array`.
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

fn images(pixels: &[f32], d: usize) -> Result<ArrayView2<'_, f32>, JsValue> {
    if pixels.is_empty() || !pixels.len().is_multiple_of(d) {
        return Err(bad_input(format!("expected a multiple of {d} values, got {}", pixels.len())));
    }
    if pixels.iter().any(|v| !v.is_finite()) {
        return Err(bad_input("values must be finite"));
    }
    Ok(ArrayView2::from_shape((pixels.len() / d, d), pixels).expect("length checked"))
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

fn now_seconds() -> f64 {
    now_ms() / 1e3
}

// ------------------------------------------------------------------------------ data

/// The verified shards of one dataset: every shard is checked against the manifest's sha256
/// and image count (`data::verify_shard`, as `pff` does) before any of it is kept.
#[wasm_bindgen]
#[derive(Default)]
pub struct DatasetStore {
    manifest: Option<Manifest>,
    splits: BTreeMap<String, Dataset>,
    /// Shards added per split, in manifest order.
    added: BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct ImageBatch {
    n: usize,
    pixels: Bytes,
    labels: Bytes,
}

#[wasm_bindgen]
impl DatasetStore {
    #[wasm_bindgen(constructor)]
    pub fn new() -> DatasetStore {
        DatasetStore::default()
    }

    /// Takes the dataset's manifest (the bytes of `manifest.json`) and drops any data of a
    /// previous dataset. Returns the manifest.
    #[wasm_bindgen(js_name = setManifest)]
    pub fn set_manifest(&mut self, name: &str, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let m = checked_manifest(name, bytes)?;
        let out = to_js(&m)?;
        *self = DatasetStore { manifest: Some(m), ..Default::default() };
        Ok(out)
    }

    /// The dataset's name, or `undefined` before a manifest.
    pub fn name(&self) -> Option<String> {
        self.manifest.as_ref().map(|m| m.name.clone())
    }

    /// The name to show (`Fashion-MNIST`), or `undefined` before a manifest.
    pub fn title(&self) -> Option<String> {
        self.manifest.as_ref().map(|m| m.display_name().to_string())
    }

    /// The class names, label by label (empty before a manifest).
    #[wasm_bindgen(js_name = classNames)]
    pub fn class_names(&self) -> Vec<String> {
        self.manifest.as_ref().map(Manifest::class_names).unwrap_or_default()
    }

    /// What one image of the dataset shows (`data::Noun`: `{one, many}`); before a manifest,
    /// that of the ten digits the page assumes then.
    pub fn noun(&self) -> Result<JsValue, JsValue> {
        to_js(&self.manifest.as_ref().map_or_else(|| data::Noun::for_classes(&data::digit_names(data::CLASSES)), Manifest::noun))
    }

    /// The dataset's offer (`catalog::DatasetOffer`), or `undefined` before a manifest.
    pub fn offer(&self) -> Result<JsValue, JsValue> {
        self.manifest.as_ref().map_or(Ok(JsValue::UNDEFINED), |m| to_js(&catalog::DatasetOffer::of(m)))
    }

    /// The next shard file of `split` to load so that it holds at least `want` images (0: the
    /// whole split), or `undefined` when nothing more is needed.
    #[wasm_bindgen(js_name = nextShard)]
    pub fn next_shard(&self, split: &str, want: usize) -> Result<Option<String>, JsValue> {
        let info = self.manifest()?.split(split).map_err(js_error)?;
        let have = self.size(split);
        if want > 0 && have >= want {
            return Ok(None);
        }
        Ok(info.shards.get(self.added.get(split).copied().unwrap_or(0)).map(|s| s.file.clone()))
    }

    /// Adds the shard `file` (gzip bytes) to `split` after checking its sha256 and count
    /// against the manifest. Shards go in manifest order. Returns the split's new size; a shard
    /// that fails leaves the store unchanged and throws a `corrupt-data` error naming it.
    #[wasm_bindgen(js_name = addShard)]
    pub fn add_shard(&mut self, split: &str, file: &str, bytes: &[u8]) -> Result<usize, JsValue> {
        let m = self.manifest()?;
        let info = m.split(split).map_err(js_error)?;
        let index = self.added.get(split).copied().unwrap_or(0);
        let expected = info.shards.get(index).ok_or_else(|| bad_input(format!("{split} already holds all its shards")))?;
        if expected.file != file {
            return Err(bad_input(format!("the next {split} shard is {}, not {file}", expected.file)));
        }
        let shown = format!("data/{}/{file}", m.name);
        let d = data::verify_shard(bytes, expected, &shown).map_err(js_error)?;
        m.check_labels(&d, &shown).map_err(js_error)?;
        self.splits.entry(split.to_string()).or_default().extend(&d);
        self.added.insert(split.to_string(), index + 1);
        Ok(self.size(split))
    }

    /// Images loaded in a split.
    pub fn size(&self, split: &str) -> usize {
        self.splits.get(split).map_or(0, Dataset::len)
    }

    /// `{split: images loaded}`.
    pub fn sizes(&self) -> Result<JsValue, JsValue> {
        let sizes: BTreeMap<&str, usize> = self.splits.iter().map(|(k, d)| (k.as_str(), d.len())).collect();
        to_js(&sizes)
    }

    /// Images `start..start+count` of a split: `{n, pixels: Uint8Array(n×784), labels: Uint8Array(n)}`.
    pub fn images(&self, split: &str, start: usize, count: usize) -> Result<JsValue, JsValue> {
        let d = self.split(split)?;
        let end = start.saturating_add(count).min(d.len());
        let start = start.min(end);
        to_js(&ImageBatch {
            n: end - start,
            pixels: Bytes(d.pixels[start * data::PIXELS..end * data::PIXELS].to_vec()),
            labels: Bytes(d.labels[start..end].to_vec()),
        })
    }

    fn manifest(&self) -> Result<&Manifest, JsValue> {
        self.manifest.as_ref().ok_or_else(|| bad_input("no dataset manifest loaded"))
    }

    fn split(&self, split: &str) -> Result<&Dataset, JsValue> {
        self.splits.get(split).filter(|d| !d.is_empty()).ok_or_else(|| bad_input(format!("no {split} images are loaded")))
    }

    /// A split a model reads: loaded, and of the model's image size and classes.
    fn split_for(&self, split: &str, cfg: &crate::Config) -> Result<&Dataset, JsValue> {
        let d = self.split(split)?;
        d.check_fits(cfg.input_dim, cfg.classes, &format!("{}/{split}", self.name().unwrap_or_default())).map_err(js_error)?;
        Ok(d)
    }

    /// `req` with its data limits within this dataset's bounds (`RunRequest::within`).
    fn bounded(&self, req: RunRequest) -> Result<RunRequest, JsValue> {
        let m = self.manifest()?;
        req.within(&catalog::RunBounds::for_dataset(m), &m.name).map_err(js_error)
    }

    fn run_data(&self, test: bool) -> Result<RunData<'_>, JsValue> {
        Ok(RunData { train: self.split("train")?, dev: self.split("dev")?, test: if test { Some(self.split("test")?) } else { None } })
    }
}

// ------------------------------------------------------------------------------ model

/// A model for inference: the contents of a weights file (parameters, metadata, prior).
#[wasm_bindgen]
pub struct Model {
    ck: Checkpoint,
}

#[derive(Serialize)]
struct ModelInfo<'a> {
    config: &'a crate::Config,
    meta: &'a crate::checkpoint::ModelMeta,
    params: usize,
    prior: Option<PriorInfo>,
}

#[derive(Serialize)]
struct PriorInfo {
    components: usize,
    weights: Vec<f64>,
    /// The class most of each component's images carry (`null` when unknown).
    labels: Vec<Option<usize>>,
}

#[derive(Serialize)]
struct Classification {
    scores: Vec<f32>,
    probs: Vec<f32>,
    forward: Vec<f32>,
    prediction: usize,
    forward_prediction: usize,
}

#[derive(Serialize)]
struct Evaluated<'a> {
    #[serde(flatten)]
    evaluation: &'a Evaluation,
    predictions: Bytes,
}

#[wasm_bindgen]
impl Model {
    /// Loads a weights file (the `.safetensors` the CLI writes); throws `bad-weights`.
    #[wasm_bindgen(js_name = fromWeights)]
    pub fn from_weights(bytes: &[u8]) -> Result<Model, JsValue> {
        Ok(Model { ck: Checkpoint::from_bytes(bytes).map_err(js_error)? })
    }

    /// The model as a weights file (f32, or f16 when `half`).
    #[wasm_bindgen(js_name = exportWeights)]
    pub fn export_weights(&self, half: bool) -> Result<Vec<u8>, JsValue> {
        self.ck.to_bytes(if half { Storage::F16 } else { Storage::F32 }).map_err(js_error)
    }

    /// The names of the model's classes (`Checkpoint::class_names`), with the manifest of
    /// `store` for a file that records none.
    #[wasm_bindgen(js_name = classNames)]
    pub fn class_names(&self, store: &DatasetStore) -> Vec<String> {
        self.ck.class_names(store.manifest.as_ref())
    }

    /// What one of the model's images shows (`data::Noun`): the noun of its dataset when
    /// `store` holds that dataset's manifest, else `digit` for classes named 0, 1, … and
    /// `item` for others.
    pub fn noun(&self, store: &DatasetStore) -> Result<JsValue, JsValue> {
        let dataset = self.ck.meta.dataset_or_default();
        let noun = match store.manifest.as_ref().filter(|m| m.name == dataset) {
            Some(m) => m.noun(),
            None => data::Noun::for_classes(&self.ck.class_names(None)),
        };
        to_js(&noun)
    }

    /// `{config, meta, params, prior: {components, weights, labels} | null}`.
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let prior = self.ck.prior.as_ref().map(|g| PriorInfo {
            components: g.weights.len(),
            weights: g.weights.clone(),
            labels: (0..g.weights.len()).map(|c| g.component_labels.get(c).copied().flatten()).collect(),
        });
        to_js(&ModelInfo { config: &self.ck.model.cfg, meta: &self.ck.meta, params: self.ck.model.num_params(), prior })
    }

    /// Classifies one image (784 values in [0, 1]): the ten hypotheses settle as one batch.
    pub fn classify(&self, pixels: &[f32]) -> Result<JsValue, JsValue> {
        let m = &self.ck.model;
        let x = self.one_image(pixels)?;
        let (scores, forward) = m.scores_and_forward(x);
        to_js(&Classification {
            prediction: ops::argmax_rows(scores.view())[0],
            forward_prediction: ops::argmax_rows(forward.view())[0],
            probs: ops::softmax(scores.view()).into_raw_vec_and_offset().0,
            scores: scores.into_raw_vec_and_offset().0,
            forward: forward.into_raw_vec_and_offset().0,
        })
    }

    /// The settling of one image over K steps under every hypothesis (`infer::SettleTrace`);
    /// `label` picks the hypothesis whose states are returned (< 0: the classifier's answer).
    pub fn settle(&self, pixels: &[f32], label: i32) -> Result<JsValue, JsValue> {
        let x = self.one_image(pixels)?;
        let classes = self.ck.model.cfg.classes;
        let label = usize::try_from(label).ok();
        if label.is_some_and(|l| l >= classes) {
            return Err(bad_input(format!("label {label:?} is not in 0..{classes}")));
        }
        to_js(&self.ck.model.settle_trace(x, label))
    }

    /// `n` dreamed digits (`component` < 0: any): `generate::Dream`.
    pub fn dream(&self, n: usize, component: i32, seed: u32) -> Result<JsValue, JsValue> {
        let d = generate::dream(&self.ck.model, self.prior()?, n, usize::try_from(component).ok(), None, u64::from(seed)).map_err(js_error)?;
        to_js(&d)
    }

    /// `frames` digits between two dreamed latents: `generate::Dream`.
    pub fn interpolate(&self, frames: usize, seed: u32) -> Result<JsValue, JsValue> {
        to_js(&generate::interpolate(&self.ck.model, self.prior()?, frames, u64::from(seed)).map_err(js_error)?)
    }

    /// The latent map of images `start..start+count` of a split: `generate::LatentMap`.
    #[wasm_bindgen(js_name = latentMap)]
    pub fn latent_map(&self, store: &DatasetStore, split: &str, start: usize, count: usize) -> Result<JsValue, JsValue> {
        to_js(&generate::latent_map(&self.ck.model, store.split_for(split, &self.ck.model.cfg)?, start, count).map_err(js_error)?)
    }

    /// The t-SNE map of images `start..start+count` of a split, with the catalog's perplexity
    /// and iterations; its `start()` is the PCA map it starts from.
    #[wasm_bindgen(js_name = tsneMap)]
    pub fn tsne_map(&self, store: &DatasetStore, split: &str, start: usize, count: usize, seed: u32) -> Result<MapRun, JsValue> {
        let cat = catalog::catalog();
        let opts = crate::tsne::TsneOptions { perplexity: cat.map_perplexity, iterations: cat.map_iterations, seed: u64::from(seed), ..Default::default() };
        let (pca, tsne) = generate::tsne_start(&self.ck.model, store.split_for(split, &self.ck.model.cfg)?, start, count, opts).map_err(js_error)?;
        Ok(MapRun { pca, tsne })
    }

    /// Evaluates the first `limit` images of a split (0: all): `infer::Evaluation` with
    /// `predictions` as a Uint8Array.
    pub fn evaluate(&self, store: &DatasetStore, split: &str, limit: usize) -> Result<JsValue, JsValue> {
        let d = store.split_for(split, &self.ck.model.cfg)?;
        let n = if limit == 0 { d.len() } else { limit.min(d.len()) };
        let ev = self.ck.model.evaluate_dataset(d, 0..n);
        let predictions = Bytes(ev.predictions.iter().map(|&p| p as u8).collect());
        to_js(&Evaluated { evaluation: &ev, predictions })
    }

    /// Fits the prior on the first `limit` images of a split (0: all), with the model's seed.
    #[wasm_bindgen(js_name = fitPrior)]
    pub fn fit_prior(&mut self, store: &DatasetStore, split: &str, limit: usize) -> Result<(), JsValue> {
        let d = store.split_for(split, &self.ck.model.cfg)?;
        let g =
            generate::fit_prior(&self.ck.model, d, (limit > 0).then_some(limit), self.ck.model.cfg.prior_components, self.ck.meta.seed).map_err(js_error)?;
        self.ck.prior = Some(g);
        Ok(())
    }

    fn one_image<'a>(&self, pixels: &'a [f32]) -> Result<ArrayView2<'a, f32>, JsValue> {
        let x = images(pixels, self.ck.model.cfg.input_dim)?;
        if x.nrows() != 1 {
            return Err(bad_input("expected exactly one image"));
        }
        Ok(x)
    }

    fn prior(&self) -> Result<&crate::gmm::Gmm, JsValue> {
        self.ck.prior.as_ref().ok_or_else(|| bad_input("this model has no generative prior yet"))
    }
}

// ------------------------------------------------------------------------------ training

/// A core training run (`run::TrainingRun`) on the data of a [`DatasetStore`].
#[wasm_bindgen]
pub struct Run {
    run: TrainingRun,
    pacer: crate::run::Pacer,
}

#[wasm_bindgen]
impl Run {
    /// A new run from a `run::RunRequest` (`{preset, dataset, seed, epochs, train_limit,
    /// dev_limit, set: {name: value}}`) on the dataset of `store` (its classes come from the
    /// store's manifest); unset fields take the crate's defaults, and the data limits are
    /// brought within the dataset's bounds (`RunRequest::within`).
    #[wasm_bindgen(constructor)]
    pub fn new(request: JsValue, store: &DatasetStore) -> Result<Run, JsValue> {
        let req = store.bounded(from_js(request, "run request")?)?;
        Ok(Run::timed(TrainingRun::new(req.spec_for(store.manifest()?).map_err(js_error)?).map_err(js_error)?))
    }

    /// A new run that goes on training `model` (the request's preset is the model's) on the
    /// dataset of `store`.
    pub fn continuing(model: &Model, request: JsValue, store: &DatasetStore) -> Result<Run, JsValue> {
        let mut req = store.bounded(from_js(request, "run request")?)?;
        req.preset = Some(model.ck.model.cfg.preset.clone());
        req.set.insert("classes".into(), model.ck.model.cfg.classes.into());
        let spec = req.spec_for(store.manifest()?).map_err(js_error)?;
        Ok(Run::timed(TrainingRun::continuing(spec, model.ck.model.clone()).map_err(js_error)?))
    }

    fn timed(mut run: TrainingRun) -> Run {
        run.set_clock(now_seconds, rayon::current_num_threads());
        Run { run, pacer: crate::run::Pacer::new(now_seconds) }
    }

    /// One slice of the run, paced by the core (`run::Pacer`: about 150 ms of work; `report`
    /// says whether to draw it, at most every 250 ms): `run::Progress` with `samples_per_s`.
    pub fn step(&mut self, store: &DatasetStore) -> Result<JsValue, JsValue> {
        let data = store.run_data(self.run.phase() == crate::run::Phase::Testing)?;
        to_js(&self.pacer.step(&mut self.run, &data).map_err(js_error)?)
    }

    /// At most `max_batches` batches (or one evaluation step): `run::Progress`.
    pub fn advance(&mut self, store: &DatasetStore, max_batches: usize) -> Result<JsValue, JsValue> {
        let data = store.run_data(self.run.phase() == crate::run::Phase::Testing)?;
        to_js(&self.run.advance(&data, max_batches).map_err(js_error)?)
    }

    /// Ends training now; the run then tests and fits its prior on the next `advance` calls.
    pub fn stop(&mut self, store: &DatasetStore) -> Result<(), JsValue> {
        self.run.stop(&store.run_data(false)?).map_err(js_error)
    }

    /// Whether the run has finished.
    #[wasm_bindgen(js_name = isDone)]
    pub fn is_done(&self) -> bool {
        self.run.is_done()
    }

    /// The run's identity (`run::RunSpec`).
    pub fn spec(&self) -> Result<JsValue, JsValue> {
        to_js(self.run.spec())
    }

    /// One record per evaluated epoch (`run::EpochRecord`).
    pub fn history(&self) -> Result<JsValue, JsValue> {
        to_js(&self.run.history())
    }

    /// The best model so far (after the run: with its test accuracy and prior).
    #[wasm_bindgen(js_name = bestModel)]
    pub fn best_model(&self) -> Option<Model> {
        self.run.best_checkpoint().map(|ck| Model { ck })
    }

    /// The model as it is now (the last trained batch), without a prior.
    #[wasm_bindgen(js_name = currentModel)]
    pub fn current_model(&self) -> Option<Model> {
        self.run.best().map(|_| Model { ck: self.run.current_checkpoint() })
    }
}

// ------------------------------------------------------------------------------ kernels

/// `a·b` through the engine's matmul seam (m×k times k×n, row-major), for tests and benchmarks.
#[wasm_bindgen]
pub fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Result<Vec<f32>, JsValue> {
    if a.len() != m * k || b.len() != k * n {
        return Err(bad_input(format!("matmul: {} and {} values do not make {m}×{k} and {k}×{n}", a.len(), b.len())));
    }
    let av = ArrayView2::from_shape((m, k), a).expect("checked");
    let bv = ArrayView2::from_shape((k, n), b).expect("checked");
    Ok(crate::linalg::matmul(av, bv).into_raw_vec_and_offset().0)
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

// ------------------------------------------------------------------------------ map

/// A t-SNE latent map in progress (`tsne::Tsne`), advanced a few iterations at a time so that
/// the page can draw it forming and drop it when the visitor leaves.
#[wasm_bindgen]
pub struct MapRun {
    pca: generate::LatentMap,
    tsne: crate::tsne::Tsne,
}

#[derive(Serialize)]
struct MapProgress {
    iteration: usize,
    iterations: usize,
    done: bool,
    /// x, y per image (n×2, row-major).
    points: Vec<f32>,
}

#[wasm_bindgen]
impl MapRun {
    /// The PCA map the t-SNE map starts from: `generate::LatentMap`.
    pub fn start(&self) -> Result<JsValue, JsValue> {
        to_js(&self.pca)
    }

    /// Runs up to `iterations` more iterations and returns where the map stands.
    pub fn step(&mut self, iterations: usize) -> Result<JsValue, JsValue> {
        self.tsne.step(iterations);
        let points = self.tsne.positions().iter().map(|&v| v as f32).collect();
        to_js(&MapProgress { iteration: self.tsne.iteration(), iterations: self.tsne.iterations(), done: self.tsne.is_done(), points })
    }
}
