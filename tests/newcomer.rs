//! What a new user meets in the first hour with the command line (issue 27), each through the
//! binary: a closed stdout ends nothing early, every command the CLI prints runs as printed,
//! a model is not silently used on another dataset, `--out` is a file, signals exit as shells
//! report them, counts of zero are refused, every option has a line of help, and `serve` and
//! `report` put things where they are asked for.
#![cfg(all(feature = "cli", not(target_arch = "wasm32")))]

use pff::native::fetch::{FetchOptions, fetch_dataset};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

mod common;
use common::{TestDir, fetch_mnist as mnist, pff, pff_command as pff_cmd, repo_data_root as data_root, text};

const PFF: &str = env!("CARGO_BIN_EXE_pff");

/// A copy of the shipped MNIST model in `dir`.
fn web_model(dir: &TestDir) -> PathBuf {
    let weights = dir.path().join("w.safetensors");
    std::fs::copy(data_root().join("weights/mnist-web.safetensors"), &weights).unwrap();
    weights
}

/// Runs `cmd` with its stdout a pipe whose reading end is already closed.
fn with_closed_stdout(mut cmd: Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    cmd.stdout(writer).stderr(Stdio::piped()).output().expect("the pff binary runs")
}

fn assert_quiet_success(o: &Output, what: &str) {
    assert!(o.status.success(), "{what} with a closed stdout: {:?}\n{}", o.status, text(&o.stderr));
    assert!(!text(&o.stderr).contains("panicked"), "{what}: {}", text(&o.stderr));
}

