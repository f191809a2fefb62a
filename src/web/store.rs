//! [`DatasetStore`]: the verified shards of one dataset, as the page loads them.

use super::*;

/// The verified shards of one dataset: every shard is checked against the manifest's sha256
/// and image count (`data::verify_shard`, as `pff` does) before any of it is kept.
#[wasm_bindgen]
#[derive(Default)]
pub struct DatasetStore {
    pub(super) manifest: Option<Manifest>,
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

    /// Takes the dataset's manifest (the bytes of `data/<name>/manifest.json`, checked: it must
    /// parse and name `name`; else `corrupt-data` naming the file) and drops any data of a
    /// previous dataset. Returns the manifest.
    #[wasm_bindgen(js_name = setManifest)]
    pub fn set_manifest(&mut self, name: &str, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let m = checked_manifest(name, bytes)?;
        let out = to_js(&m)?;
        *self = DatasetStore { manifest: Some(m), ..Default::default() };
        Ok(out)
    }

    /// A store of the same dataset (its checked manifest) holding no shards: what the page keeps
    /// of a dataset it leaves, so that its manifest is not fetched again.
    #[wasm_bindgen(js_name = emptyCopy)]
    pub fn empty_copy(&self) -> DatasetStore {
        DatasetStore { manifest: self.manifest.clone(), ..Default::default() }
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

    /// The dataset's offer (`catalog::DatasetOffer`: names, noun, split sizes and the bounds of
    /// an in-page run on it), or `undefined` before a manifest. The page asks a store for it,
    /// so that a manifest is fetched and checked once, by the store that then loads its shards.
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

    /// The images of each split a run of `request` reads (`run::RunRequest::reads`, within this
    /// dataset's bounds): `{train: n, dev: n, test?: n}`, what the worker loads before the run.
    #[wasm_bindgen(js_name = runReads)]
    pub fn run_reads(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let req = self.bounded(from_js(request, "run request")?)?;
        let m = self.manifest()?;
        let whole = |split: &str| m.splits.get(split).map_or(0, |i| i.count);
        let reads: BTreeMap<&str, usize> = req.reads().into_iter().map(|(split, n)| (split, n.unwrap_or_else(|| whole(split)))).collect();
        to_js(&reads)
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

    pub(super) fn manifest(&self) -> Result<&Manifest, JsValue> {
        self.manifest.as_ref().ok_or_else(|| bad_input("no dataset manifest loaded"))
    }

    pub(super) fn split(&self, split: &str) -> Result<&Dataset, JsValue> {
        self.splits.get(split).filter(|d| !d.is_empty()).ok_or_else(|| bad_input(format!("no {split} images are loaded")))
    }

    /// A split a model reads: loaded, and of the model's image size and classes.
    pub(super) fn split_for(&self, split: &str, cfg: &crate::Config) -> Result<&Dataset, JsValue> {
        let d = self.split(split)?;
        d.check_fits(cfg.input_dim, cfg.classes, &format!("{}/{split}", self.name().unwrap_or_default())).map_err(js_error)?;
        Ok(d)
    }

    /// `req` with its data limits within this dataset's bounds (`RunRequest::within`).
    pub(super) fn bounded(&self, req: RunRequest) -> Result<RunRequest, JsValue> {
        let m = self.manifest()?;
        req.within(&catalog::RunBounds::for_dataset(m), &m.name).map_err(js_error)
    }

    pub(super) fn run_data(&self, test: bool) -> Result<RunData<'_>, JsValue> {
        Ok(RunData { train: self.split("train")?, dev: self.split("dev")?, test: if test { Some(self.split("test")?) } else { None } })
    }
}

/// The manifest of dataset `name` from the bytes of its `manifest.json`; a `corrupt-data` error
/// naming the file when it does not parse or names another dataset.
fn checked_manifest(name: &str, bytes: &[u8]) -> Result<Manifest, JsValue> {
    let file = format!("data/{name}/manifest.json");
    let m = Manifest::from_json(bytes, &file).map_err(js_error)?;
    if m.name != name {
        return Err(js_error(PffError::data(file, format!("names dataset {:?}", m.name))));
    }
    Ok(m)
}
