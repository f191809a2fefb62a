//! What a bundle will hold, decided and checked before anything is written: the site, its
//! models (each read as a checkpoint) and its datasets (each manifest checked).

use super::*;

/// A checked plan of what a bundle publishes.
pub(super) struct Plan {
    pub(super) site: Site,
    /// `(model name, weights file)`, in the site's order.
    pub(super) weights: Vec<(String, PathBuf)>,
    /// `(dataset, its folder, its manifest)`, in the site's order.
    pub(super) datasets: Vec<(String, PathBuf, Manifest)>,
    pub(super) notes: Vec<String>,
}

/// Reads every weights file and manifest the bundle will publish and decides the site.
pub(super) fn plan_site(data_dir: &Path, opts: &BundleOptions) -> Result<Plan> {
    let mut notes = Vec::new();
    let mut files = opts.weights.clone();
    if let Some(d) = &opts.default
        && !files.iter().any(|f| same_file(f, d))
    {
        files.insert(0, d.clone());
    }
    let Published { weights, mut models, mut datasets } = if files.is_empty() { repository_models(data_dir, &mut notes) } else { given_models(&files)? };
    for d in &opts.datasets {
        if !datasets.contains(d) {
            datasets.push(d.clone());
        }
    }
    if models.is_empty() {
        return Err(invalid(
            format!("cannot bundle: no model to publish from {}", data_dir.join("weights").display()),
            &format!(
                "the page needs a model to open with: give --weights FILE, or fetch the datasets of the shipped models with `pff{} data`",
                crate::native::shell::data_dir_flag(data_dir)
            ),
        ));
    }
    let mut with_manifest = Vec::new();
    for d in &datasets {
        let manifest = crate::native::data::load_manifest(data_dir, d)?;
        if !files.is_empty() {
            for m in models.iter_mut().filter(|m| m.dataset == *d) {
                m.label = format!("Load {} ({})", m.name, manifest.display_name());
            }
        }
        with_manifest.push((d.clone(), data_dir.join(d), manifest));
    }
    let site = Site { title: opts.title.clone(), models, datasets, training: !opts.no_training };
    site.validate()?;
    Ok(Plan { site, weights, datasets: with_manifest, notes })
}

/// The models a site publishes, their files and their datasets, in the site's order.
#[derive(Default)]
struct Published {
    weights: Vec<(String, PathBuf)>,
    models: Vec<ShippedModel>,
    datasets: Vec<String>,
}

/// The repository's site: the shipped models present (a note for each one left out), every
/// dataset present.
fn repository_models(data_dir: &Path, notes: &mut Vec<String>) -> Published {
    let mut p = Published::default();
    for m in Site::repository().models {
        let file = data_dir.join("weights").join(format!("{}.safetensors", m.name));
        if !file.is_file() {
            notes.push(format!("{} is missing: the page will not offer {}", file.display(), m.name));
        } else if !data_dir.join(&m.dataset).join(MANIFEST_FILE).is_file() {
            notes.push(format!("dataset {} is missing ({}): the page will not offer {}", m.dataset, fetch_hint(data_dir, &m.dataset), m.name));
        } else {
            p.weights.push((m.name.clone(), file));
            p.models.push(m);
        }
    }
    if let Ok(entries) = fs::read_dir(data_dir) {
        let mut present: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.') && n != "weights" && data_dir.join(n).join(MANIFEST_FILE).is_file())
            .collect();
        present.sort();
        p.datasets.extend(present);
    }
    p
}

/// The weights files given (each read as a checkpoint), named by their file names, and the
/// datasets they record.
fn given_models(files: &[PathBuf]) -> Result<Published> {
    let mut p = Published::default();
    for file in files {
        let (name, dataset) = read_model(file)?;
        if let Some((_, other)) = p.weights.iter().find(|(n, _)| *n == name) {
            return Err(invalid(
                format!("cannot bundle {}", file.display()),
                &format!("{} has the same name {name:?}; a site publishes each model under its file name", other.display()),
            ));
        }
        p.weights.push((name.clone(), file.clone()));
        p.models.push(ShippedModel::named(&name, &name, &dataset)); // labelled later, with its dataset's title
        if !p.datasets.contains(&dataset) {
            p.datasets.push(dataset);
        }
    }
    Ok(p)
}

/// A weights file's model name (its file name without `.safetensors`) and dataset, read and
/// checked as a checkpoint.
fn read_model(file: &Path) -> Result<(String, String)> {
    let what = format!("cannot bundle {}", file.display());
    let fname = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if fname.ends_with(".train.safetensors") {
        return Err(invalid(what, "it is a training state (for `pff train --resume`); bundle the weights file beside it"));
    }
    let Some(name) = fname.strip_suffix(".safetensors") else {
        return Err(invalid(what, "a weights file is named NAME.safetensors"));
    };
    crate::data::validate_dataset_name(name).map_err(|_| {
        invalid(what.clone(), "its name (before .safetensors) must be 1 to 64 ASCII letters, digits, '_' or '-': the page publishes it under that name")
    })?;
    let bytes = fs::read(file).map_err(io_err(what.clone()))?;
    let ck = Checkpoint::from_bytes(&bytes).map_err(|e| invalid(what.clone(), &e.to_string()))?;
    if ck.meta.dataset.is_empty() {
        return Err(invalid(what, "it does not record the dataset it was trained on (record it with `pff eval --weights FILE --dataset NAME --record`)"));
    }
    Ok((name.to_string(), ck.meta.dataset))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
