//! `pff train`: drives a core [`TrainingRun`] and keeps its files. The run decides everything
//! (epochs, dev evaluation, best model, test, prior); this file reads the data, draws the
//! progress, and writes after every epoch, each file atomically:
//!
//! * `FILE.safetensors`: the best-dev model (at the end with its test accuracy and prior);
//! * `FILE.train.safetensors`: the whole training state, from epoch 0 on (`--resume` reads it);
//! * `FILE.history.jsonl`: one line per epoch.
//!
//! SIGINT and SIGTERM stop the run between two batches, after any write in progress, and say
//! how to resume it; the process then exits 130 or 143, as a shell reports those signals.

mod progress;

use super::device::Device;
use super::{load, parse_overrides, read_file, read_weights, run_weights_path, with_suffix, write_weights};
use indicatif::ProgressBar;
use pff::checkpoint::Storage;
use pff::native::data as ndata;
use pff::native::fs::write_atomic;
use pff::native::shell::{data_dir_flag, quote_path};
use pff::run::{EpochRecord, RunData, RunRequest, TrainingRun};
use pff::{PffError, Result};
use progress::{epoch_line, show};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

/// The flags of `pff train`, declared once: clap reads them, and [`request`] turns them into
/// the core's run request.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// tiny, web (default) or paper; a resumed run keeps its own.
    #[arg(long)]
    pub preset: Option<String>,
    /// mnist (default) or fashion; a resumed run keeps its own.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Epochs to train in total (default: the preset's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Use only the first N training images.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Use only the first N dev images for the per-epoch evaluation (at least 1).
    #[arg(long)]
    pub dev_limit: Option<usize>,
    /// Seed of the initialisation, batch order, negatives and noise (default 1234); a
    /// resumed run keeps its own.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The generator of the settling noise: philox (default; the GPU engine draws the same) or
    /// pcg-blocks (the stream of runs whose training state predates version 2; CPU only). A resumed
    /// run keeps its own.
    #[arg(long, value_name = "STREAM", value_parser = pff::noise::NoiseStream::NAMES)]
    pub noise_stream: Option<String>,
    /// Override any hyper-parameter, e.g. --set lr=0.001 --set hidden=800 --set lr_milestones=[30,40].
    /// With --resume only the schedule (epochs, lr, lr_milestones, lr_gamma) may change.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub overrides: Vec<String>,
    /// Best-dev weights file (.safetensors); the training checkpoint goes beside it as
    /// FILE.train.safetensors and the per-epoch history as FILE.history.jsonl. With --resume
    /// it defaults to the weights file beside the training checkpoint.
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue from a training checkpoint (FILE.train.safetensors, or the weights path beside it).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Store the final weights as f16.
    #[arg(long)]
    pub f16: bool,
    /// Skip fitting the GMM prior at the end.
    #[arg(long)]
    pub no_prior: bool,
    /// Skip the final test-split evaluation.
    #[arg(long)]
    pub no_test: bool,
    /// Start a new run even where --out already holds one (its files are replaced).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
}

/// The three files of a run.
struct RunFiles {
    weights: PathBuf,
    state: PathBuf,
    history: PathBuf,
}

impl RunFiles {
    fn of(weights: PathBuf) -> Self {
        RunFiles { state: with_suffix(&weights, ".train.safetensors"), history: with_suffix(&weights, ".history.jsonl"), weights }
    }

    fn existing(&self) -> Vec<&Path> {
        [&self.weights, &self.state, &self.history].into_iter().map(PathBuf::as_path).filter(|p| p.exists()).collect()
    }
}

/// The signal that stopped the run (2 for SIGINT, 15 for SIGTERM), once one has.
static STOP_SIGNAL: AtomicU8 = AtomicU8::new(0);

/// The signal that stopped a run, if one did.
pub fn stopped_by() -> Option<u8> {
    Some(STOP_SIGNAL.load(Ordering::SeqCst)).filter(|&s| s != 0)
}

/// `pff train --resume FILE`, as a command that runs as printed.
fn resume_command(root: &Path, state: &Path) -> String {
    format!("pff{} train --resume {}", data_dir_flag(root), quote_path(state))
}

