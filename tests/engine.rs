//! Engine behaviour: Adam against a hand computation, the classifier's step window, the GMM,
//! the weights format (round trip and rejection of bad files), determinism and resume, and the
//! NaN guard. These run natively and, compiled to wasm32, in headless Chromium.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use ndarray::{Array1, Array2};
use pff::PffError;
use pff::checkpoint::{Checkpoint, ModelMeta, Storage};
use pff::config::{ComponentDraw, Config, Setting};
use pff::data::Dataset;
use pff::gmm::Gmm;
use pff::model::{Generative, ParamSet, Pff};
use pff::noise::NoiseStream;
use pff::ops::row_sq_sums;
use pff::rng;
use pff::run::{STATE_VERSION, StoredState, trainer_to_bytes};
use pff::train::{Adam, Trainer};
use rand::RngExt;

fn micro() -> Config {
    Config { input_dim: 784, hidden: 20, latent: 4, steps: 6, batch_size: 8, prior_components: 2, latent_batch: 8, ..Config::tiny() }
}

/// Random "images": sparse non-negative rows, with a class-dependent pattern.
fn toy_data(n: usize, d: usize, seed: u64) -> Dataset {
    let mut r = rng::rng(seed, &[]);
    let mut pixels = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 10;
        labels.push(c as u8);
        for p in 0..d {
            let on = (p + c) % 5 == 0 || r.random::<f64>() < 0.1;
            pixels.push(if on { 255 } else { 0 });
        }
    }
    Dataset { pixels, labels }
}

fn toy_batch(d: &Dataset, dim: usize) -> (Array2<f32>, Vec<usize>) {
    let x = Array2::from_shape_fn((d.len(), dim), |(i, j)| d.pixels[i * dim + j] as f32 / 255.0);
    (x, d.labels.iter().map(|&l| l as usize).collect())
}

#[test]
fn adam_step_matches_a_hand_computation() {
    let cfg = micro();
    let model = Pff::<f64>::new(cfg, 1).unwrap();
    let mut p = model.generative.clone();
    let mut g = p.zeros_like();
    // Three entries: a small gradient, one clipped from 3.0 to 1.0, one from −5 to −1.
    g.gy[[0, 0]] = 0.2;
    g.gy[[0, 1]] = 3.0;
    g.gy[[0, 2]] = -5.0;
    let before = p.gy.clone();
    let mut opt: Adam<Generative<f64>> = Adam::new(0.01, &p);
    opt.step(&mut p, &g);
    opt.step(&mut p, &g);
    // Hand computation of TF's Adam for two identical steps, ε added to √v.
    let (lr, b1, b2, eps) = (0.01f64, 0.9f64, 0.999f64, 1e-7f64);
    let hand = |grad: f64| {
        let (mut m, mut v, mut theta) = (0.0, 0.0, 0.0);
        for t in 1..=2 {
            m += (grad - m) * (1.0 - b1);
            v += (grad * grad - v) * (1.0 - b2);
            let lr_t = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
            theta -= lr_t * m / (v.sqrt() + eps);
        }
        theta
    };
    for (j, grad) in [(0, 0.2), (1, 1.0), (2, -1.0)] {
        let moved = p.gy[[0, j]] - before[[0, j]];
        assert!((moved - hand(grad)).abs() < 1e-15, "entry {j}: moved {moved}, hand {}", hand(grad));
    }
    assert_eq!(p.gy[[1, 1]], before[[1, 1]], "zero gradient, zero moment: no move");
    assert_eq!(opt.t, 2);
}

#[test]
fn classifier_sums_exactly_steps_k_half_minus_one_and_k_half() {
    for (k, want) in [(12usize, (5usize, 7usize)), (8, (3, 5)), (2, (0, 2))] {
        let cfg = Config { steps: k, ..micro() };
        assert_eq!(cfg.classifier_window(), want);
    }
    let cfg = Config { steps: 12, ..micro() };
    let model = Pff::<f64>::new(cfg.clone(), 3).unwrap();
    let data = toy_data(7, cfg.input_dim, 4);
    let (x, _) = toy_batch(&data, cfg.input_dim);
    let x = x.mapv(|v| v as f64);
    let labels: Vec<usize> = (0..10).collect();
    // Record the goodness of every step of a 12-step settle.
    let mut per_step: Vec<Array1<f64>> = vec![];
    model.settle(x.view(), &labels, 12, |_, z1, z2| per_step.push(-0.5 * (row_sq_sums(z1.view()) + row_sq_sums(z2.view()))));
    let scores = model.goodness_scores(x.view());
    let n = x.nrows();
    let pick = |steps: &[usize]| -> Array2<f64> {
        let mut s = Array2::zeros((n, 10));
        for &k in steps {
            for c in 0..10 {
                for i in 0..n {
                    s[[i, c]] += per_step[k][c * n + i] / 3.0;
                }
            }
        }
        s
    };
    let close = |a: &Array2<f64>, b: &Array2<f64>| a.iter().zip(b.iter()).all(|(p, q)| (p - q).abs() <= 1e-12 * (1.0 + q.abs()));
    assert!(close(&scores, &pick(&[5, 6])), "the classifier must sum steps 5 and 6 (0-based)");
    for other in [&[4usize, 5, 6][..], &[5, 6, 7], &[6, 7], &[4, 5]] {
        assert!(!close(&scores, &pick(other)), "steps {other:?} must not match");
    }
}

