//! The weights format shared by the CLI and the web page: one safetensors file.
//!
//! Tensors are named as in docs/algorithm.md §1 (`W1`, `V2`, `b1`, `L1`, …, `Gy`, `G2`, `G1`); the lateral
//! matrices are stored compactly (H×10, see [`crate::lateral`]). The header metadata holds
//! `format` = `pff-weights`, `version`, the `config` (JSON), a free-form `meta` record (JSON:
//! dataset, epoch, accuracies, seed, command…) and, once fitted, the GMM `prior` (JSON).
//! A training checkpoint additionally holds Adam's moments as `adam.r.m.W1`, … and its step
//! counters and schedule position in `trainer` (JSON), so that training resumes exactly.
//!
//! Every file written carries `sha256`, a checksum over all other metadata and every tensor.
//! Loading checks it (files from before it existed have none), refuses unknown metadata entries,
//! checks names, shapes, dtypes and finiteness, and rejects anything else with a message that
//! names the problem; it never panics on bad bytes.

use crate::config::Config;
use crate::data::Manifest;
use crate::error::{PffError, Result};
use crate::gmm::Gmm;
use crate::model::{Generative, ParamSet, Pff, Representation};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const FORMAT: &str = "pff-weights";
pub const VERSION: &str = "1";

/// Element type used to store the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Storage {
    #[default]
    F32,
    /// Half precision (for shipping small files); loads back as f32.
    F16,
}

/// Free-form description of how a model was made and how well it does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    #[serde(default)]
    pub dataset: String,
    #[serde(default)]
    pub epochs: usize,
    #[serde(default)]
    pub seed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_forward_accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub storage: String,
    /// The class names, label by label, of the dataset the model was trained on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_names: Vec<String>,
}

impl ModelMeta {
    /// The dataset the model was trained on; files written before models recorded it are MNIST's.
    pub fn dataset_or_default(&self) -> &str {
        if self.dataset.is_empty() { crate::run::RunRequest::DEFAULT_DATASET } else { &self.dataset }
    }
}

/// A model with its metadata and (optional) prior.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub model: Pff<f32>,
    pub meta: ModelMeta,
    pub prior: Option<Gmm>,
}

impl Checkpoint {
    /// The names of the model's classes: those it records; else those of its dataset's
    /// `manifest` (a file written before models recorded them); else the labels' numbers.
    pub fn class_names(&self, manifest: Option<&Manifest>) -> Vec<String> {
        let classes = self.model.cfg.classes;
        if self.meta.class_names.len() == classes {
            return self.meta.class_names.clone();
        }
        let dataset = self.meta.dataset_or_default();
        match manifest.filter(|m| m.name == dataset).map(Manifest::class_names) {
            Some(names) if names.len() == classes => names,
            _ => crate::data::digit_names(classes),
        }
    }
}

fn to_bytes(values: &[f32], storage: Storage) -> Vec<u8> {
    match storage {
        Storage::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Storage::F16 => values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect(),
    }
}

