//! [`Run`]: a core training run on a store's data, paced by the core; [`MapRun`]: a t-SNE map
//! computed in slices.

use super::*;
#[cfg(not(feature = "gpu"))]
use crate::blocking::block_on;

/// A core training run (`run::TrainingRun`) on the data of a [`DatasetStore`].
#[wasm_bindgen]
pub struct Run {
    run: TrainingRun,
    pacer: crate::run::Pacer,
    /// Whether a step or the stop failed (a non-finite loss…): the run's models say so.
    failed: bool,
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
        let spec = req.spec_for(store.manifest()?).map_err(js_error)?;
        catalog::check_device(&spec.config.preset, cfg!(feature = "gpu")).map_err(js_error)?;
        Ok(Run::timed(TrainingRun::new(spec).map_err(js_error)?))
    }

    /// A new run that goes on training `model` (the request's preset is the model's) on the
    /// dataset of `store`.
    pub fn continuing(model: &Model, request: JsValue, store: &DatasetStore) -> Result<Run, JsValue> {
        let mut req = store.bounded(from_js(request, "run request")?)?;
        req.preset = Some(model.ck.model.cfg.preset.clone());
        req.set.insert("classes".into(), model.ck.model.cfg.classes.into());
        let spec = req.spec_for(store.manifest()?).map_err(js_error)?;
        catalog::check_device(&spec.config.preset, cfg!(feature = "gpu")).map_err(js_error)?;
        Ok(Run::timed(TrainingRun::continuing(spec, model.ck.model.clone()).map_err(js_error)?))
    }

    fn timed(mut run: TrainingRun) -> Run {
        run.set_clock(now_seconds, rayon::current_num_threads());
        Run { run, pacer: crate::run::Pacer::new(now_seconds), failed: false }
    }

    /// Whether the run trains on the GPU.
    fn on_gpu(&self) -> bool {
        #[cfg(feature = "gpu")]
        return self.run.gpu_adapter().is_some();
        #[cfg(not(feature = "gpu"))]
        false
    }

    /// `r` as the page sees it; an error marks the run as failed.
    fn checked<T>(&mut self, r: crate::error::Result<T>) -> Result<T, JsValue> {
        self.failed |= r.is_err();
        r.map_err(js_error)
    }

    /// One slice of the run, paced by the core (`run::Pacer`: about 150 ms of work; `report`
    /// says whether to draw it, at most every 250 ms): `run::Progress` with `samples_per_s`.
    #[cfg(not(feature = "gpu"))]
    pub fn step(&mut self, store: &DatasetStore) -> Result<JsValue, JsValue> {
        block_on(self.step_async(store))
    }

    /// At most `max_batches` batches (or one evaluation step): `run::Progress`.
    #[cfg(not(feature = "gpu"))]
    pub fn advance(&mut self, store: &DatasetStore, max_batches: usize) -> Result<JsValue, JsValue> {
        block_on(self.advance_async(store, max_batches))
    }

    /// Ends training now; the run then tests and fits its prior on the next `advance` calls.
    #[cfg(not(feature = "gpu"))]
    pub fn stop(&mut self, store: &DatasetStore) -> Result<(), JsValue> {
        block_on(self.stop_async(store))
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

    /// The best model so far (after the run: with its test accuracy and prior), named
    /// `trained in this page (best: epoch N)`, or `trained in this page until it failed (best:
    /// epoch N)` after a failed step.
    #[wasm_bindgen(js_name = bestModel)]
    pub fn best_model(&self) -> Option<Model> {
        let ck = self.run.best_checkpoint()?;
        let how = if self.failed { " until it failed" } else { "" };
        let name = format!("trained in this page{how} (best: epoch {})", ck.meta.epochs);
        Some(Model { ck, name })
    }

    /// The model as it is now (the last trained batch), without a prior, named `training in
    /// this page, epoch N` (N: the epochs completed).
    #[wasm_bindgen(js_name = currentModel)]
    pub fn current_model(&self) -> Option<Model> {
        self.run.best()?;
        let ck = self.run.current_checkpoint();
        let name = format!("training in this page, epoch {}", ck.meta.epochs);
        Some(Model { ck, name })
    }
}

/// The run's steps, awaited: the CPU builds wait for them above (a CPU run never waits), the
/// GPU build exports them as Promises below.
impl Run {
    async fn step_async(&mut self, store: &DatasetStore) -> Result<JsValue, JsValue> {
        catalog::check_device(&self.run.spec().config.preset, self.on_gpu()).map_err(js_error)?;
        let data = store.run_data(self.run.phase() == crate::run::Phase::Testing)?;
        let progress = self.pacer.step_async(&mut self.run, &data).await;
        to_js(&self.checked(progress)?)
    }

    async fn advance_async(&mut self, store: &DatasetStore, max_batches: usize) -> Result<JsValue, JsValue> {
        catalog::check_device(&self.run.spec().config.preset, self.on_gpu()).map_err(js_error)?;
        let data = store.run_data(self.run.phase() == crate::run::Phase::Testing)?;
        let progress = self.run.advance_async(&data, max_batches).await;
        to_js(&self.checked(progress)?)
    }

    async fn stop_async(&mut self, store: &DatasetStore) -> Result<(), JsValue> {
        let stopped = self.run.stop_async(&store.run_data(false)?).await;
        self.checked(stopped)
    }
}

/// The GPU build (`pkg/webgpu`): the same run, its steps returning Promises, and the run moved
/// onto the browser's WebGPU adapter by [`Run::use_gpu`].
#[cfg(feature = "gpu")]
#[wasm_bindgen]
impl Run {
    /// One slice of the run, paced by the core (`run::Pacer`: about 150 ms of work; `report`
    /// says whether to draw it, at most every 250 ms): a Promise of `run::Progress` with
    /// `samples_per_s`.
    pub async fn step(&mut self, store: &DatasetStore) -> Result<JsValue, JsValue> {
        self.step_async(store).await
    }

    /// At most `max_batches` batches (or one evaluation step): a Promise of `run::Progress`.
    pub async fn advance(&mut self, store: &DatasetStore, max_batches: usize) -> Result<JsValue, JsValue> {
        self.advance_async(store, max_batches).await
    }

    /// Ends training now; the run then tests and fits its prior on the next steps.
    pub async fn stop(&mut self, store: &DatasetStore) -> Result<(), JsValue> {
        self.stop_async(store).await
    }

    /// Moves the run onto the browser's WebGPU adapter (`gpu::Gpu::request`, then
    /// `TrainingRun::use_gpu`): the model, the optimisers and the compiled kernels go up now,
    /// and from here its batches, dev and test evaluations and prior latents run there. Rejects
    /// with kind `device` when the browser has no adapter, or `bad-config` for a run the GPU
    /// engine cannot train (a weight regulariser); the run then stays on the CPU.
    #[wasm_bindgen(js_name = useGpu)]
    pub async fn use_gpu(&mut self) -> Result<(), JsValue> {
        let gpu = crate::gpu::Gpu::request().await.map_err(|e| js_error(e.into()))?;
        self.run.use_gpu(gpu).await.map_err(js_error)
    }

    /// Where the run trains: `gpu` or `cpu`.
    pub fn device(&self) -> String {
        if self.on_gpu() { "gpu" } else { "cpu" }.into()
    }
}

/// A t-SNE latent map in progress (`tsne::Tsne`), advanced a few iterations at a time so that
/// the page can draw it forming and drop it when the visitor leaves.
#[wasm_bindgen]
pub struct MapRun {
    pub(super) pca: generate::LatentMap,
    pub(super) tsne: crate::tsne::Tsne,
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
