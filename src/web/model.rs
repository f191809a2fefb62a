//! [`Model`]: a weights file's contents, for inference (classify, settle, dream, maps, evaluation).

use super::*;

/// A model for inference: the contents of a weights file (parameters, metadata, prior), and
/// what the page calls it.
#[wasm_bindgen]
pub struct Model {
    pub(super) ck: Checkpoint,
    /// The page's name of the model: the file it came from, or how a run in the page made it
    /// ([`Run`](super::Run) names those).
    pub(super) name: String,
}

#[derive(Serialize)]
struct ModelInfo<'a> {
    name: &'a str,
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
    /// Loads a weights file (the `.safetensors` the CLI writes); throws `bad-weights`. The
    /// model is called `name`, else the file name at the end of `url` (where the bytes came
    /// from), else `weights`.
    #[wasm_bindgen(js_name = fromWeights)]
    pub fn from_weights(bytes: &[u8], name: Option<String>, url: Option<String>) -> Result<Model, JsValue> {
        Ok(Model { ck: Checkpoint::from_bytes(bytes).map_err(js_error)?, name: weights_name(name, url.as_deref()) })
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

    /// `{name, config, meta, params, prior: {components, weights, labels} | null}`.
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let prior = self.ck.prior.as_ref().map(|g| PriorInfo {
            components: g.weights.len(),
            weights: g.weights.clone(),
            labels: (0..g.weights.len()).map(|c| g.component_labels.get(c).copied().flatten()).collect(),
        });
        to_js(&ModelInfo { name: &self.name, config: &self.ck.model.cfg, meta: &self.ck.meta, params: self.ck.model.num_params(), prior })
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

/// What the page calls a weights file: `name` when given, else the last segment of the `url`
/// it was fetched from (`weights/mnist-web.safetensors` → `mnist-web.safetensors`), else
/// `weights`.
fn weights_name(name: Option<String>, url: Option<&str>) -> String {
    let from_url = || url.and_then(|u| u.rsplit('/').next()).filter(|n| !n.is_empty()).map(str::to_string);
    name.filter(|n| !n.is_empty()).or_else(from_url).unwrap_or_else(|| "weights".into())
}