#[test]
fn gmm_recovers_a_known_three_component_mixture() {
    let mut r = rng::rng(21, &[]);
    let means = [[0.0, 0.0], [8.0, 1.0], [-3.0, 9.0]];
    let stds = [[1.0, 0.5], [0.7, 1.5], [1.2, 1.2]];
    let weights = [0.5, 0.3, 0.2];
    let n = 3000;
    let mut x = Array2::zeros((n, 2));
    let mut truth = vec![];
    for i in 0..n {
        let u = r.random::<f64>();
        let c = if u < weights[0] {
            0
        } else if u < weights[0] + weights[1] {
            1
        } else {
            2
        };
        truth.push(c);
        for d in 0..2 {
            x[[i, d]] = means[c][d] + stds[c][d] * <f64 as pff::real::Real>::std_normal(&mut r);
        }
    }
    let g = Gmm::fit(x.view(), 3, Some(&truth), &mut rng::rng(5, &[])).unwrap();
    assert!(g.converged);
    for c in 0..3 {
        // Find the fitted component nearest to the true mean.
        let k = (0..3)
            .min_by(|&a, &b| {
                let da = (g.means[a][0] - means[c][0]).powi(2) + (g.means[a][1] - means[c][1]).powi(2);
                let db = (g.means[b][0] - means[c][0]).powi(2) + (g.means[b][1] - means[c][1]).powi(2);
                da.total_cmp(&db)
            })
            .unwrap();
        for d in 0..2 {
            assert!((g.means[k][d] - means[c][d]).abs() < 0.2, "mean {c}/{d}: {:?}", g.means[k]);
            let var = g.covariances[k][d][d];
            assert!((var.sqrt() - stds[c][d]).abs() < 0.15, "std {c}/{d}: {}", var.sqrt());
        }
        assert!((g.weights[k] - weights[c]).abs() < 0.03, "weight {c}: {}", g.weights[k]);
        assert_eq!(g.component_labels[k], Some(c));
    }
    // Sampling by weights reproduces the proportions; the reference draw is near uniform.
    let (_, comps) = g.sample(6000, ComponentDraw::Weights, None, &mut rng::rng(8, &[])).unwrap();
    let (_, ref_comps) = g.sample(6000, ComponentDraw::ReferenceSoftmax, None, &mut rng::rng(8, &[])).unwrap();
    let frac = |cs: &[usize], k: usize| cs.iter().filter(|&&c| c == k).count() as f64 / cs.len() as f64;
    let big = (0..3).max_by(|&a, &b| g.weights[a].total_cmp(&g.weights[b])).unwrap();
    assert!((frac(&comps, big) - 0.5).abs() < 0.03);
    assert!((frac(&ref_comps, big) - 0.5).abs() > 0.1, "softmax(π) flattens the draw");
    let (only, oc) = g.sample(50, ComponentDraw::Weights, Some(1), &mut rng::rng(9, &[])).unwrap();
    assert!(oc.iter().all(|&c| c == 1) && only.nrows() == 50);
    assert!(g.sample(5, ComponentDraw::Weights, Some(3), &mut rng::rng(9, &[])).is_err());
}

fn trained_micro(batches: usize, seed: u64) -> Trainer {
    let cfg = micro();
    let data = toy_data(40, cfg.input_dim, 7);
    let mut tr = Trainer::new(Pff::new(cfg, seed).unwrap(), seed);
    tr.train_batches(&data, batches, |_, _| {}).unwrap();
    tr
}

#[test]
fn weights_round_trip_in_f32_and_f16() {
    let tr = trained_micro(2, 3);
    let data = toy_data(40, tr.model.cfg.input_dim, 8);
    let (x, labels) = toy_batch(&data, tr.model.cfg.input_dim);
    let z = tr.model.latents(x.view()).mapv(|v| v as f64);
    let prior = Gmm::fit(z.view(), 2, Some(&labels), &mut rng::rng(1, &[])).unwrap();
    let meta = ModelMeta { dataset: "toy".into(), epochs: 1, dev_accuracy: Some(0.5), ..Default::default() };
    let ck = Checkpoint { model: tr.model.clone(), meta: meta.clone(), prior: Some(prior.clone()) };
    let back = Checkpoint::from_bytes(&ck.to_bytes(Storage::F32).unwrap()).unwrap();
    assert_eq!(back.model, tr.model);
    assert_eq!(back.prior.as_ref(), Some(&prior));
    assert_eq!(back.meta.dataset, "toy");
    let half = Checkpoint::from_bytes(&ck.to_bytes(Storage::F16).unwrap()).unwrap();
    let a = tr.model.rep.w1.clone();
    let b = half.model.rep.w1.clone();
    assert!(a.iter().zip(b.iter()).all(|(p, q)| (p - q).abs() <= 1e-3 * p.abs().max(1e-2)));
    assert_eq!(half.meta.storage, "f16");
}

