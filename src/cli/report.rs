//! `pff report`: the figures and numbers of a trained model, for docs/results.md: the
//! dev-accuracy curves, the reconstructions, the dreamed images, the latent map (t-SNE by
//! default, or PCA) with the 10-NN agreement of both maps, and a JSON summary, each written
//! atomically into the output folder.

use super::device::Device;
use super::{OtherDataset, dataset_of, dream_images, load_for, read_weights, with_suffix};
use pff::checkpoint::Checkpoint;
use pff::data::Dataset;
use pff::generate::{self, LatentMap};
use pff::native::data as ndata;
use pff::native::fs::write_atomic;
use pff::native::plot;
use pff::tsne::{self, TsneOptions};
use pff::{PffError, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The neighbours whose majority class [`tsne::knn_agreement`] compares with a point's own.
pub const AGREEMENT_NEIGHBOURS: usize = 10;
use pff::generate::MAP_POINTS;

/// The flags of `pff report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// The weights file (.safetensors) to report on.
    #[arg(long)]
    weights: PathBuf,
    /// A training history to draw on the dev-accuracy chart; repeat it to draw several runs
    /// side by side, one line each, named by file (default: the one beside the weights,
    /// FILE.history.jsonl, when it exists).
    #[arg(long)]
    history: Vec<PathBuf>,
    /// Folder for the figures (SVG charts, PNG image grids) and the summary (JSON).
    #[arg(long)]
    out: PathBuf,
    /// The model's own dataset, which the weights file records (another one is refused).
    #[arg(long)]
    dataset: Option<String>,
    /// The split the summary evaluates and the reconstructions and latent map show: `dev`
    /// charts a run in progress without looking at the test set.
    #[arg(long, default_value = "test", value_parser = ["dev", "test"])]
    split: String,
    /// The latent map: tsne (Barnes–Hut t-SNE from the PCA map) or pca.
    #[arg(long, default_value = "tsne", value_parser = ["tsne", "pca"])]
    map: String,
    /// Seed of the generated images and of the t-SNE map.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Writes `NAME-FILE` into the output folder.
struct Figures<'a> {
    out: &'a Path,
    name: String,
}

impl Figures<'_> {
    fn write(&self, file: &str, bytes: Vec<u8>) -> Result<()> {
        let p = self.out.join(format!("{}-{file}", self.name));
        write_atomic(&p, &bytes)?;
        say!("wrote {}", p.display());
        Ok(())
    }
}

pub fn report(root: &Path, a: &ReportArgs, device: &Device) -> Result<()> {
    let ck = read_weights(&a.weights)?;
    let name = a.weights.file_name().and_then(|s| s.to_str()).unwrap_or("model").trim_end_matches(".safetensors").to_string();
    let dataset = dataset_of(&ck, a.dataset.clone(), OtherDataset::Refuse("a report presents the model on its own dataset"))?;
    std::fs::create_dir_all(&a.out).map_err(|e| PffError::io(format!("cannot create {}", a.out.display()), e))?;
    let figures = Figures { out: &a.out, name: name.clone() };
    let (curve_len, epochs) = curves(&figures, &a.weights, &a.history, &name)?;
    let data = load_for(&ck.model.cfg, root, &dataset, &a.split, None)?;
    let ev = device.evaluate(&ck, &data, 0..data.len())?;
    images(&figures, &ck, &data, a.seed, device)?;
    let manifest = ndata::load_manifest(root, &dataset).ok();
    let map = latent_maps(&figures, (&ck, device), &data, &ck.class_names(manifest.as_ref()), &a.map, a.seed)?;
    let secs: Vec<f64> = epochs.iter().filter_map(|e| e["seconds"].as_f64()).collect();
    let size = std::fs::metadata(&a.weights).map(|m| m.len()).unwrap_or(0);
    let summary = json!({
        "weights": a.weights, "dataset": dataset, "preset": ck.model.cfg.preset, "hidden": ck.model.cfg.hidden,
        "params": ck.model.num_params(), "file_bytes": size, "epochs": ck.meta.epochs, "seed": ck.meta.seed,
        "best_dev_accuracy": ck.meta.dev_accuracy, "split": a.split, "n": ev.n, "accuracy": ev.accuracy, "error": ev.error,
        "forward_accuracy": ev.forward_accuracy, "recon_sse": ev.recon_sse,
        "mean_epoch_seconds": if secs.is_empty() { None } else { Some(secs.iter().sum::<f64>() / secs.len() as f64) },
        "epochs_in_history": curve_len, "command": ck.meta.command,
        "map": a.map, "map_points": map.points, "map_knn_agreement": map.shown, "pca_knn_agreement": map.pca,
    });
    let summary = serde_json::to_string_pretty(&summary).expect("summary serialises");
    figures.write("summary.json", format!("{summary}\n").into_bytes())?;
    say!("{summary}");
    Ok(())
}