pub fn train(root: &Path, a: TrainArgs, device: Device) -> Result<()> {
    let command = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
    let (mut run, files) = match &a.resume {
        Some(p) => match resumed(p, &a, &command)? {
            Some(r) => r,
            None => return Ok(()),
        },
        None => fresh(root, &a, command)?,
    };
    run.set_clock(clock, rayon::current_num_threads());
    #[cfg(feature = "gpu")]
    if let Some(gpu) = device.into_gpu() {
        pff::blocking::block_on(run.use_gpu(gpu))?;
        say!("training on the GPU: {}", run.gpu_adapter().unwrap_or_default());
    }
    #[cfg(not(feature = "gpu"))]
    let Device::Cpu = device;
    let spec = run.spec().clone();
    let train = load(root, &spec.dataset, "train", None)?;
    let dev = load(root, &spec.dataset, "dev", None)?;
    let test = if spec.test_at_end { Some(load(root, &spec.dataset, "test", None)?) } else { None };
    let data = RunData { train: &train, dev: &dev, test: test.as_ref() };
    watch_interrupts();
    let mut bar: Option<ProgressBar> = None;
    while !run.is_done() {
        if stopped_by().is_some() {
            if let Some(b) = bar.take() {
                b.abandon();
            }
            return Err(PffError::Cancelled(interrupted_where(&run, spec.config.epochs, &resume_command(root, &files.state))));
        }
        let p = run.advance(&data, 1).map_err(|e| lost_nothing(e, &run, &files))?;
        // the epoch's own line comes before whatever the next phase announces
        if let Some(rec) = &p.epoch_end {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            say!("{}", epoch_line(rec, p.epochs));
            save_epoch(&run, rec, &files)?;
        }
        show(&p, &mut bar);
    }
    finish(&run, &files, a.f16)
}

/// What an interrupt stopped, and how to go on.
fn interrupted_where(run: &TrainingRun, epochs: usize, resume: &str) -> String {
    if run.epoch() < epochs {
        format!("interrupted during epoch {} of {epochs}; nothing is lost before that epoch: resume with `{resume}`", run.epoch() + 1)
    } else {
        format!("interrupted after all {epochs} epochs, before the best model was tested and its prior fitted; nothing is lost: finish with `{resume}`")
    }
}

fn clock() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
}

/// A new run, refusing to replace an existing one without `--force`.
fn fresh(root: &Path, a: &TrainArgs, command: String) -> Result<(TrainingRun, RunFiles)> {
    let out = a.out.clone().ok_or_else(|| PffError::Input("train needs --out (or --resume)".into()))?;
    refuse_folder(&out)?;
    let files = RunFiles::of(run_weights_path(&out));
    let existing = files.existing();
    if !existing.is_empty() && !a.force {
        let list: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
        let continue_it = if files.state.exists() {
            format!("continue it with `{}`, or ", resume_command(root, &files.state))
        } else {
            "it has no training state to resume (it stopped before its first one was written): ".into()
        };
        return Err(PffError::Input(format!("{} already holds a run ({}): {continue_it}replace it with --force", files.weights.display(), list.join(", "))));
    }
    let req = request(a)?;
    req.spec()?; // flags that cannot make a run are refused before the data is looked for
    let manifest = ndata::load_manifest(root, req.dataset.as_deref().unwrap_or(RunRequest::DEFAULT_DATASET))?;
    let mut run = TrainingRun::new(req.spec_for(&manifest)?)?;
    if existing.contains(&files.history.as_path()) {
        std::fs::remove_file(&files.history).map_err(|e| PffError::io(format!("cannot remove {}", files.history.display()), e))?;
    }
    let meta = run.meta_mut();
    meta.command = command;
    meta.threads = Some(rayon::current_num_threads());
    say!("initialised a {} model ({} parameters)", run.spec().config.preset, run.current_model().num_params());
    Ok((run, files))
}

/// The run continued from its state; `None` when it has nothing left to do.
fn resumed(path: &Path, a: &TrainArgs, command: &str) -> Result<Option<(TrainingRun, RunFiles)>> {
    let stored = RunFiles::of(run_weights_path(path));
    // the state holds everything; the weights file adds a finished run's prior (and is what an
    // older state needs for its best model)
    let weights = read_weights(&stored.weights).ok();
    let mut run = TrainingRun::resume(&read_file(&stored.state)?, weights.as_ref()).map_err(|e| match e {
        PffError::Weights(m) => PffError::Weights(format!("{}: {m}", stored.state.display())),
        other => other,
    })?;
    request(a)?.apply_to(&mut run)?;
    let spec = run.spec().clone();
    if let Some(out) = &a.out {
        refuse_folder(out)?;
    }
    let files = RunFiles::of(a.out.as_deref().map_or(stored.weights.clone(), run_weights_path));
    if run.is_done() {
        let (epoch, dev) = run.best().unwrap_or((0, 0.0));
        say!(
            "nothing to do: {} has trained all {} epochs and finished (best model: epoch {epoch}, dev accuracy {:.2} %, in {}). Raise --epochs to train further.",
            stored.state.display(),
            spec.config.epochs,
            100.0 * dev,
            stored.weights.display()
        );
        return Ok(None);
    }
    // The state holds the history up to its epoch: the file is made to say the same, whatever
    // an interruption between the state's write and the history's append left in it.
    if !run.history().is_empty() {
        write_history(&files.history, run.history())?;
    }
    // and the weights file holds the state's best model, whatever an interruption between the
    // two writes left in it
    if let Some(best) = run.best_checkpoint()
        && (files.weights != stored.weights || weights.is_none_or(|w| w.model.rep != best.model.rep || w.model.generative != best.model.generative))
    {
        write_weights(&files.weights, &best, Storage::F32)?;
    }
    let meta = run.meta_mut();
    meta.command = if meta.command.is_empty() { command.to_string() } else { format!("{} && {command}", meta.command) };
    let (epoch, dev) = run.best().unwrap_or((0, 0.0));
    say!(
        "resuming {} at epoch {} of {} (best so far: epoch {epoch}, dev accuracy {:.2} %)",
        stored.state.display(),
        run.epoch(),
        spec.config.epochs,
        100.0 * dev
    );
    Ok(Some((run, files)))
}