#[test]
fn bad_weights_files_are_rejected_with_clear_errors() {
    let tr = trained_micro(1, 4);
    let ck = Checkpoint { model: tr.model.clone(), meta: ModelMeta::default(), prior: None };
    let good = ck.to_bytes(Storage::F32).unwrap();
    let msg = |bytes: &[u8]| match Checkpoint::from_bytes(bytes) {
        Err(PffError::Weights(m)) => m,
        Err(other) => panic!("wrong error kind: {other}"),
        Ok(_) => panic!("bad bytes were accepted"),
    };
    assert!(msg(&[]).contains("not a safetensors"));
    assert!(msg(&good[..good.len() / 2]).contains("not a valid safetensors"), "truncated");
    assert!(msg(b"hello world, definitely not weights").contains("safetensors"));
    // A NaN in one tensor.
    let mut nan = tr.model.clone();
    nan.rep.w2[[1, 2]] = f32::NAN;
    let bytes = Checkpoint { model: nan, meta: ModelMeta::default(), prior: None }.to_bytes(Storage::F32).unwrap();
    assert!(msg(&bytes).contains("W2") && msg(&bytes).contains("non-finite"));
    // Shapes that do not match the stored configuration.
    let mut wrong = tr.model.clone();
    wrong.cfg.hidden = 30;
    let bytes = Checkpoint { model: wrong, meta: ModelMeta::default(), prior: None }.to_bytes(Storage::F32).unwrap();
    assert!(msg(&bytes).contains("shape"));
    // A safetensors file from elsewhere (no pff metadata).
    let t = safetensors::tensor::TensorView::new(safetensors::tensor::Dtype::F32, vec![1], &[0, 0, 0, 0]).unwrap();
    let foreign = safetensors::tensor::serialize(vec![("x", t)], None).unwrap();
    assert!(msg(&foreign).contains("not written by pff"));
    // Training state is rejected where a weights file is expected, and vice versa.
    let st = trainer_to_bytes(&tr, &ModelMeta::default()).unwrap();
    assert!(Checkpoint::from_bytes(&st).is_ok(), "a training checkpoint also holds the weights");
    assert!(StoredState::from_bytes(&good).is_err());
}

#[test]
fn training_is_deterministic_and_resumes_exactly() {
    let a = trained_micro(3, 9);
    let b = trained_micro(3, 9);
    assert_eq!(a.model, b.model, "same seed, same result");
    let c = trained_micro(3, 10);
    assert_ne!(a.model, c.model, "another seed, another result");
    // Resume: 1 batch, save the training state, load, 2 more batches.
    let cfg = micro();
    let data = toy_data(40, cfg.input_dim, 7);
    let mut first = trained_micro(1, 9);
    let bytes = trainer_to_bytes(&first, &ModelMeta::default()).unwrap();
    let mut resumed = StoredState::from_bytes(&bytes).unwrap().trainer;
    resumed.train_batches(&data, 2, |_, _| {}).unwrap();
    first.train_batches(&data, 2, |_, _| {}).unwrap();
    assert_eq!(resumed.model, a.model);
    assert_eq!(first.model, a.model);
    assert_eq!(resumed.opt_r.t, a.opt_r.t);
}

/// `bytes` (a training state) as version 1 wrote it: no `version`, no `noise` in `trainer`.
fn as_version_1(bytes: &[u8]) -> Vec<u8> {
    rebuilt(bytes, |_, md| {
        let mut st: serde_json::Value = serde_json::from_str(&md["trainer"]).unwrap();
        let fields = st.as_object_mut().unwrap();
        assert_eq!(fields.remove("version"), Some(serde_json::json!(STATE_VERSION)));
        assert_eq!(fields.remove("noise"), Some(serde_json::json!("pcg-blocks")));
        md.insert("trainer".into(), st.to_string());
    })
}

#[test]
fn a_version_1_state_resumes_exactly_on_the_pcg_block_stream_it_started_on() {
    let cfg = micro();
    let data = toy_data(40, cfg.input_dim, 7);
    let on_pcg = |batches| {
        let mut tr = Trainer::new(Pff::new(micro(), 9).unwrap(), 9).with_noise_stream(NoiseStream::PcgBlocks);
        tr.train_batches(&data, batches, |_, _| {}).unwrap();
        tr
    };
    let whole = on_pcg(3);
    assert_ne!(whole.model, trained_micro(3, 9).model, "the two streams give two runs");
    let old = as_version_1(&trainer_to_bytes(&on_pcg(1), &ModelMeta::default()).unwrap());
    let mut resumed = StoredState::from_bytes(&old).unwrap().trainer;
    assert_eq!(resumed.noise_stream, NoiseStream::PcgBlocks, "a state without a stream started on the PCG blocks");
    resumed.train_batches(&data, 2, |_, _| {}).unwrap();
    assert_eq!(resumed.model, whole.model, "the old run continues bit for bit");
    // and the current version records the stream
    let now = trainer_to_bytes(&resumed, &ModelMeta::default()).unwrap();
    assert_eq!(StoredState::from_bytes(&now).unwrap().trainer.noise_stream, NoiseStream::PcgBlocks);
}

