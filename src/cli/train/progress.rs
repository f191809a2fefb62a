//! What `pff train` prints while a run goes: a progress bar per epoch, a line per evaluated
//! epoch, and the test and prior steps at the end.

use indicatif::{ProgressBar, ProgressStyle};
use pff::run::{EpochRecord, Phase, Progress};

/// Draws a step's progress: the epoch's bar, then what the run does after training.
pub(super) fn show(p: &Progress, bar: &mut Option<ProgressBar>) {
    match p.phase {
        Phase::Training if !p.batches.is_empty() => {
            let b = bar.get_or_insert_with(|| {
                let b = ProgressBar::new(p.batches_per_epoch as u64);
                b.set_style(
                    ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} batches, {elapsed_precise} (ETA {eta}) {msg}")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                b.set_prefix(format!("{}/{}", p.epoch + 1, p.epochs));
                b
            });
            b.set_position(p.batch as u64);
            if let Some(s) = p.batches.last() {
                b.set_message(format!("goodness {:.3}, head {:.3}, gen {:.2}", s.goodness_loss, s.head_loss, s.gen_loss));
            }
        }
        Phase::Testing if p.tested == 0 => say!("testing the best model (epoch {}) on {} images…", p.best_epoch.unwrap_or(0), p.test_total),
        Phase::Prior => {
            if let Some(t) = &p.test {
                say!(
                    "best model (epoch {}, dev {:.2} %): test accuracy {:.2} % (error {:.2} %), forward head {:.2} %",
                    p.best_epoch.unwrap_or(0),
                    100.0 * p.best_dev_accuracy.unwrap_or(0.0),
                    100.0 * t.accuracy,
                    100.0 * t.error,
                    100.0 * t.forward_accuracy
                );
            }
            say!("fitting the generative prior…");
        }
        _ => {}
    }
}

/// The line printed after an epoch (and for the baseline).
pub(super) fn epoch_line(rec: &EpochRecord, epochs: usize) -> String {
    if rec.epoch == 0 {
        return format!("epoch 0 (before training): dev accuracy {:.2} %", 100.0 * rec.dev_accuracy);
    }
    let timing = match (rec.seconds, rec.samples_per_s) {
        (Some(s), Some(r)) => format!(", {s:.0} s, {r:.0} samples/s"),
        _ => String::new(),
    };
    format!(
        "epoch {}/{epochs}: dev accuracy {:.2} % (forward head {:.2} %, recon SSE {:.2}), goodness loss {:.4}{timing}{}",
        rec.epoch,
        100.0 * rec.dev_accuracy,
        100.0 * rec.dev_forward_accuracy,
        rec.dev_recon_sse,
        rec.goodness_loss.unwrap_or(f64::NAN),
        if rec.improved || rec.epoch == 0 { ", best so far: saved" } else { "" }
    )
}
