//! The whole JavaScript-facing surface: every `#[wasm_bindgen]` item of the crate lives in this folder.
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

#[cfg(feature = "gpu")]
mod gpu_bench;
mod kernels;
mod model;
mod run;
mod store;

pub use kernels::{bench_matmul, matmul};
pub use model::Model;
pub use run::{MapRun, Run};
pub use store::DatasetStore;

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
