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

mod args;
mod bench;
mod device;
mod eval;
mod report;
mod site;
mod train;

use args::{Cli, Cmd};
use device::Device;
use eval::{OtherDataset, dataset_of};

use clap::Parser;
use pff::checkpoint::{Checkpoint, Storage};
use pff::data::Dataset;
use pff::generate;
use pff::native::bundle::BundleOptions;
use pff::native::data as ndata;
use pff::native::fetch::{FetchOptions, fetch_dataset};
use pff::native::fs::write_atomic;
use pff::{Config, PffError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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

/// Runs the subcommand `cli` names, each in its own function.
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
        Cmd::Data { dataset, idx_dir, name, classes, title, noun } => data(&root, &dataset, idx_dir, name, classes, title, noun),
        Cmd::Train(args) => train::train(&root, args, device),
        Cmd::Eval { weights, dataset, split, limit, json, record, f16 } => {
            eval::eval(&root, &weights, eval::EvalArgs { dataset, split, limit, json, record, f16 }, &device)
        }
        Cmd::Prior { weights, components, dataset, limit, seed } => eval::prior(&root, &weights, components, dataset, limit, seed),
        Cmd::Sample { weights, n, out, seed, component, reference_draw } => sample(&root, &weights, n, &out, seed, component, reference_draw),
        Cmd::Report(args) => report::report(&root, &args, &device),
        Cmd::Bench { preset, batches, json, threads_sweep } => bench::bench(&preset, batches, json, &threads_sweep, &device),
        Cmd::Serve { host, port, no_isolation, root: page } => site::serve(host, port, no_isolation, page, cli.data_dir),
        Cmd::Bundle { out, root: page, weights, datasets, default, title, no_training } => {
            site::bundle(&out, page, BundleOptions { data_dir: cli.data_dir, weights, datasets, default, title, no_training })
        }
    }
}

/// `pff data`: fetches `dataset` into `root`, or shards the IDX files of `idx_dir` as `name`.
fn data(
    root: &Path,
    dataset: &str,
    idx_dir: Option<PathBuf>,
    name: Option<String>,
    classes: Option<Vec<String>>,
    title: Option<String>,
    noun: Option<String>,
) -> pff::Result<()> {
    let report = match idx_dir {
        Some(dir) => {
            let naming = ndata::Naming { title: title.unwrap_or_default(), classes: classes.map(|c| c.into_iter().map(|n| n.trim().to_string()).collect()) };
            ndata::shard_idx_dir_with_noun(&dir, name.as_deref().unwrap_or_default(), root, &naming, noun.as_deref())?
        }
        None => fetch_dataset(root, dataset, &FetchOptions::default())?,
    };
    say!("{report}");
    Ok(())
}

/// `pff sample`: `n` images generated from the prior of `weights`, written to `out` as a PNG grid.
fn sample(root: &Path, weights: &Path, n: usize, out: &Path, seed: u64, component: Option<usize>, reference_draw: bool) -> pff::Result<()> {
    if !out.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        return Err(PffError::Input(format!("sample writes a PNG image: give --out a name ending in .png (not {})", out.display())));
    }
    let ck = read_weights(weights)?;
    let prior = ck.prior.as_ref().ok_or_else(|| {
        let flags = pff::native::shell::data_dir_flag(root);
        PffError::Input(format!("{} has no prior: run `pff{flags} prior --weights {}` first", weights.display(), pff::native::shell::quote_path(weights)))
    })?;
    let draw = reference_draw.then_some(pff::config::ComponentDraw::ReferenceSoftmax);
    let dream = generate::dream(&ck.model, prior, n, component, draw, seed)?;
    let png = pff::native::image::grid_png(dream_images(&dream).view(), 28, 10, 2)?;
    write_atomic(out, &png)?;
    say!("wrote {n} generated images to {}", out.display());
    Ok(())
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
