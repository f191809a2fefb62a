//! `pff eval` and `pff prior`: a weights file against a dataset, and the prior fitted to it;
//! and the rule for which dataset a command on a weights file works on.

use super::*;
use pff::checkpoint::Storage;
use serde_json::json;
use std::time::Instant;

/// What a command does with a dataset other than the model's own.
#[derive(Clone, Copy)]
pub(super) enum OtherDataset {
    /// Use it, with a warning (`eval`: how a model does on other data is a fair question).
    Warn,
    /// Refuse it, for this reason: the command would store or present the result as the
    /// model's own.
    Refuse(&'static str),
}

/// The dataset a command works on: the one asked for, or the one the weights file records
/// (MNIST for files that record none). Another than the recorded one is handled as `other` says.
pub(super) fn dataset_of(ck: &Checkpoint, asked: Option<String>, other: OtherDataset) -> pff::Result<String> {
    let recorded = (!ck.meta.dataset.is_empty()).then(|| ck.meta.dataset.clone());
    match (asked, recorded) {
        (Some(a), Some(r)) if a != r => match other {
            OtherDataset::Refuse(why) => Err(PffError::Input(format!("this model was trained on {r}, not {a}: {why}"))),
            OtherDataset::Warn => {
                eprintln!("warning: this model was trained on {r}; evaluating it on {a}");
                Ok(a)
            }
        },
        (Some(a), _) => Ok(a),
        (None, Some(r)) => Ok(r),
        (None, None) => Ok(ck.meta.dataset_or_default().into()),
    }
}

pub(super) fn prior(
    root: &Path,
    weights: &Path,
    components: Option<usize>,
    dataset: Option<String>,
    limit: Option<usize>,
    seed: Option<u64>,
) -> pff::Result<()> {
    let mut ck = read_weights(weights)?;
    let dataset = dataset_of(&ck, dataset, OtherDataset::Refuse("the prior is fitted on the model's own training images"))?;
    let train = load_for(&ck.model.cfg, root, &dataset, "train", None)?;
    let components = components.unwrap_or(ck.model.cfg.prior_components);
    let gmm = generate::fit_prior(&ck.model, &train, limit, components, seed.unwrap_or(ck.meta.seed))?;
    let manifest = ndata::load_manifest(root, &dataset).ok();
    let names = ck.class_names(manifest.as_ref());
    let labels: Vec<String> = gmm.component_labels.iter().map(|l| l.and_then(|c| names.get(c).cloned()).unwrap_or_else(|| "(none)".into())).collect();
    say!(
        "prior: {components} components, {} EM iterations{}; the class each component stands for: {}",
        gmm.iterations,
        if gmm.converged { " (converged)" } else { "" },
        labels.join(", ")
    );
    ck.prior = Some(gmm);
    write_weights(weights, &ck, storage_of(&ck))?;
    say!("stored in {}", weights.display());
    Ok(())
}

/// The flags of `pff eval` besides the weights file.
pub(super) struct EvalArgs {
    pub dataset: Option<String>,
    pub split: String,
    pub limit: Option<usize>,
    pub json: bool,
    pub record: bool,
    pub f16: bool,
}

pub(super) fn eval(root: &Path, weights: &Path, a: EvalArgs, device: &Device) -> pff::Result<()> {
    let EvalArgs { dataset, split, limit, json, record, f16 } = a;
    let split = split.as_str();
    if record && (split != "test" || limit.is_some()) {
        return Err(PffError::Input("--record stores the accuracy on the whole test split: use it with --split test and no --limit".into()));
    }
    let mut ck = read_weights(weights)?;
    if f16 {
        // exactly the model a half-precision file loads as
        ck = Checkpoint::from_bytes(&ck.to_bytes(Storage::F16)?)?;
    }
    let other = if record { OtherDataset::Refuse("--record stores an accuracy only for the model's own dataset") } else { OtherDataset::Warn };
    let dataset = dataset_of(&ck, dataset, other)?;
    let data = load_for(&ck.model.cfg, root, &dataset, split, limit)?;
    let t = Instant::now();
    let ev = device.evaluate(&ck, &data, 0..data.len())?;
    let secs = t.elapsed().as_secs_f64();
    if json {
        let v = json!({
            "weights": weights, "dataset": dataset, "split": split, "n": ev.n, "device": device.describe(),
            "accuracy": ev.accuracy, "error": ev.error, "forward_accuracy": ev.forward_accuracy,
            "recon_sse": ev.recon_sse, "confusion": ev.confusion, "seconds": secs,
        });
        say!("{v}");
    } else {
        say!(
            "{dataset}/{split}: {} images, goodness accuracy {:.2} % (error {:.2} %), forward head {:.2} %, reconstruction SSE {:.2} per image ({secs:.1} s on {})",
            ev.n,
            100.0 * ev.accuracy,
            100.0 * ev.error,
            100.0 * ev.forward_accuracy,
            ev.recon_sse,
            device.describe()
        );
    }
    if record {
        ck.meta.test_accuracy = Some(ev.accuracy);
        ck.meta.test_forward_accuracy = Some(ev.forward_accuracy);
        ck.meta.dataset = dataset;
        write_weights(weights, &ck, storage_of(&ck))?;
        eprintln!("recorded the test accuracy in {}", weights.display());
    }
    Ok(())
}