#[test]
fn a_state_from_a_newer_pff_is_refused_with_its_version() {
    let good = trainer_to_bytes(&trained_micro(1, 4), &ModelMeta::default()).unwrap();
    let newer = rebuilt(&good, |_, md| {
        let mut st: serde_json::Value = serde_json::from_str(&md["trainer"]).unwrap();
        st["version"] = serde_json::json!(STATE_VERSION + 1);
        md.insert("trainer".into(), st.to_string());
    });
    match StoredState::from_bytes(&newer) {
        Err(PffError::Weights(m)) => assert!(m.contains(&format!("version {}", STATE_VERSION + 1)) && m.contains("newer"), "{m}"),
        Err(other) => panic!("wrong error kind: {other}"),
        Ok(_) => panic!("a newer state was accepted"),
    }
}

#[test]
fn the_lr_schedule_decays_at_its_milestones_and_only_schedule_fields_change_on_resume() {
    let mut cfg = micro();
    assert!(cfg.lr_milestones.is_empty(), "constant learning rate by default (the spec)");
    assert_eq!(cfg.lr_at(1000), cfg.lr);
    cfg.set("lr_milestones", Setting::Text("[2, 3]")).unwrap();
    cfg.set("lr_gamma", Setting::Text("0.5")).unwrap();
    let lr = cfg.lr;
    assert_eq!([cfg.lr_at(0), cfg.lr_at(1), cfg.lr_at(2), cfg.lr_at(3), cfg.lr_at(9)], [lr, lr, lr / 2.0, lr / 4.0, lr / 4.0]);
    assert!(cfg.set("lr_gamma", Setting::Text("0")).is_err());
    // The trainer uses the scheduled rate: 40 toy samples make 5 batches per epoch.
    let data = toy_data(40, cfg.input_dim, 7);
    let mut tr = Trainer::new(Pff::new(cfg.clone(), 5).unwrap(), 5);
    for epoch in 0..3 {
        tr.train_batches(&data, usize::MAX, |_, _| {}).unwrap();
        assert_eq!((tr.opt_r.lr, tr.opt_g.lr), (cfg.lr_at(epoch), cfg.lr_at(epoch)), "epoch {epoch}");
    }
    // A decayed schedule gives a different model from a constant one.
    let mut constant = Trainer::new(Pff::new(micro(), 5).unwrap(), 5);
    for _ in 0..3 {
        constant.train_batches(&data, usize::MAX, |_, _| {}).unwrap();
    }
    assert_ne!(constant.model, tr.model);
    // Old files have no schedule fields: they read as the constant default.
    let mut v = serde_json::to_value(micro()).unwrap();
    v.as_object_mut().unwrap().retain(|k, _| !k.starts_with("lr_"));
    let old: Config = serde_json::from_value(v).unwrap();
    assert_eq!(old, micro());
    // A resumed run may change its schedule but not the model.
    let mut resumed = micro();
    resumed.set_schedule("lr_milestones", Setting::Text("[40]")).unwrap();
    resumed.set_schedule("lr", Setting::Text("0.0005")).unwrap();
    let e = resumed.set_schedule("hidden", Setting::Text("40")).unwrap_err().to_string();
    assert!(e.contains("hidden cannot change when resuming"), "{e}");
    assert_eq!(resumed.hidden, micro().hidden);
}

/// `reg_lambda` is a named option: off by default and then absent from the serialised
/// configuration (files of earlier runs are unchanged), settable with `--set`, not negative, not
/// changeable on resume, and it changes training once on.
#[test]
fn the_weight_regulariser_is_an_option_that_is_off_by_default() {
    let cfg = micro();
    assert_eq!(cfg.reg_lambda, 0.0, "off, as in the published runs");
    assert!(!serde_json::to_string(&cfg).unwrap().contains("reg_lambda"));
    let mut on = cfg.clone();
    on.set("reg_lambda", Setting::Text("0.001")).unwrap();
    assert_eq!(on.reg_lambda, 0.001);
    let back: Config = serde_json::from_str(&serde_json::to_string(&on).unwrap()).unwrap();
    assert_eq!(back, on);
    assert!(on.clone().set("reg_lambda", Setting::Text("-1")).is_err());
    assert!(on.clone().set("reg_lambda", Setting::Text("lots")).is_err());
    let e = micro().set("no_such_option", Setting::Text("1")).unwrap_err().to_string();
    assert!(e.contains("unknown hyper-parameter \"no_such_option\"") && e.contains("reg_lambda"), "{e}");
    assert!(micro().set_schedule("reg_lambda", Setting::Text("0.001")).is_err());
    let data = toy_data(40, cfg.input_dim, 7);
    let train = |cfg: &Config| {
        let mut tr = Trainer::new(Pff::new(cfg.clone(), 5).unwrap(), 5);
        tr.train_batches(&data, 2, |_, _| {}).unwrap();
        tr.model
    };
    let (plain, regularised) = (train(&cfg), train(&on));
    assert_ne!(plain.rep.w1, regularised.rep.w1);
}