#[test]
fn a_closed_stdout_neither_panics_nor_cuts_the_work_short() {
    mnist();
    let dir = TestDir::new("newcomer-pipe");
    let w = web_model(&dir);
    let w = w.to_str().unwrap();
    assert_quiet_success(&with_closed_stdout(pff_cmd(&["eval", "--weights", w, "--limit", "300"])), "eval");

    let figures = dir.path().join("figures");
    let o = with_closed_stdout(pff_cmd(&["report", "--weights", w, "--out", figures.to_str().unwrap()]));
    assert_quiet_success(&o, "report");
    for f in ["w-recon.png", "w-samples.png", "w-latents.svg", "w-summary.json"] {
        assert!(figures.join(f).is_file(), "report left out {f}");
    }
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(figures.join("w-summary.json")).unwrap()).unwrap();
    assert_eq!(summary["n"], 10000, "the summary in the folder is the printed one: {summary}");
    assert!(summary["accuracy"].as_f64().unwrap() > 0.9);
    // the map is t-SNE by default, and keeps what PCA loses (issue 26: at least 90 % for mnist-web)
    let (tsne, pca) = (summary["map_knn_agreement"].as_f64().unwrap(), summary["pca_knn_agreement"].as_f64().unwrap());
    assert!(summary["map"] == "tsne" && summary["map_points"] == pff::generate::MAP_POINTS && tsne >= 0.9 && pca < 0.7, "{summary}");

    let out = dir.path().join("m.safetensors");
    let args = ["train", "--preset", "tiny", "--epochs", "2", "--train-limit", "300", "--dev-limit", "100", "--out", out.to_str().unwrap()];
    assert_quiet_success(&with_closed_stdout(pff_cmd(&args)), "train");
    let history = std::fs::read_to_string(dir.path().join("m.history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 3, "the run went on to its end: {history}");
    let ck = pff::checkpoint::Checkpoint::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    assert!(ck.meta.test_accuracy.is_some() && ck.prior.is_some(), "the run's test and prior were done");
}

/// The commands a message offers (between backticks, starting with `pff `).
fn printed_commands(message: &str) -> Vec<String> {
    message.split('`').skip(1).step_by(2).filter(|c| c.starts_with("pff ")).map(str::to_string).collect()
}

/// Runs a printed command as a shell would, with `pff` this build's binary.
fn run_printed(command: &str) -> Output {
    Command::new("sh").args(["-c", r#"pff() { "$PFF_BIN" "$@"; }; eval "$1""#, "sh", command]).env("PFF_BIN", PFF).output().expect("sh runs")
}

/// Starts a `tiny` run that lasts long enough to be interrupted in its first epoch.
fn long_run(out: &Path) -> Child {
    let args = ["train", "--preset", "tiny", "--epochs", "1", "--train-limit", "5000", "--dev-limit", "100", "--no-test", "--no-prior"];
    pff_cmd(&args).arg("--out").arg(out).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn wait_for(path: &Path) {
    let t0 = std::time::Instant::now();
    while !path.exists() {
        assert!(t0.elapsed().as_secs() < 120, "{} never appeared", path.display());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    assert!(Command::new("kill").args([format!("-{name}"), child.id().to_string()]).status().unwrap().success());
}

#[test]
fn an_interrupt_exits_as_a_shell_reports_it_and_its_resume_command_runs_as_printed() {
    mnist();
    for (name, code) in [("INT", 130), ("TERM", 143)] {
        let dir = TestDir::new("newcomer-interrupt");
        let out = dir.path().join("my runs").join("m.safetensors");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let child = long_run(&out);
        wait_for(&out.with_file_name("m.train.safetensors"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        signal(&child, name);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(code), "SIG{name}: {}", text(&o.stderr));
        let commands = printed_commands(&text(&o.stderr));
        assert_eq!(commands.len(), 1, "{}", text(&o.stderr));
        assert!(commands[0].contains("--data-dir"), "the resume command reads the run's own data: {}", commands[0]);
        let resumed = run_printed(&commands[0]);
        assert!(resumed.status.success(), "`{}`: {}", commands[0], text(&resumed.stderr));
        assert!(text(&resumed.stdout).contains("epoch 1/1"), "{}", text(&resumed.stdout));
    }
}

#[test]
fn an_interrupt_after_the_last_epoch_says_so_and_the_epoch_line_comes_before_the_test() {
    mnist();
    let dir = TestDir::new("newcomer-final");
    let out = dir.path().join("m.safetensors");
    // a wider tiny model, so that testing 10,000 images takes seconds
    let args = ["train", "--preset", "tiny", "--set", "hidden=200", "--epochs", "1", "--train-limit", "100", "--dev-limit", "50"];
    let mut child = pff_cmd(&args).arg("--out").arg(&out).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = vec![];
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the run ended without testing: {lines:?}");
        lines.push(line.clone());
        if line.starts_with("testing the best model") {
            break;
        }
    }
    signal(&child, "INT");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    let epoch_line = lines.iter().position(|l| l.starts_with("epoch 1/1:")).unwrap_or_else(|| panic!("no epoch line before the test: {lines:?}"));
    assert_eq!(epoch_line, lines.len() - 2, "the epoch's line comes right before the test's: {lines:?}");
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted after all 1 epochs") && !err.contains("epoch 2 of 1"), "{err}");
    let finish = printed_commands(&err);
    let o = run_printed(&finish[0]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let ck = pff::checkpoint::Checkpoint::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    assert!(ck.meta.test_accuracy.is_some() && ck.prior.is_some(), "the resumed run tested and fitted its prior");
}

#[test]
fn the_refusals_and_hints_print_commands_that_run_as_printed() {
    mnist();
    let dir = TestDir::new("newcomer-hints");
    // an existing run: the refusal offers to continue it
    let out = dir.path().join("it's here").join("m.safetensors");
    let args = ["train", "--preset", "tiny", "--train-limit", "300", "--dev-limit", "100", "--no-test", "--no-prior"];
    let first = pff_cmd(&args).args(["--epochs", "1", "--out"]).arg(&out).output().unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let again = pff_cmd(&args).args(["--epochs", "2", "--out"]).arg(&out).output().unwrap();
    assert!(!again.status.success() && text(&again.stderr).contains("already holds a run"), "{}", text(&again.stderr));
    let offered = printed_commands(&text(&again.stderr));
    let o = run_printed(&offered[0]);
    assert!(o.status.success(), "`{}`: {}", offered[0], text(&o.stderr));

    // a model without a prior: sample says how to fit one
    let bare = pff::checkpoint::Checkpoint { prior: None, ..pff::checkpoint::Checkpoint::from_bytes(&std::fs::read(&out).unwrap()).unwrap() };
    let bare_path = dir.path().join("bare model.safetensors");
    std::fs::write(&bare_path, bare.to_bytes(pff::checkpoint::Storage::F32).unwrap()).unwrap();
    let png = dir.path().join("s.png");
    let o = pff_cmd(&["sample", "--weights", bare_path.to_str().unwrap(), "--out", png.to_str().unwrap()]).output().unwrap();
    assert!(!o.status.success());
    let offered = printed_commands(&text(&o.stderr));
    let fit = run_printed(&offered[0]);
    assert!(fit.status.success(), "`{}`: {}", offered[0], text(&fit.stderr));
    let o = pff_cmd(&["sample", "--weights", bare_path.to_str().unwrap(), "--out", png.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));

    // a dataset that is not there: the hint fetches it into the folder that was asked for
    let data = dir.path().join("my data");
    let o = Command::new(PFF).arg("--data-dir").arg(&data).args(["eval", "--weights", bare_path.to_str().unwrap(), "--limit", "10"]).output().unwrap();
    assert!(!o.status.success());
    let offered = printed_commands(&text(&o.stderr));
    assert_eq!(offered.len(), 1, "{}", text(&o.stderr));
    let fetched = run_printed(&offered[0]);
    assert!(fetched.status.success(), "`{}`: {}", offered[0], text(&fetched.stderr));
    assert!(data.join("mnist/manifest.json").is_file(), "the hint fetched into another folder");
}

#[test]
fn a_model_is_not_used_on_another_dataset_where_the_result_would_be_stored_or_shown_as_its_own() {
    fetch_dataset(&data_root(), "fashion", &FetchOptions::default()).expect("Fashion-MNIST can be fetched (apt-get download)");
    let dir = TestDir::new("newcomer-dataset");
    let w = web_model(&dir);
    let before = std::fs::read(&w).unwrap();
    let ws = w.to_str().unwrap();
    let o = pff(&["prior", "--weights", ws, "--dataset", "fashion", "--limit", "100"]);
    assert!(!o.status.success() && text(&o.stderr).contains("trained on mnist, not fashion"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&w).unwrap(), before, "prior rewrote the file");
    let figures = dir.path().join("figures");
    let o = pff(&["report", "--weights", ws, "--dataset", "fashion", "--out", figures.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o.stderr).contains("trained on mnist, not fashion"), "{}", text(&o.stderr));
    let o = pff(&["eval", "--weights", ws, "--dataset", "fashion", "--limit", "50"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("warning: this model was trained on mnist; evaluating it on fashion"), "{}", text(&o.stderr));
}

#[test]
fn train_refuses_an_out_that_is_a_folder_before_any_work() {
    let dir = TestDir::new("newcomer-out");
    let folder = dir.path().join("adir");
    std::fs::create_dir(&folder).unwrap();
    for out in [format!("{}/", folder.display()), folder.display().to_string(), format!("{}/", dir.path().join("new").display())] {
        let o = pff(&["train", "--preset", "tiny", "--epochs", "1", "--train-limit", "100", "--out", &out]);
        assert!(!o.status.success(), "--out {out} was taken");
        assert!(text(&o.stderr).contains("is a folder: give the weights file of the run"), "{}", text(&o.stderr));
    }
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0, "files were written inside the folder");
    let beside: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("adir")], "files were written beside the folder");
}

#[test]
fn counts_of_zero_and_an_image_under_another_format_s_name_are_refused() {
    let dir = TestDir::new("newcomer-counts");
    let w = web_model(&dir);
    let w = w.to_str().unwrap();
    for args in [&["eval", "--weights", w, "--limit", "0"][..], &["sample", "--weights", w, "--n", "0", "--out", "x.png"], &["bench", "--batches", "0"]] {
        let o = pff(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains("must be at least 1"), "{args:?}: {}", text(&o.stderr));
    }
    let jpg = dir.path().join("x.jpg");
    let o = pff(&["sample", "--weights", w, "--n", "4", "--out", jpg.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o.stderr).contains("ending in .png"), "{}", text(&o.stderr));
    assert!(!jpg.exists());
}

/// The options of a help text, each with the text that describes it.
fn options_of(help: &str) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = vec![];
    let mut in_options = false;
    for line in help.lines() {
        if line.ends_with(':') && !line.starts_with(' ') {
            in_options = line == "Options:";
            continue;
        }
        let trimmed = line.trim_start();
        if !in_options || trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with('-') {
            // `  -h, --help  Print help` or `      --weights <WEIGHTS>  The weights file …`
            let (spec, rest) = trimmed.split_once("  ").unwrap_or((trimmed, ""));
            options.push((spec.to_string(), rest.trim().to_string()));
        } else if let Some(last) = options.last_mut() {
            last.1.push_str(trimmed);
        }
    }
    options
}

#[test]
fn every_option_of_every_command_has_a_line_of_help() {
    let commands = ["data", "train", "eval", "prior", "sample", "report", "bench", "serve", "bundle"];
    for command in commands {
        let o = Command::new(PFF).args([command, "-h"]).output().unwrap();
        assert!(o.status.success());
        let options = options_of(&text(&o.stdout));
        assert!(options.len() >= 4, "{command}: {options:?}");
        for (spec, help) in options {
            assert!(!help.is_empty(), "pff {command} {spec} has no help text");
        }
    }
}

#[test]
fn serve_runs_from_outside_the_repository_and_serves_the_data_dir_it_is_given() {
    let dir = TestDir::new("newcomer-serve");
    let data = dir.path().join("my data");
    std::fs::create_dir_all(data.join("three")).unwrap();
    std::fs::write(data.join("three/manifest.json"), b"{\"marker\": 3}").unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let mut child = Command::new(PFF)
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--port", "0"])
        .current_dir(&elsewhere)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.strip_prefix("serving http://").and_then(|r| r.split('/').next()).unwrap_or_else(|| panic!("{line}")).to_string();
    let get = |path: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    };
    let page = get("/index.html");
    let manifest = get("/data/three/manifest.json");
    let _ = child.kill();
    let _ = child.wait();
    assert!(page.starts_with("HTTP/1.1 200"), "the page was not found from outside the repository: {page}");
    let index = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("www/index.html")).unwrap();
    assert!(page.ends_with(&index), "not the repository's page");
    assert!(manifest.starts_with("HTTP/1.1 200") && manifest.ends_with("{\"marker\": 3}"), "--data-dir was not served: {manifest}");
}