/// The dev-accuracy curves, one line per history: the number of points of the first and its
/// records.
fn curves(figures: &Figures<'_>, weights: &Path, history: &[PathBuf], name: &str) -> Result<(usize, Vec<serde_json::Value>)> {
    let explicit = !history.is_empty();
    let paths = if explicit { history.to_vec() } else { vec![with_suffix(weights, ".history.jsonl")] };
    let mut series = vec![];
    let mut epochs: Vec<serde_json::Value> = vec![];
    for (i, path) in paths.iter().enumerate() {
        let Some(records) = read_history(path, explicit)? else { continue };
        let label = if explicit { history_label(path) } else { format!("{name} (goodness classifier)") };
        let points: Vec<(f64, f64)> = records.iter().filter_map(|e| Some((e["epoch"].as_f64()?, e["dev_accuracy"].as_f64()?))).filter(|p| p.0 >= 1.0).collect();
        if i == 0 {
            epochs = records;
        }
        series.push(plot::Series { label, points, colour: plot::PALETTE[i % plot::PALETTE.len()] });
    }
    let curve_len = series.first().map_or(0, |s| s.points.len());
    if series.iter().any(|s| !s.points.is_empty()) {
        let lo = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(1.0, f64::min).min(0.9);
        let svg = plot::line_chart(&series, ((lo * 20.0).floor() / 20.0, 1.0), true, ("epoch", "dev accuracy"), (640, 400))?;
        figures.write("curves.svg", svg.into_bytes())?;
    }
    Ok((curve_len, epochs))
}

/// Up to 50 images, ten per row, each row of originals above its reconstructions; and 100
/// dreamed images when the model has a prior.
fn images(figures: &Figures<'_>, ck: &Checkpoint, data: &Dataset, seed: u64, device: &Device) -> Result<()> {
    let (x, _) = data.rows(0..50.min(data.len()));
    let rec = device.reconstruct(ck, x.view())?;
    let mut pairs = ndarray::Array2::<f32>::zeros((x.nrows().div_ceil(10) * 20, x.ncols()));
    for i in 0..x.nrows() {
        let (r, c) = (i / 10, i % 10);
        pairs.row_mut(r * 20 + c).assign(&x.row(i));
        pairs.row_mut(r * 20 + 10 + c).assign(&rec.row(i));
    }
    figures.write("recon.png", pff::native::image::grid_png(pairs.view(), 28, 10, 2)?)?;
    if let Some(prior) = &ck.prior {
        let dream = generate::dream(&ck.model, prior, 100, None, None, seed)?;
        figures.write("samples.png", pff::native::image::grid_png(dream_images(&dream).view(), 28, 10, 2)?)?;
    }
    Ok(())
}

/// The 10-NN agreement of the map drawn and of the PCA map, and how many points they hold.
struct MapAgreement {
    points: usize,
    shown: f64,
    pca: f64,
}

/// Draws the latent map `kind` of the first [`MAP_POINTS`] images and says what both maps keep.
fn latent_maps(figures: &Figures<'_>, (ck, device): (&Checkpoint, &Device), data: &Dataset, names: &[String], kind: &str, seed: u64) -> Result<MapAgreement> {
    let n = MAP_POINTS.min(data.len());
    if n < 2 {
        return Err(PffError::Input(format!("a latent map needs at least 2 images; the split holds {}", data.len())));
    }
    let (x, labels) = data.rows(0..n);
    let (z, labels) = generate::standardised(device.latents(ck, x.view())?.view(), labels);
    let pca = generate::pca_map(z.view(), labels.clone());
    let agreement = |m: &LatentMap| tsne::knn_agreement(&m.points.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(), &m.labels, AGREEMENT_NEIGHBOURS);
    let pca_agreement = agreement(&pca);
    let (map, axes) = if kind == "tsne" {
        let (start, map) = generate::tsne_start_of(z, labels, TsneOptions { seed, ..TsneOptions::default() })?;
        (LatentMap { points: map.run().iter().map(|&v| v as f32).collect(), ..start }, ("t-SNE 1", "t-SNE 2"))
    } else {
        (pca, ("principal component 1", "principal component 2"))
    };
    let shown = if kind == "tsne" { agreement(&map) } else { pca_agreement };
    let pts: Vec<(f64, f64, usize)> =
        (0..map.n).map(|i| (f64::from(map.points[2 * i]), f64::from(map.points[2 * i + 1]), usize::from(map.labels[i]))).collect();
    figures.write("latents.svg", plot::scatter(&pts, names, axes, (640, 500))?.into_bytes())?;
    say!("latent map ({kind}, {} images): {AGREEMENT_NEIGHBOURS}-NN agreement {:.1} % (PCA map: {:.1} %)", map.n, 100.0 * shown, 100.0 * pca_agreement);
    Ok(MapAgreement { points: map.n, shown, pca: pca_agreement })
}

/// The records of a `pff train` history (one JSON object per line). `None` when the file is
/// absent and was not asked for by name; a line that is not a JSON object is an error.
fn read_history(path: &Path, required: bool) -> Result<Option<Vec<serde_json::Value>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(PffError::io(format!("cannot read the history {}", path.display()), e)),
    };
    let records = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| match serde_json::from_str::<serde_json::Value>(l) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(PffError::data(path.display().to_string(), format!("line {} is not a history record (a JSON object)", i + 1))),
    });
    records.collect::<Result<Vec<_>>>().map(Some)
}

/// A history's name on a chart: its file name without `.history.jsonl`.
fn history_label(path: &Path) -> String {
    let file = path.file_name().and_then(|s| s.to_str()).unwrap_or("history");
    file.strip_suffix(".history.jsonl").or_else(|| file.strip_suffix(".jsonl")).unwrap_or(file).to_string()
}