/// Matmuls blocked by rows and columns and chunked elementwise passes never change the order of
/// a sum, so a run gives the same bits on any number of threads (what lets a long run resume on
/// another thread count). The sizes are above the parallel thresholds so that every path runs:
/// row blocks, column blocks and both.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn training_gives_the_same_bits_on_any_number_of_threads() {
    let cfg = Config { hidden: 300, batch_size: 64, steps: 4, ..micro() };
    let rows = 2 * cfg.batch_size;
    assert!(rows * cfg.input_dim * cfg.hidden >= pff::linalg::PARALLEL_MIN_MACS);
    assert!(rows * cfg.hidden >= pff::ops::PARALLEL_MIN_ELEMS);
    let data = toy_data(128, cfg.input_dim, 7);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut tr = Trainer::new(Pff::new(cfg.clone(), 21).unwrap(), 21);
            tr.train_batches(&data, 2, |_, _| {}).unwrap();
            let (x, _) = toy_batch(&data, cfg.input_dim);
            let z = tr.model.latents(x.view());
            (tr.model, tr.opt_r.m, tr.opt_g.v, z)
        })
    };
    let one = run(1);
    for threads in [2, 3, 8, 16] {
        let many = run(threads);
        assert_eq!(one.0, many.0, "parameters on {threads} threads");
        assert_eq!(one.1, many.1, "Adam first moments on {threads} threads");
        assert_eq!(one.2, many.2, "Adam second moments on {threads} threads");
        assert_eq!(one.3, many.3, "latents on {threads} threads");
    }
}

#[test]
fn a_nan_stops_training_before_it_spreads() {
    let mut tr = trained_micro(1, 11);
    tr.model.rep.w1[[0, 0]] = f32::NAN;
    let before = tr.model.clone();
    let data = toy_data(40, tr.model.cfg.input_dim, 7);
    let (x, labels) = toy_batch(&data, tr.model.cfg.input_dim);
    let e = tr.train_batch(x.slice(ndarray::s![0..8, ..]), &labels[..8], 99).unwrap_err();
    assert!(matches!(e, PffError::NonFinite(_)), "{e}");
    assert!(e.to_string().contains("before applying the update"));
    assert_eq!(tr.model.rep.w2, before.rep.w2, "no update was applied");
    // Only the one good batch before the NaN was injected was applied: K Adam steps.
    assert_eq!(tr.opt_r.t, tr.model.cfg.steps as u64);
}

#[test]
fn inference_outputs_have_the_right_shapes_and_ranges() {
    let tr = trained_micro(2, 12);
    let m = &tr.model;
    let data = toy_data(13, m.cfg.input_dim, 5);
    let (x, labels) = toy_batch(&data, m.cfg.input_dim);
    let ev = m.evaluate(x.view(), &labels);
    assert_eq!(ev.n, 13);
    assert_eq!(ev.confusion.iter().flatten().sum::<usize>(), 13);
    assert!((ev.accuracy + ev.error - 1.0).abs() < 1e-12);
    let rec = m.reconstruct(x.view());
    assert_eq!(rec.dim(), x.dim());
    assert!(rec.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let z = m.latents(x.view());
    assert_eq!(z.dim(), (13, m.cfg.latent));
    let imgs = m.generative.decode(z.view());
    assert!(imgs.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let t = m.settle_trace(x.slice(ndarray::s![0..1, ..]), Some(3));
    assert_eq!(t.goodness.len(), m.cfg.steps * m.cfg.classes);
    assert_eq!(t.z1.len(), m.cfg.steps * m.cfg.hidden);
    let direct = m.goodness_scores(x.slice(ndarray::s![0..1, ..]));
    for c in 0..10 {
        assert!((direct[[0, c]] - t.scores[c]).abs() <= 1e-4 * (1.0 + direct[[0, c]].abs()), "trace scores = classifier scores");
    }
}

#[path = "common/same_run.rs"]
mod same_run;

/// The fixed `tiny` run of `tests/common/same_run.rs` matches the committed native record
/// (the wasm builds are checked against the same record in `tests/web.rs`).
/// `PFF_BLESS=1 cargo test --release --test engine same_run` rewrites the record.
#[test]
fn the_same_run_matches_the_committed_native_record() {
    let here = same_run::run();
    if std::env::var_os("PFF_BLESS").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/same-run.json");
        std::fs::write(&path, serde_json::to_string(&here).unwrap() + "\n").unwrap();
        return;
    }
    let (loss, param) = same_run::compare(&same_run::reference(), &here).unwrap();
    eprintln!("native vs record: losses {loss:.2e}, parameters {param:.2e}");
    assert!(here.dev_accuracy > 0.3, "the run learns (dev accuracy {})", here.dev_accuracy);
}

/// The same fixed run on the older PCG-block noise stream gives what it gave before the Philox
/// stream became the default: the record committed then is kept unchanged. The draws must be
/// identical and the rest within the cross-kernel bounds of `same_run::compare` (on the AVX-512
/// machine that wrote the record, every value is bit-identical).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_same_run_on_the_pcg_block_stream_matches_its_record_from_before_philox() {
    let (here, record) = (same_run::run_on(NoiseStream::PcgBlocks, |_| {}), same_run::pcg_blocks_reference());
    let (loss, param) = same_run::compare(&record, &here).unwrap();
    eprintln!("pcg-blocks vs its record: losses {loss:.2e}, parameters {param:.2e}, identical: {}", here == record);
}