/// `--out` names the weights file of the run: a folder (an existing one, or a path ending in
/// a separator, which would give the hidden files `DIR/.safetensors`…) is refused before any
/// work.
fn refuse_folder(out: &Path) -> Result<()> {
    let text = out.as_os_str().as_encoded_bytes();
    let ends_in_separator = text.last().is_some_and(|&b| std::path::is_separator(char::from(b)));
    if out.is_dir() || ends_in_separator || out.file_name().is_none() {
        let example = out.join("model.safetensors");
        return Err(PffError::Input(format!(
            "--out {} is a folder: give the weights file of the run, for example --out {}",
            out.display(),
            quote_path(&example)
        )));
    }
    Ok(())
}

/// The flags as a core run request.
fn request(a: &TrainArgs) -> Result<RunRequest> {
    let set = parse_overrides(&a.overrides)?.into_iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string()))).collect();
    Ok(RunRequest {
        preset: a.preset.clone(),
        dataset: a.dataset.clone(),
        seed: a.seed,
        noise: a.noise_stream.as_deref().map(pff::noise::NoiseStream::named).transpose()?,
        epochs: a.epochs,
        train_limit: a.train_limit,
        dev_limit: a.dev_limit,
        test_limit: None,
        set,
        no_test: a.no_test,
        no_prior: a.no_prior,
    })
}

/// A training error, with where the last good state is.
fn lost_nothing(e: PffError, run: &TrainingRun, files: &RunFiles) -> PffError {
    match e {
        PffError::NonFinite(m) => PffError::NonFinite(format!(
            "{m}. Nothing was lost: {} holds the best model and {} the state after epoch {}",
            files.weights.display(),
            files.state.display(),
            run.epoch()
        )),
        other => other,
    }
}

/// After an epoch (and the baseline): the best model when it changed, the state, the history.
fn save_epoch(run: &TrainingRun, rec: &EpochRecord, files: &RunFiles) -> Result<()> {
    if rec.improved || rec.epoch == 0 {
        let best = run.best_checkpoint().expect("a run with an epoch record has a best model");
        write_weights(&files.weights, &best, Storage::F32)?;
    }
    write_atomic(&files.state, &run.state_bytes()?)?;
    append_history(&files.history, rec)
}

/// The finished run: the best model with its test accuracy and prior, and the final state.
fn finish(run: &TrainingRun, files: &RunFiles, f16: bool) -> Result<()> {
    let best = run.best_checkpoint().expect("a finished run has a best model");
    if let Some(g) = &best.prior {
        say!("fitted a {}-component prior ({} EM iterations)", g.weights.len(), g.iterations);
    }
    write_weights(&files.weights, &best, if f16 { Storage::F16 } else { Storage::F32 })?;
    write_atomic(&files.state, &run.state_bytes()?)?;
    say!("wrote {} (best model: epoch {}, dev accuracy {:.2} %)", files.weights.display(), best.meta.epochs, 100.0 * best.meta.dev_accuracy.unwrap_or(0.0));
    Ok(())
}

fn write_history(path: &Path, records: &[EpochRecord]) -> Result<()> {
    let text: String = records.iter().map(|r| serde_json::to_string(r).expect("a record serialises") + "\n").collect();
    write_atomic(path, text.as_bytes())
}

fn append_history(path: &Path, rec: &EpochRecord) -> Result<()> {
    use std::io::Write;
    let line = serde_json::to_string(rec).expect("a record serialises");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| PffError::io(format!("cannot open {}", path.display()), e))?;
    writeln!(f, "{line}").map_err(|e| PffError::io(format!("cannot write {}", path.display()), e))
}

/// Records SIGINT or SIGTERM in [`STOP_SIGNAL`] (they then no longer end the process at once).
fn watch_interrupts() {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_io().build() else {
            let _ = ready_tx.send(());
            return;
        };
        rt.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
                let _ = ready_tx.send(());
                return;
            };
            let _ = ready_tx.send(());
            let signal = tokio::select! {
                _ = int.recv() => 2,
                _ = term.recv() => 15,
            };
            STOP_SIGNAL.store(signal, Ordering::SeqCst);
            let _ = writeln!(std::io::stderr(), "\nstopping after the current batch…");
        });
    });
    let _ = ready_rx.recv();
}