pub(crate) struct Owned {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// Appends the tensors of `set`, named `prefix` + the set's names.
pub(crate) fn push_set<P: ParamSet<f32>>(out: &mut Vec<Owned>, prefix: &str, set: &P, storage: Storage) {
    for ((name, shape), data) in P::NAMES.iter().zip(set.shapes()).zip(set.slices()) {
        let dtype = if storage == Storage::F16 { Dtype::F16 } else { Dtype::F32 };
        out.push(Owned { name: format!("{prefix}{name}"), dtype, shape, bytes: to_bytes(data, storage) });
    }
}

/// Metadata key of the file's checksum: sha256 over every other metadata entry and every tensor
/// (name, dtype, shape, bytes), so that any change to a file this crate wrote is detected.
/// Files without it (written before it existed) load unchecked.
const CHECKSUM: &str = "sha256";

/// The metadata keys a pff file may hold; any other is refused (a damaged key name is damage).
const KNOWN_KEYS: [&str; 8] = ["format", "version", "config", "meta", "prior", "trainer", "run", CHECKSUM];

fn checksum<'a>(md: &HashMap<String, String>, tensors: impl Iterator<Item = (String, String, Vec<usize>, &'a [u8])>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut keys: Vec<&String> = md.keys().filter(|k| k.as_str() != CHECKSUM).collect();
    keys.sort();
    for k in keys {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(md[k].as_bytes());
        h.update([0]);
    }
    let mut ts: Vec<_> = tensors.collect();
    ts.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, dtype, shape, bytes) in ts {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(dtype.as_bytes());
        for d in shape {
            h.update((d as u64).to_le_bytes());
        }
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A safetensors file of `tensors` and `metadata`, with its checksum.
pub(crate) fn serialize(tensors: &[Owned], mut metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    let sum = checksum(&metadata, tensors.iter().map(|t| (t.name.clone(), format!("{:?}", t.dtype), t.shape.clone(), t.bytes.as_slice())));
    metadata.insert(CHECKSUM.into(), sum);
    let views = tensors
        .iter()
        .map(|t| Ok((t.name.clone(), TensorView::new(t.dtype, t.shape.clone(), &t.bytes).map_err(|e| PffError::Weights(e.to_string()))?)))
        .collect::<Result<Vec<_>>>()?;
    safetensors::tensor::serialize(views, Some(metadata)).map_err(|e| PffError::Weights(format!("cannot serialise: {e}")))
}

/// The metadata every pff file holds: format, version, config, meta and the prior if any.
pub(crate) fn base_metadata(model: &Pff<f32>, meta: &ModelMeta, prior: Option<&Gmm>) -> HashMap<String, String> {
    let mut md = HashMap::new();
    md.insert("format".into(), FORMAT.into());
    md.insert("version".into(), VERSION.into());
    md.insert("config".into(), serde_json::to_string(&model.cfg).expect("config serialises"));
    md.insert("meta".into(), serde_json::to_string(meta).expect("meta serialises"));
    if let Some(p) = prior {
        md.insert("prior".into(), serde_json::to_string(p).expect("prior serialises"));
    }
    md
}

impl Checkpoint {
    /// The safetensors bytes of this model.
    pub fn to_bytes(&self, storage: Storage) -> Result<Vec<u8>> {
        let mut tensors = Vec::new();
        push_set(&mut tensors, "", &self.model.rep, storage);
        push_set(&mut tensors, "", &self.model.generative, storage);
        let mut meta = self.meta.clone();
        meta.storage = if storage == Storage::F16 { "f16".into() } else { "f32".into() };
        serialize(&tensors, base_metadata(&self.model, &meta, self.prior.as_ref()))
    }

    /// Parses and validates a weights file (a training checkpoint is accepted too).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let parsed = Parsed::new(bytes)?;
        let model = parsed.model()?;
        let meta = match parsed.md.get("meta") {
            Some(s) => serde_json::from_str(s).map_err(|e| PffError::Weights(format!("metadata 'meta' is not valid: {e}")))?,
            None => ModelMeta::default(),
        };
        let prior = match parsed.md.get("prior") {
            Some(s) => {
                let g: Gmm = serde_json::from_str(s).map_err(|e| PffError::Weights(format!("metadata 'prior' is not valid: {e}")))?;
                g.validate(model.cfg.latent)?;
                Some(g)
            }
            None => None,
        };
        Ok(Checkpoint { model, meta, prior })
    }
}

/// A pff file read and checked once (format, version, known keys, checksum); its tensors and
/// metadata are then taken out by name.
pub(crate) struct Parsed<'a> {
    st: SafeTensors<'a>,
    md: HashMap<String, String>,
}