/// Every "§N" or "§N.M" cited in `src/` names a section heading of `docs/algorithm.md`.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn every_section_reference_in_the_code_resolves_to_docs_algorithm_md() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/algorithm.md")).unwrap();
    let headings: std::collections::HashSet<String> =
        doc.lines().filter(|l| l.starts_with('#')).filter_map(|l| l.split('§').nth(1)).map(|r| r.split_whitespace().next().unwrap_or("").to_string()).collect();
    let mut files = vec![root.join("src")];
    let mut cited = 0;
    let mut missing = Vec::new();
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for (i, part) in text.split('§').enumerate().skip(1) {
            let num: String = part.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            let num = num.trim_end_matches('.').to_string();
            cited += 1;
            if !headings.contains(&num) {
                missing.push(format!("{}: §{num} (reference {i})", p.display()));
            }
        }
    }
    assert!(cited > 30, "only {cited} references found");
    assert!(missing.is_empty(), "references without a section in docs/algorithm.md: {missing:#?}");
}

/// A pff weights file taken apart, edited and put together again (without its checksum, as a
/// file from before checksums would be), to reach each check of the loader on its own.
#[allow(clippy::type_complexity)]
fn rebuilt(
    good: &[u8],
    edit: impl FnOnce(&mut Vec<(String, safetensors::tensor::Dtype, Vec<usize>, Vec<u8>)>, &mut std::collections::HashMap<String, String>),
) -> Vec<u8> {
    let (_, header) = safetensors::SafeTensors::read_metadata(good).unwrap();
    let mut md: std::collections::HashMap<String, String> = header.metadata().clone().unwrap().into_iter().collect();
    md.remove("sha256");
    let st = safetensors::SafeTensors::deserialize(good).unwrap();
    let mut tensors: Vec<_> = st.tensors().into_iter().map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec())).collect();
    edit(&mut tensors, &mut md);
    let views: Vec<_> = tensors.iter().map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::tensor::serialize(views, Some(md)).unwrap()
}

#[test]
fn the_loader_names_each_kind_of_bad_file() {
    use safetensors::tensor::Dtype;
    let tr = trained_micro(1, 4);
    let good = Checkpoint { model: tr.model.clone(), meta: ModelMeta::default(), prior: None }.to_bytes(Storage::F32).unwrap();
    let msg = |bytes: Vec<u8>| match Checkpoint::from_bytes(&bytes) {
        Err(PffError::Weights(m)) => m,
        Err(other) => panic!("wrong error kind: {other}"),
        Ok(_) => panic!("a bad file was accepted"),
    };
    assert!(Checkpoint::from_bytes(&rebuilt(&good, |_, _| {})).is_ok(), "a file without a checksum (an older file) loads");
    let wrong_dtype = msg(rebuilt(&good, |t, _| {
        let w1 = t.iter_mut().find(|x| x.0 == "W1").unwrap();
        w1.1 = Dtype::F64;
        w1.2 = vec![w1.2[0], w1.2[1] / 2];
    }));
    assert!(wrong_dtype.contains("W1") && (wrong_dtype.contains("dtype") || wrong_dtype.contains("shape")), "{wrong_dtype}");
    let i64s = msg(rebuilt(&good, |t, _| t.iter_mut().find(|x| x.0 == "b").unwrap().1 = Dtype::I32));
    assert!(i64s.contains("\"b\"") && i64s.contains("dtype"), "{i64s}");
    let missing = msg(rebuilt(&good, |t, _| t.retain(|x| x.0 != "G2")));
    assert!(missing.contains("\"G2\" is missing"), "{missing}");
    let unexpected = msg(rebuilt(&good, |t, _| t.push(("extra".into(), Dtype::F32, vec![1], vec![0; 4]))));
    assert!(unexpected.contains("unexpected tensor \"extra\""), "{unexpected}");
    let version = msg(rebuilt(&good, |_, md| {
        md.insert("version".into(), "2".into());
    }));
    assert!(version.contains("unsupported version"), "{version}");
    let format = msg(rebuilt(&good, |_, md| {
        md.insert("format".into(), "other".into());
    }));
    assert!(format.contains("format is \"other\""), "{format}");
    let config = msg(rebuilt(&good, |_, md| {
        let c = md["config"].replace("\"hidden\":20", "\"hidden\":15");
        md.insert("config".into(), c);
    }));
    assert!(config.contains("stored configuration") && config.contains("hidden = 15"), "{config}");
    let not_json = msg(rebuilt(&good, |_, md| {
        md.insert("config".into(), "{".into());
    }));
    assert!(not_json.contains("metadata 'config' is not valid"), "{not_json}");
    let unknown = msg(rebuilt(&good, |_, md| {
        md.insert("notes".into(), "x".into());
    }));
    assert!(unknown.contains("unknown metadata entry \"notes\""), "{unknown}");
}

