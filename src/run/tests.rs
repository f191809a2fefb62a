//! The run's state machine on toy data: stopping mid-epoch, keeping the best model through a
//! regression, reopening a finished run, and resuming from a saved state.

use super::*;
use crate::config::Config;
use crate::data::{Dataset, PIXELS};

fn toy_set(n: usize, seed: u8) -> Dataset {
    // Three classes, each a bright band in its own third of the image plus deterministic noise.
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    let mut pixels = vec![0u8; n * PIXELS];
    for (i, &l) in labels.iter().enumerate() {
        for p in 0..PIXELS {
            let band = p * 3 / PIXELS == usize::from(l);
            let noise = ((i * 131 + p * 7 + usize::from(seed) * 29) % 97) as u8;
            pixels[i * PIXELS + p] = if band { 160 + noise } else { noise };
        }
    }
    Dataset::from_parts(pixels, labels, "toy").unwrap()
}

fn spec(epochs: usize, lr: f64) -> RunSpec {
    let config = Config { hidden: 20, latent: 4, steps: 4, batch_size: 10, epochs, lr, classes: 3, prior_components: 2, latent_batch: 20, ..Config::tiny() };
    RunSpec { config, train_limit: Some(60), dev_limit: Some(30), test_limit: Some(30), ..RunSpec::new("tiny", "toy", 7).unwrap() }
}

struct Toy {
    train: Dataset,
    dev: Dataset,
    test: Dataset,
}

impl Toy {
    fn new() -> Self {
        Toy { train: toy_set(60, 1), dev: toy_set(30, 2), test: toy_set(30, 3) }
    }
    fn data(&self) -> RunData<'_> {
        RunData { train: &self.train, dev: &self.dev, test: Some(&self.test) }
    }
}

fn finish(run: &mut TrainingRun, data: &RunData<'_>) -> Vec<Progress> {
    let mut steps = Vec::new();
    while !run.is_done() {
        steps.push(run.advance(data, 2).unwrap());
        assert!(steps.len() < 1000, "the run does not end");
    }
    steps
}

#[test]
fn a_run_stopped_mid_epoch_records_the_partial_epoch_then_tests_and_fits_its_prior() {
    let toy = Toy::new();
    let mut run = TrainingRun::new(spec(3, 2e-3)).unwrap();
    assert_eq!(run.advance(&toy.data(), 2).unwrap().epoch_end.map(|r| r.epoch), Some(0), "the baseline comes first");
    let p = run.advance(&toy.data(), 2).unwrap();
    assert_eq!((p.batches.len(), p.batch, p.batches_per_epoch), (2, 2, 6));
    run.stop(&toy.data()).unwrap();
    assert_eq!(run.history().len(), 2);
    assert_eq!(run.history()[1].batches, Some(2), "the stopped epoch counts its batches");
    assert_eq!(run.phase(), Phase::Testing);
    let last = finish(&mut run, &toy.data()).pop().unwrap();
    assert_eq!(last.test.map(|t| t.n), Some(30));
    let best = run.best_checkpoint().unwrap();
    assert!(best.prior.is_some() && best.meta.test_accuracy.is_some());
}

#[test]
fn the_best_model_survives_a_regression() {
    let toy = Toy::new();
    // A learning rate too large for the model makes the dev accuracy fall back after its best
    // epoch (measured on the PCG-block noise stream: 1/3, 1/3, 2/3, 0.1, 2/3, …; this seed on the
    // Philox stream stays at 1/3 throughout, which would leave nothing to test).
    let spec = RunSpec { test_at_end: false, fit_prior: false, noise: crate::noise::NoiseStream::PcgBlocks, ..spec(8, 0.1) };
    let mut run = TrainingRun::new(spec).unwrap();
    finish(&mut run, &toy.data());
    let accs: Vec<f64> = run.history().iter().map(|r| r.dev_accuracy).collect();
    let (best_epoch, best_acc) = run.best().unwrap();
    let first_max = accs.iter().position(|&a| a == accs.iter().cloned().fold(f64::MIN, f64::max)).unwrap();
    assert_eq!((best_epoch, best_acc), (first_max, accs[first_max]), "{accs:?}");
    assert!(accs[best_epoch + 1..].iter().any(|&a| a < best_acc), "no regression after the best epoch to test: {accs:?}");
    for (i, r) in run.history().iter().enumerate() {
        assert_eq!(r.improved, accs[..i].iter().all(|&a| r.dev_accuracy > a), "epoch {i}: {accs:?}");
    }
    let ck = run.best_checkpoint().unwrap();
    assert_eq!((ck.meta.epochs, ck.meta.dev_accuracy), (best_epoch, Some(best_acc)));
    assert!(!ck.model.same_parameters(run.current_model()), "the best model is kept apart from the current one");
    let dev: Vec<usize> = (0..30).collect();
    let (x, labels) = toy.dev.batch(&dev);
    assert_eq!(ck.model.evaluate(x.view(), &labels).accuracy, best_acc, "the kept model is the one that scored best");
}