impl<'a> Parsed<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() < 8 {
            return Err(PffError::Weights(format!("only {} bytes: not a safetensors file", bytes.len())));
        }
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| PffError::Weights(format!("not a valid safetensors file ({e})")))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| PffError::Weights(format!("not a valid safetensors file ({e})")))?;
        let md: HashMap<String, String> = header.metadata().clone().map(|m| m.into_iter().collect()).unwrap_or_default();
        match md.get("format").map(String::as_str) {
            Some(FORMAT) => {}
            Some(other) => return Err(PffError::Weights(format!("format is {other:?}, expected {FORMAT:?}"))),
            None => return Err(PffError::Weights(format!("no 'format' metadata: this safetensors file was not written by pff (expected {FORMAT:?})"))),
        }
        if md.get("version").map(String::as_str) != Some(VERSION) {
            return Err(PffError::Weights(format!("unsupported version {:?} (this build reads version {VERSION})", md.get("version"))));
        }
        if let Some(key) = md.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(PffError::Weights(format!("unknown metadata entry {key:?}: the file is damaged or not a pff file")));
        }
        if let Some(sum) = md.get(CHECKSUM) {
            let actual = checksum(&md, st.tensors().into_iter().map(|(name, t)| (name, format!("{:?}", t.dtype()), t.shape().to_vec(), t.data())));
            if actual != *sum {
                return Err(PffError::Weights(format!(
                    "checksum mismatch: the file says sha256 {sum}, its contents give {actual} (the file was altered or damaged)"
                )));
            }
        }
        Ok(Parsed { st, md })
    }

    /// The metadata entry `key`, if the file has it.
    pub(crate) fn metadata(&self, key: &str) -> Option<&str> {
        self.md.get(key).map(String::as_str)
    }

    /// Whether any tensor's name starts with `prefix`.
    pub(crate) fn has_tensors(&self, prefix: &str) -> bool {
        self.st.names().iter().any(|n| n.starts_with(prefix))
    }

    /// The model: the configuration and the tensors without a prefix.
    pub(crate) fn model(&self) -> Result<Pff<f32>> {
        let cfg: Config = match self.md.get("config") {
            Some(s) => serde_json::from_str(s).map_err(|e| PffError::Weights(format!("metadata 'config' is not valid: {e}")))?,
            None => return Err(PffError::Weights("no 'config' metadata".into())),
        };
        cfg.validate().map_err(|e| PffError::Weights(format!("stored configuration: {e}")))?;
        // Shapes come from a zero-sized model of the same configuration.
        let like = Pff::<f32>::shape_template(&cfg);
        for name in self.st.names() {
            let known = Representation::<f32>::NAMES.contains(&name)
                || Generative::<f32>::NAMES.contains(&name)
                || name.starts_with("adam.")
                || name.starts_with("best.");
            if !known {
                return Err(PffError::Weights(format!("unexpected tensor {name:?}")));
            }
        }
        let rep = self.set("", &like.rep)?;
        let generative = self.set("", &like.generative)?;
        Ok(Pff { cfg, rep, generative })
    }

    /// The parameter set named `prefix` + the set's names, shaped like `like`.
    pub(crate) fn set<P: ParamSet<f32>>(&self, prefix: &str, like: &P) -> Result<P> {
        let mut out = like.zeros_like();
        let shapes = like.shapes();
        for ((name, shape), dst) in P::NAMES.iter().zip(shapes).zip(out.slices_mut()) {
            let full = format!("{prefix}{name}");
            let t = self.st.tensor(&full).map_err(|_| PffError::Weights(format!("tensor {full:?} is missing")))?;
            if t.shape() != shape.as_slice() {
                return Err(PffError::Weights(format!("tensor {full:?} has shape {:?}, the stored configuration needs {shape:?}", t.shape())));
            }
            let data = t.data();
            match t.dtype() {
                Dtype::F32 => {
                    for (d, c) in dst.iter_mut().zip(data.chunks_exact(4)) {
                        *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                    }
                }
                Dtype::F16 => {
                    for (d, c) in dst.iter_mut().zip(data.chunks_exact(2)) {
                        *d = half::f16::from_le_bytes([c[0], c[1]]).to_f32();
                    }
                }
                other => return Err(PffError::Weights(format!("tensor {full:?} has dtype {other:?}; only F32 and F16 are supported"))),
            }
            if let Some(pos) = dst.iter().position(|v| !v.is_finite()) {
                return Err(PffError::Weights(format!("tensor {full:?} contains a non-finite value ({}) at index {pos}", dst[pos])));
            }
        }
        Ok(out)
    }
}

impl Pff<f32> {
    /// A model of the configuration's shapes with zero weights (no initialisation cost).
    pub fn shape_template(cfg: &Config) -> Pff<f32> {
        use crate::config::GROUP;
        use ndarray::{Array1, Array2};
        let (d, h, c, g) = (cfg.input_dim, cfg.hidden, cfg.classes, cfg.latent);
        Pff {
            cfg: cfg.clone(),
            rep: Representation {
                w1: Array2::zeros((d, h)),
                v2: Array2::zeros((h, h)),
                b1: Array1::zeros(h),
                l1: Array2::zeros((h, GROUP)),
                w2: Array2::zeros((h, h)),
                v: Array2::zeros((c, h)),
                b2: Array1::zeros(h),
                l2: Array2::zeros((h, GROUP)),
                w: Array2::zeros((h, c)),
                b: Array1::zeros(c),
            },
            generative: Generative { gy: Array2::zeros((g, h)), g1: Array2::zeros((h, d)), g2: Array2::zeros((h, h)) },
        }
    }
}