/// The settling computes x̂·W1 once per image instead of once per hypothesis and step, and the
/// first step's hypothesis-free work once per image; the states it gives are bit for bit those
/// of the plain step on the tiled rows, for one image (the page's case), a few and many, on
/// several pool sizes.
#[test]
fn settling_with_shared_work_done_once_gives_the_same_bits() {
    let cfg = Config { hidden: 200, steps: 8, ..micro() };
    let m = Pff::<f32>::new(cfg.clone(), 5).unwrap();
    let labels: Vec<usize> = (0..cfg.classes).collect();
    for n in [1, 2, 60] {
        let x = toy_data(n, cfg.input_dim, 3).batch(&(0..n).collect::<Vec<_>>()).0;
        // the same settling with the plain step
        let x_hat = pff::ops::nrm(x.view());
        let fwd = m.rep.forward(x_hat.view());
        let tile = |a: &Array2<f32>| ndarray::concatenate(ndarray::Axis(0), &vec![a.view(); labels.len()]).unwrap();
        let xs = tile(&x_hat);
        let mut state = pff::model::State { z1: tile(&fwd.z1), z2: tile(&fwd.z2) };
        let mut y_hat = Array2::<f32>::zeros((n * labels.len(), cfg.classes));
        for (c, &l) in labels.iter().enumerate() {
            y_hat.slice_mut(ndarray::s![c * n..(c + 1) * n, l]).fill(cfg.y_scale as f32);
        }
        let mut want = Vec::new();
        for _ in 0..cfg.steps {
            state = m.rep.step(&cfg, xs.view(), y_hat.view(), &state, None);
            want.push((state.z1.clone(), state.z2.clone()));
        }
        // natively on pools of several sizes; in wasm on the pool the test runs in
        let pools: &[usize] = if cfg!(target_arch = "wasm32") { &[0] } else { &[1, 2, 4] };
        for &threads in pools {
            let mut got = Vec::new();
            let mut settle = || m.settle(x.view(), &labels, cfg.steps, |_, z1, z2| got.push((z1.clone(), z2.clone())));
            if threads == 0 {
                settle();
            } else {
                rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(settle);
            }
            assert_eq!(got.len(), cfg.steps);
            for (k, ((g1, g2), (w1, w2))) in got.iter().zip(&want).enumerate() {
                assert!(g1 == w1 && g2 == w2, "{n} images, {threads} threads: step {k} differs");
            }
        }
    }
}

/// Every matrix product goes through `linalg::gemm`, whose kernel depends on the build (the
/// `gemm` crate natively and in the simd128 wasm builds, the fused multiply-add kernel of
/// `linalg/wasm_relaxed.rs` in the relaxed build). Whichever this build runs, it must agree with
/// a plain f64 triple loop: many rows and few (the relaxed kernel's two ways of reading `b`),
/// ragged edges, k across several blocks, transposed operands, and alpha/beta.
#[test]
fn this_builds_matmul_kernel_matches_the_reference() {
    let mut r = rng::rng(99, &[]);
    let mut arr = |m: usize, n: usize| Array2::<f32>::from_shape_fn((m, n), |_| r.random::<f32>() - 0.5);
    for (m, k, n) in [(1, 5, 3), (7, 600, 203), (16, 64, 8), (17, 300, 9), (200, 300, 150), (65, 513, 130)] {
        let (a, b, c0) = (arr(m, k), arr(k, n), arr(m, n));
        let (at, bt) = (a.t().to_owned(), b.t().to_owned());
        let want = pff::linalg::matmul_reference(a.view(), b.view());
        for (av, bv) in [(a.view(), b.view()), (at.t(), b.view()), (a.view(), bt.t()), (at.t(), bt.t())] {
            let got = pff::linalg::matmul(av, bv);
            let err = (&got - &want).mapv(f32::abs).fold(0f32, |x, &y| x.max(y));
            assert!(err <= 2e-6 * k as f32, "{m}×{k}×{n}: max error {err}");
            let mut acc = c0.clone();
            pff::linalg::gemm(2.0, av, bv, 0.5, acc.view_mut());
            let err = (&acc - &(&want * 2.0 + &c0 * 0.5)).mapv(f32::abs).fold(0f32, |x, &y| x.max(y));
            assert!(err <= 5e-6 * k as f32, "{m}×{k}×{n} with alpha and beta: max error {err}");
        }
        let mut nan_in_c = Array2::from_elem((m, n), f32::NAN);
        pff::linalg::gemm(1.0, a.view(), b.view(), 0.0, nan_in_c.view_mut());
        assert!(nan_in_c.iter().all(|v| v.is_finite()), "{m}×{k}×{n}: beta = 0 must not read c");
    }
}

/// `n` images of `classes` classes (label = index mod classes), a different stripe per class.
fn striped(n: usize, classes: usize) -> Dataset {
    let labels: Vec<u8> = (0..n).map(|i| (i % classes) as u8).collect();
    let pixels = (0..n * 784).map(|p| if (p % 784) % (3 + (p / 784) % classes) == 0 { 220 } else { 0 }).collect();
    Dataset::from_parts(pixels, labels, "striped").unwrap()
}

