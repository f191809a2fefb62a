//! The `pff train` and `pff eval` command lines: a run resumes where it stopped, with its own
//! data limits, seed and dataset; a resumed run may change its learning-rate schedule but
//! nothing that made it; an existing run is not overwritten; an interrupt says how to resume;
//! and the weights file records every command that produced it.
#![cfg(all(feature = "cli", not(target_arch = "wasm32")))]

use pff::checkpoint::Checkpoint;
use pff::native::fetch::{FetchOptions, fetch_dataset};
use std::process::{Command, Output};

mod common;
use common::{TestDir, fetch_mnist as mnist, pff, repo_data_root as data_root, text, write_idx};

fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

#[test]
fn a_resumed_run_changes_only_its_schedule_and_records_both_commands() {
    mnist();
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
    assert!(stderr(&bad).contains("started with dataset \"mnist\", not \"fashion\""), "{}", stderr(&bad));

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

fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

/// The tensors of a weights file (its metadata aside).
fn tensors(path: &std::path::Path) -> pff::Pff<f32> {
    Checkpoint::from_bytes(&std::fs::read(path).unwrap()).unwrap().model
}

fn history(dir: &TestDir, name: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.path().join(format!("{name}.history.jsonl"))).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_resumed_run_keeps_its_data_limits_and_matches_the_uninterrupted_run() {
    mnist();
    let dir = TestDir::new("cli-limits");
    let path = |n: &str| dir.path().join(format!("{n}.safetensors")).to_str().unwrap().to_string();
    let limits = ["--preset", "tiny", "--train-limit", "1000", "--dev-limit", "500", "--no-test", "--no-prior"];
    let whole = pff(&[&["train", "--epochs", "2", "--out", &path("whole")][..], &limits].concat());
    assert!(whole.status.success(), "{}", stderr(&whole));
    let first = pff(&[&["train", "--epochs", "1", "--out", &path("split")][..], &limits].concat());
    assert!(first.status.success(), "{}", stderr(&first));
    // resumed without repeating the limits: the run remembers them
    let second = pff(&["train", "--resume", &path("split"), "--epochs", "2"]);
    assert!(second.status.success(), "{}", stderr(&second));
    let (a, b) = (history(&dir, "whole"), history(&dir, "split"));
    assert_eq!(a.len(), 3);
    assert_eq!(b.len(), 3);
    assert_eq!(a[2]["dev_accuracy"], b[2]["dev_accuracy"], "epoch 2 on the same 1000 images, scored on the same 500");
    assert_eq!(tensors(std::path::Path::new(&path("whole"))), tensors(std::path::Path::new(&path("split"))), "the same bits");
}

#[test]
fn a_resume_refuses_flags_that_contradict_the_run_and_says_when_nothing_is_left() {
    mnist();
    let dir = TestDir::new("cli-identity");
    let out = dir.path().join("m.safetensors");
    let out_s = out.to_str().unwrap();
    let first = pff(&[
        "train",
        "--preset",
        "tiny",
        "--seed",
        "9",
        "--epochs",
        "1",
        "--train-limit",
        "300",
        "--dev-limit",
        "100",
        "--no-test",
        "--no-prior",
        "--out",
        out_s,
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    for (flags, says) in [
        (&["--seed", "5"][..], "seed 9, not 5"),
        (&["--preset", "web"][..], "preset \"tiny\", not \"web\""),
        (&["--train-limit", "600"][..], "training limit Some(300), not Some(600)"),
        (&["--dev-limit", "50"][..], "dev limit Some(100), not Some(50)"),
    ] {
        let o = pff(&[&["train", "--resume", out_s][..], flags].concat());
        assert!(!o.status.success(), "{flags:?} was accepted");
        assert!(stderr(&o).contains(says), "{flags:?}: {}", stderr(&o));
    }
    // the run is finished: a resume says so and rewrites nothing
    let before = std::fs::read(&out).unwrap();
    let again = pff(&["train", "--resume", out_s]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("nothing to do"), "{}", stdout(&again));
    assert_eq!(std::fs::read(&out).unwrap(), before, "the weights file was rewritten");
    assert_eq!(history(&dir, "m").len(), 2);
}

#[test]
fn a_new_run_does_not_replace_an_existing_one_without_force() {
    mnist();
    let dir = TestDir::new("cli-force");
    let out = dir.path().join("m.safetensors");
    let out_s = out.to_str().unwrap();
    let args = ["train", "--preset", "tiny", "--epochs", "1", "--train-limit", "300", "--dev-limit", "100", "--no-test", "--no-prior", "--out", out_s];
    assert!(pff(&args).status.success());
    let before = std::fs::read(&out).unwrap();
    let again = pff(&[&args[..], &["--seed", "2"]].concat());
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already holds a run") && stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(std::fs::read(&out).unwrap(), before, "the existing best model was replaced");
    assert_eq!(history(&dir, "m").len(), 2, "the history was appended to");
    let forced = pff(&[&args[..], &["--seed", "2", "--force"]].concat());
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(history(&dir, "m").len(), 2, "--force starts a fresh history");
    assert_ne!(std::fs::read(&out).unwrap(), before);
}

#[test]
fn a_dev_limit_of_zero_is_refused() {
    let dir = TestDir::new("cli-dev0");
    let out = dir.path().join("m.safetensors");
    let o = pff(&["train", "--preset", "tiny", "--dev-limit", "0", "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("dev limit must be at least 1"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn an_interrupt_during_epoch_one_says_how_to_resume_leaves_no_temporary_file_and_resumes() {
    mnist();
    for signal in ["INT", "TERM"] {
        let dir = TestDir::new("cli-interrupt");
        let out = dir.path().join("m.safetensors");
        let out_s = out.to_str().unwrap();
        let args = ["train", "--preset", "tiny", "--epochs", "2", "--train-limit", "20000", "--dev-limit", "100", "--no-test", "--no-prior", "--out", out_s];
        let child = Command::new(env!("CARGO_BIN_EXE_pff"))
            .arg("--data-dir")
            .arg(data_root())
            .args(["--threads", "1"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // the state of epoch 0 is written before training starts
        let state = dir.path().join("m.train.safetensors");
        let t0 = std::time::Instant::now();
        while !state.exists() {
            assert!(t0.elapsed().as_secs() < 120, "no training state after epoch 0");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(Command::new("kill").args([format!("-{signal}"), child.id().to_string()]).status().unwrap().success());
        let o = child.wait_with_output().unwrap();
        assert!(!o.status.success(), "SIG{signal}: the run did not stop");
        assert!(stderr(&o).contains("interrupted during epoch 1") && stderr(&o).contains(" train --resume"), "SIG{signal}: {}", stderr(&o));
        let left: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.contains("tmp")).collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
        assert_eq!(history(&dir, "m").len(), 1, "only epoch 0 was recorded");
        let resumed = pff(&["train", "--resume", out_s]);
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        assert_eq!(history(&dir, "m").iter().map(|r| r["epoch"].as_u64().unwrap()).collect::<Vec<_>>(), vec![0, 1, 2]);
    }
}

#[test]
fn eval_takes_the_dataset_from_the_weights_and_record_refuses_another() {
    fetch_dataset(&data_root(), "fashion", &FetchOptions::default()).expect("Fashion-MNIST can be fetched (apt-get download)");
    let weights = data_root().join("weights/fashion-web.safetensors");
    let dir = TestDir::new("cli-eval");
    let copy = dir.path().join("f.safetensors");
    std::fs::copy(&weights, &copy).unwrap();
    let o = pff(&["eval", "--weights", copy.to_str().unwrap(), "--limit", "200", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["dataset"], "fashion");
    let before = std::fs::read(&copy).unwrap();
    let o = pff(&["eval", "--weights", copy.to_str().unwrap(), "--dataset", "mnist", "--record"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("trained on fashion, not mnist"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&copy).unwrap(), before);
}

fn pff_on(threads: &str, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pff")).arg("--data-dir").arg(data_root()).args(["--threads", threads]).args(args).output().expect("the pff binary runs")
}

#[test]
fn settings_that_do_not_fit_the_data_and_odd_paths_are_clear_errors_not_panics() {
    mnist();
    let dir = TestDir::new("cli-panics");
    for (set, says) in
        [("input_dim=100", "input_dim = 100, but the images of mnist/train have 784 pixels"), ("classes=3", "classes = 3, but dataset mnist has 10 classes")]
    {
        let out = dir.path().join(format!("{set}.safetensors"));
        let o = pff(&["train", "--preset", "tiny", "--set", set, "--train-limit", "100", "--dev-limit", "50", "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{set}: {}", stderr(&o));
        assert!(stderr(&o).contains(says) && !stderr(&o).contains("panicked"), "{set}: {}", stderr(&o));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"\xff\xfe.safetensors"));
        let args: Vec<&std::ffi::OsStr> =
            ["train", "--preset", "tiny", "--epochs", "1", "--train-limit", "100", "--dev-limit", "50", "--no-test", "--no-prior", "--out"]
                .iter()
                .map(std::ffi::OsStr::new)
                .chain([odd.as_os_str()])
                .collect();
        let o = pff_on("1", &args);
        assert!(o.status.success(), "a path that is not UTF-8: {}", stderr(&o));
        assert!(odd.exists());
    }
}

#[test]
fn a_run_resumed_on_another_thread_count_ends_as_the_uninterrupted_one_with_its_test_and_prior() {
    mnist();
    let dir = TestDir::new("cli-exact");
    let p = |n: &str| dir.path().join(format!("{n}.safetensors"));
    let os = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
    let run = |threads: &str, args: Vec<std::ffi::OsString>| {
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let o = pff_on(threads, &refs);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let common = ["--preset", "tiny", "--train-limit", "600", "--dev-limit", "200"];
    let mut whole = os(&["train", "--epochs", "2"]);
    whole.extend(os(&common));
    whole.extend([std::ffi::OsString::from("--out"), p("whole").into_os_string()]);
    run("1", whole);
    let mut first = os(&["train", "--epochs", "1"]);
    first.extend(os(&common));
    first.extend([std::ffi::OsString::from("--out"), p("split").into_os_string()]);
    run("2", first);
    run("1", vec!["train".into(), "--resume".into(), p("split").into_os_string(), "--epochs".into(), "2".into()]);

    let (a, b) = (Checkpoint::from_bytes(&std::fs::read(p("whole")).unwrap()).unwrap(), Checkpoint::from_bytes(&std::fs::read(p("split")).unwrap()).unwrap());
    assert_eq!(a.model, b.model, "weights");
    assert!(a.prior.is_some());
    assert_eq!(a.prior, b.prior, "prior (fitted with the run's own seed)");
    assert_eq!((a.meta.test_accuracy, a.meta.epochs, a.meta.dev_accuracy), (b.meta.test_accuracy, b.meta.epochs, b.meta.dev_accuracy));
    let state = |n: &str| pff::run::StoredState::from_bytes(&std::fs::read(dir.path().join(format!("{n}.train.safetensors"))).unwrap()).unwrap().trainer;
    let (sa, sb) = (state("whole"), state("split"));
    assert_eq!(sa.model, sb.model);
    assert_eq!((sa.opt_r.m, sa.opt_r.v, sa.opt_g.m, sa.opt_g.v), (sb.opt_r.m, sb.opt_r.v, sb.opt_g.m, sb.opt_g.v), "Adam moments");
    assert_eq!((sa.cursor, sa.opt_r.t, sa.opt_g.t), (sb.cursor, sb.opt_r.t, sb.opt_g.t));
}

#[test]
fn a_run_driven_to_nan_exits_non_zero_and_leaves_its_files_as_they_were() {
    mnist();
    let dir = TestDir::new("cli-nan");
    let out = dir.path().join("m.safetensors");
    let out_s = out.to_str().unwrap();
    let first = pff(&["train", "--preset", "tiny", "--epochs", "1", "--train-limit", "300", "--dev-limit", "100", "--no-test", "--no-prior", "--out", out_s]);
    assert!(first.status.success(), "{}", stderr(&first));
    let files = ["m.safetensors", "m.train.safetensors", "m.history.jsonl"].map(|f| dir.path().join(f));
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let o = pff(&["train", "--resume", out_s, "--epochs", "2", "--set", "lr=1e30"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("non-finite") && stderr(&o).contains("Nothing was lost"), "{}", stderr(&o));
    let after: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(before == after, "the files changed");
}

/// The other commands, each run as the binary: `eval --json` with its documented fields,
/// `sample`, `prior`, `bench --json`, and `data` when the data is present.
#[test]
fn eval_sample_prior_bench_and_data_work_as_binaries() {
    mnist();
    let dir = TestDir::new("cli-commands");
    let weights = dir.path().join("w.safetensors");
    std::fs::copy(data_root().join("weights/mnist-web.safetensors"), &weights).unwrap();
    let w = weights.to_str().unwrap();

    let o = pff(&["eval", "--weights", w, "--limit", "300", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    for field in ["accuracy", "error", "forward_accuracy", "recon_sse", "n", "confusion", "dataset", "split"] {
        assert!(!v[field].is_null(), "eval --json has no {field}: {v}");
    }
    assert_eq!(v["n"], 300);
    assert!((v["accuracy"].as_f64().unwrap() + v["error"].as_f64().unwrap() - 1.0).abs() < 1e-12);

    let png = dir.path().join("dreams.png");
    let o = pff(&["sample", "--weights", w, "--n", "20", "--out", png.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(stdout(&o).contains("wrote 20 generated images to"), "words for any dataset: {}", stdout(&o));

    let o = pff(&["prior", "--weights", w, "--components", "3", "--limit", "600"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let prior = Checkpoint::from_bytes(&std::fs::read(&weights).unwrap()).unwrap().prior.unwrap();
    assert_eq!(prior.weights.len(), 3);
    // the components named by their classes' names, not as Rust debug output
    let said = stdout(&o);
    assert!(said.contains("the class each component stands for: ") && !said.contains("Some(") && !said.contains('['), "{said}");

    let o = pff(&["bench", "--preset", "tiny", "--batches", "1", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(b["preset"], "tiny");
    assert!(b["train_samples_per_s"].as_f64().unwrap() > 0.0 && !b["matmuls"].as_array().unwrap().is_empty());

    let o = pff(&["bench", "--preset", "tiny", "--batches", "1", "--threads-sweep", "1,2", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let threads: Vec<u64> = s["runs"].as_array().unwrap().iter().map(|r| r["threads"].as_u64().unwrap()).collect();
    assert_eq!(threads, vec![1, 2], "each run in its own pool");
    assert_eq!(s["train_speedup"][0], 1.0);

    let o = pff(&["data", "--dataset", "mnist"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("already present"), "{}", stdout(&o));
}

/// The first `n` images of `set` whose label is below `classes`.
fn first_of_classes(set: &pff::data::Dataset, classes: u8, n: usize) -> pff::data::Dataset {
    let mut out = pff::data::Dataset::new();
    for i in (0..set.len()).filter(|&i| set.labels[i] < classes).take(n) {
        out.extend(&set.slice(i..i + 1));
    }
    out
}

#[test]
fn a_custom_dataset_brings_its_class_count_and_names_to_training_and_the_weights() {
    mnist();
    let dir = TestDir::new("cli-custom");
    let root = dir.path().join("data");
    let idx = dir.path().join("idx");
    let train = pff::native::data::load_split(&data_root(), "mnist", "train").unwrap();
    let test = pff::native::data::load_split(&data_root(), "mnist", "test").unwrap();
    write_idx(&idx, &first_of_classes(&train, 4, 1_800), &first_of_classes(&test, 4, 400));
    let at = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_pff")).arg("--data-dir").arg(&root).args(["--threads", "1"]).args(args).output().unwrap();
    let idx_s = idx.to_str().unwrap();

    let o = at(&["data", "--idx-dir", idx_s, "--name", "four", "--classes", "zero,one,two,three", "--title", "Four digits", "--noun", "digit"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("train 1500, dev 300, test 400") && stdout(&o).contains("4 classes: zero, one, two, three"), "{}", stdout(&o));
    let m = pff::native::data::load_manifest(&root, "four").unwrap();
    assert_eq!((m.title.as_str(), m.classes.len(), m.noun.as_str()), ("Four digits", 4, "digit"));

    // names that do not cover the labels are refused, and the dataset is kept
    let o = at(&["data", "--idx-dir", idx_s, "--name", "four", "--classes", "a,b"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("2 class names were given, but the labels go up to 3"), "{}", stderr(&o));
    assert_eq!(pff::native::data::load_manifest(&root, "four").unwrap(), m);

    let out = dir.path().join("four.safetensors");
    let o = at(&["train", "--preset", "tiny", "--dataset", "four", "--epochs", "2", "--no-prior", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ck = Checkpoint::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(ck.model.cfg.classes, 4, "one output per class of the dataset");
    assert_eq!(ck.meta.class_names, ["zero", "one", "two", "three"]);
    assert_eq!(ck.meta.dataset, "four");
    let acc = ck.meta.test_accuracy.unwrap();
    assert!(acc > 0.8, "test accuracy {acc} on four classes");
    let o = at(&["eval", "--weights", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!((v["dataset"].as_str(), v["n"].as_u64()), (Some("four"), Some(400)));

    // the report's charts are SVG: the dev curve of both epochs, and a latent map with a circle
    // per test image and the model's class names in its legend
    let figures = dir.path().join("figures");
    let o = at(&["report", "--weights", out.to_str().unwrap(), "--out", figures.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut written: Vec<String> = std::fs::read_dir(&figures).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    written.sort();
    assert_eq!(written, ["four-curves.svg", "four-latents.svg", "four-recon.png", "four-summary.json"], "no prior, so no samples");
    let curves = std::fs::read_to_string(figures.join("four-curves.svg")).unwrap();
    let latents = std::fs::read_to_string(figures.join("four-latents.svg")).unwrap();
    let texts = |svg: &str| -> Vec<String> {
        svg.split("<text ").skip(1).map(|t| t.split_once('>').unwrap().1.split("</text>").next().unwrap().trim().to_string()).collect()
    };
    for svg in [&curves, &latents] {
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>") && svg.matches("<svg").count() == 1, "{svg}");
        assert_eq!(svg.matches("<text ").count(), svg.matches("</text>").count());
    }
    let (ct, lt) = (texts(&curves), texts(&latents));
    for t in ["epoch", "dev accuracy", "four (goodness classifier)", "1", "2"] {
        assert!(ct.contains(&t.to_string()), "no {t:?} in the curves: {ct:?}");
    }
    assert!(ct.iter().any(|t| t.ends_with('%')), "percent ticks: {ct:?}");
    assert_eq!(curves.matches("<circle").count(), 2, "a dot per epoch");
    assert_eq!(latents.matches("<circle").count(), 400, "a point per test image");
    assert_eq!(lt[lt.len() - 4..], ["zero", "one", "two", "three"], "the legend names the classes: {lt:?}");
    assert!(lt.contains(&"t-SNE 1".to_string()) && lt.contains(&"t-SNE 2".to_string()), "the map is t-SNE by default: {lt:?}");
    let summary = |o: &Output| -> serde_json::Value { serde_json::from_str(&stdout(o)[stdout(o).find('{').expect("a JSON summary")..]).unwrap() };
    let s = summary(&o);
    assert_eq!((s["split"].as_str(), s["n"].as_u64(), s["accuracy"].as_f64()), (Some("test"), Some(400), Some(acc)), "{s}");

    // --split dev evaluates, reconstructs and maps the dev images instead
    let on_dev = dir.path().join("on-dev");
    let o = at(&["report", "--weights", out.to_str().unwrap(), "--split", "dev", "--out", on_dev.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&o);
    assert_eq!((s["split"].as_str(), s["n"].as_u64()), (Some("dev"), Some(300)), "{s}");
    assert!((s["accuracy"].as_f64().unwrap() - ck.meta.dev_accuracy.unwrap()).abs() < 1e-9, "the best-dev model's dev accuracy: {s}");
    assert_eq!(std::fs::read_to_string(on_dev.join("four-latents.svg")).unwrap().matches("<circle").count(), 300, "a point per dev image");
    let o = at(&["report", "--weights", out.to_str().unwrap(), "--split", "train", "--out", on_dev.to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("train"), "{}", stderr(&o));

    // several histories side by side: one line each, named by file; a missing or broken one is
    // an error that names it, before anything is written
    let own = dir.path().join("four.history.jsonl");
    let other = dir.path().join("four-seed2.history.jsonl");
    let shifted: String =
        std::fs::read_to_string(&own).unwrap().lines().map(|l| l.replace("\"dev_accuracy\":", "\"dev_accuracy\":0.5,\"was\":") + "\n").collect();
    std::fs::write(&other, shifted).unwrap();
    let both = dir.path().join("both");
    let o = at(&[
        "report",
        "--weights",
        out.to_str().unwrap(),
        "--history",
        own.to_str().unwrap(),
        "--history",
        other.to_str().unwrap(),
        "--out",
        both.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let curves = std::fs::read_to_string(both.join("four-curves.svg")).unwrap();
    let ct = texts(&curves);
    assert!(ct.contains(&"four".to_string()) && ct.contains(&"four-seed2".to_string()), "both runs in the legend: {ct:?}");
    assert_eq!(curves.matches("<circle").count(), 4, "a dot per epoch of each run");
    assert!(ct.contains(&"50%".to_string()), "the y axis reaches down to the second run's 50 %: {ct:?}");
    let broken = dir.path().join("broken.history.jsonl");
    std::fs::write(&broken, "{\"epoch\":1,\"dev_accuracy\":0.9}\nnot json\n").unwrap();
    for (bad, says) in [(dir.path().join("absent.history.jsonl"), "cannot read the history"), (broken, "line 2 is not a history record")] {
        let nowhere = dir.path().join("nowhere");
        let o = at(&["report", "--weights", out.to_str().unwrap(), "--history", bad.to_str().unwrap(), "--out", nowhere.to_str().unwrap()]);
        assert!(!o.status.success() && stderr(&o).contains(says) && stderr(&o).contains(bad.file_name().unwrap().to_str().unwrap()), "{}", stderr(&o));
        assert!(std::fs::read_dir(&nowhere).map_or(true, |mut d| d.next().is_none()), "nothing written for a bad history");
    }
}