#[test]
fn more_epochs_reopen_a_finished_run_and_redo_its_test_and_prior() {
    let toy = Toy::new();
    let mut run = TrainingRun::new(spec(1, 2e-3)).unwrap();
    finish(&mut run, &toy.data());
    assert!(run.best_checkpoint().unwrap().prior.is_some());
    assert!(run.reschedule(Config { epochs: 0, ..run.spec().config.clone() }.schedule()).is_err(), "fewer epochs than trained");
    run.set_schedule("epochs", Setting::Text("2")).unwrap();
    assert_eq!(run.phase(), Phase::Training);
    assert!(run.best_checkpoint().unwrap().prior.is_none() && run.best_checkpoint().unwrap().meta.test_accuracy.is_none());
    finish(&mut run, &toy.data());
    assert_eq!(run.history().iter().map(|r| r.epoch).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(run.best_checkpoint().unwrap().prior.is_some());
}

#[test]
fn a_run_resumed_from_its_state_ends_as_the_uninterrupted_run() {
    let toy = Toy::new();
    let mut whole = TrainingRun::new(spec(3, 2e-3)).unwrap();
    finish(&mut whole, &toy.data());

    let mut first = TrainingRun::new(spec(3, 2e-3)).unwrap();
    while first.history().len() < 2 {
        first.advance(&toy.data(), 4).unwrap();
    }
    let state = first.state_bytes().unwrap();
    let mut resumed = TrainingRun::resume(&state, None).unwrap();
    assert_eq!((resumed.epoch(), resumed.phase(), resumed.history()), (1, Phase::Training, first.history()));
    assert_eq!(resumed.best(), first.best());
    finish(&mut resumed, &toy.data());
    assert_eq!(resumed.history(), whole.history());
    let (a, b) = (whole.best_checkpoint().unwrap(), resumed.best_checkpoint().unwrap());
    assert_eq!((a.model, a.prior, a.meta), (b.model, b.prior, b.meta));
    assert_eq!(resumed.current_checkpoint().model, whole.current_checkpoint().model);
}

thread_local! {
    static FAKE_NOW: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// A clock that moves 10 ms every time it is read.
fn ticking_clock() -> f64 {
    FAKE_NOW.with(|t| {
        t.set(t.get() + 0.01);
        t.get()
    })
}

#[test]
fn a_paced_run_grows_its_slices_and_reports_every_batch_once() {
    let toy = Toy::new();
    let mut run = TrainingRun::new(RunSpec { train_limit: Some(600), ..spec(2, 2e-3) }).unwrap();
    let train = toy_set(600, 4);
    let data = RunData { train: &train, ..toy.data() };
    let mut pacer = Pacer::new(ticking_clock);
    let (mut reported, mut steps) = (0, 0);
    let mut epoch_ends = Vec::new();
    while !run.is_done() {
        let p = pacer.step(&mut run, &data).unwrap();
        steps += 1;
        if let Some(r) = &p.epoch_end {
            assert!(p.report, "an epoch end is always reported");
            epoch_ends.push(r.epoch);
        }
        if p.report {
            reported += p.batches.len();
        } else {
            assert!(p.batches.is_empty(), "an unreported slice holds its batches back");
        }
        if p.phase == Phase::Training && p.batch > 0 {
            assert!(p.samples_per_s.is_some_and(|s| s > 0.0));
        }
    }
    assert_eq!(epoch_ends, [0, 1, 2]);
    assert_eq!(reported, 120, "every batch of the 2 epochs of 60 is reported once");
    assert!(steps < 40, "the slices grow past one batch: {steps} slices");
}

#[test]
fn a_request_says_which_images_its_run_reads() {
    let request = RunRequest { train_limit: Some(200), dev_limit: Some(50), test_limit: Some(20), ..RunRequest::default() };
    assert_eq!(request.reads(), [("train", Some(200)), ("dev", Some(50)), ("test", Some(20))]);
    let untested = RunRequest { no_test: true, ..RunRequest::default() };
    assert_eq!(untested.reads(), [("train", None), ("dev", None)], "no test split, and whole splits where no limit is set");
}

#[test]
fn a_resumed_run_keeps_its_noise_stream() {
    use crate::noise::NoiseStream;
    let toy = Toy::new();
    let mut run = TrainingRun::new(spec(1, 2e-3)).unwrap();
    run.advance(&toy.data(), 2).unwrap();
    let mut resumed = TrainingRun::resume(&run.state_bytes().unwrap(), None).unwrap();
    assert_eq!(resumed.spec().noise, NoiseStream::Philox, "a new run draws Philox noise");
    let e = RunRequest { noise: Some(NoiseStream::PcgBlocks), ..RunRequest::default() }.apply_to(&mut resumed).unwrap_err();
    assert!(e.to_string().contains("noise stream") && e.to_string().contains("keeps its"), "{e}");
    RunRequest { noise: Some(NoiseStream::Philox), ..RunRequest::default() }.apply_to(&mut resumed).unwrap();
}