#[test]
fn an_in_page_run_asks_for_no_more_images_than_the_dataset_has() {
    use pff::catalog::{DatasetOffer, RunBounds};
    use pff::run::{RunData, RunRequest, TrainingRun};
    // issue 27: a 3-class set with 800 dev images; the page asked for the catalog's 2,000
    let (train, dev, test) = (striped(1000, 3), striped(800, 3), striped(300, 3));
    let (mut manifest, _) = pff::data::build_shards("three", "test", "none", &[("train", &train), ("dev", &dev), ("test", &test)]).unwrap();
    manifest.classes = vec!["bar".into(), "pole".into(), "ring".into()];
    manifest.noun = "shape".into();
    let data = RunData { train: &train, dev: &dev, test: Some(&test) };
    let asked = RunRequest {
        preset: Some("tiny".into()),
        dataset: Some("three".into()),
        seed: Some(1),
        dev_limit: Some(2000),
        test_limit: Some(2000),
        ..Default::default()
    };
    let unbounded = TrainingRun::new(asked.spec_for(&manifest).unwrap()).unwrap().advance(&data, 1).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(unbounded.contains("first 2000 images of three/dev, but only 800"), "{unbounded}");

    let b = RunBounds::for_dataset(&manifest);
    assert_eq!((b.train_images.min, b.train_images.max, b.train_images.default), (100, 1000, 1000));
    assert_eq!((b.dev_images.min, b.dev_images.max, b.dev_images.default), (100, 800, 800));
    assert_eq!((b.test_images.max, b.test_images.default), (300, 300));
    let within = asked.within(&b, "three").unwrap();
    assert_eq!((within.train_limit, within.dev_limit, within.test_limit), (Some(1000), Some(800), Some(300)));
    assert_eq!((within.preset.as_deref(), within.seed), (Some("tiny"), Some(1)), "only the limits change");
    // below the minimum comes up to it; a run without a test keeps no test limit
    let low = RunRequest { train_limit: Some(5), no_test: true, test_limit: None, ..asked.clone() }.within(&b, "three").unwrap();
    assert_eq!((low.train_limit, low.test_limit), (Some(100), None));
    let mut run = TrainingRun::new(within.spec_for(&manifest).unwrap()).unwrap();
    let p = run.advance(&data, 1).unwrap();
    assert_eq!(p.epoch_end.map(|r| r.epoch), Some(0), "the baseline evaluation of the 800 dev images runs");
    assert_eq!((run.spec().train_limit, run.spec().dev_limit), (Some(1000), Some(800)));

    // the offer the page's form reads: the same bounds, with the names and the split sizes
    let offer = DatasetOffer::of(&manifest);
    assert_eq!(offer.bounds, b);
    assert_eq!((offer.splits["dev"], offer.classes.len(), offer.noun.many.as_str()), (800, 3, "shapes"));
    // a split that is missing cannot be trained on, and says so
    let mut no_dev = manifest.clone();
    no_dev.splits.remove("dev");
    let e = asked.within(&RunBounds::for_dataset(&no_dev), "three").unwrap_err().to_string();
    assert!(e.contains("three has no dev images"), "{e}");
    // a dataset as large as MNIST gets the catalog's standard defaults
    let big = RunBounds::standard();
    let std = RunRequest::default().within(&big, "mnist").unwrap();
    assert_eq!((std.train_limit, std.dev_limit, std.test_limit), (Some(10_000), Some(2_000), Some(2_000)));
}

#[test]
fn a_manifest_names_what_its_images_show() {
    use pff::data::{Manifest, Noun};
    let mut m = Manifest::new("three", "test", "none");
    // a manifest written before the noun was recorded: digits when the classes are the digits
    assert_eq!(m.noun(), Noun { one: "digit".into(), many: "digits".into() });
    m.classes = vec!["bar".into(), "pole".into(), "ring".into()];
    assert_eq!(m.noun().one, "item");
    m.noun = "shape".into();
    assert_eq!(m.noun().many, "shapes");
    let back = Manifest::from_json(m.to_json().as_bytes(), "manifest.json").unwrap();
    assert_eq!(back.noun, "shape");
    let old = m.to_json().replace("  \"noun\": \"shape\",\n", "");
    assert!(!old.contains("noun"), "{old}");
    assert_eq!(Manifest::from_json(old.as_bytes(), "manifest.json").unwrap().noun().one, "item");
    for (one, many) in [("box", "boxes"), ("berry", "berries"), ("day", "days"), ("sketch", "sketches"), ("letter", "letters")] {
        assert_eq!(Noun::new(one).many, many);
    }
    let long = "x".repeat(31);
    for bad in ["  ", "a\nb", " padded", long.as_str()] {
        m.noun = bad.to_string();
        let e = Manifest::from_json(m.to_json().as_bytes(), "data/three/manifest.json").unwrap_err().to_string();
        assert!(e.contains("noun"), "{bad:?}: {e}");
    }
}

#[test]
fn classification_runs_the_forward_pass_once_with_the_same_bits_as_twice() {
    let model = trained_micro(3, 9).model;
    let data = toy_data(40, 784, 8);
    for rows in [0..1, 0..7, 3..40] {
        let (x, labels) = data.rows(rows.clone());
        let (scores, forward) = model.scores_and_forward(x.view());
        assert_eq!(scores, model.goodness_scores(x.view()), "{rows:?}");
        assert_eq!(forward, model.forward_probs(x.view()), "{rows:?}");
        let idx: Vec<usize> = rows.clone().collect();
        let (xb, lb) = data.batch(&idx);
        assert_eq!((&x, &labels), (&xb, &lb), "rows and batch agree");
        let ev = model.evaluate_dataset(&data, rows.clone());
        assert_eq!(ev.predictions, model.classify(x.view()));
        let fwd_ok = pff::ops::argmax_rows(forward.view()).iter().zip(&labels).filter(|(p, l)| p == l).count();
        assert_eq!(ev.forward_accuracy, fwd_ok as f64 / labels.len() as f64);
    }
}
