//! Writing a planned bundle: the page, the wasm builds, the data (each shard checked against
//! its manifest's sha256 as it is copied) and the weights.

use super::*;

/// Writes the bundle's contents into `dst` (the temporary folder).
pub(super) fn write_tree(root: &Path, plan: &Plan, dst: &Path, report: &mut BundleReport) -> Result<()> {
    let mut copier = Copier { files: 0, bytes: 0, notes: plan.notes.clone() };
    // www/'s service worker is a template: the bundle writes it with its slots filled, below
    let template = root.join("www").join(COI_SERVICEWORKER_FILE);
    copier.copy_dir(&root.join("www"), dst, &|p| p != template)?;
    let wasm_bytes = copier.bytes_of(|c| copy_builds(c, &root.join("pkg"), &dst.join("pkg"), report))?;
    let data_bytes = copier.bytes_of(|c| copy_datasets(c, plan, dst, report))?;
    let weights_bytes = copier.bytes_of(|c| copy_weights(c, plan, dst, report))?;
    report.models = plan.site.models.iter().map(|m| m.name.clone()).collect();
    report.training = plan.site.training;
    copier.write(&dst.join(SITE_FILE), plan.site.to_json().as_bytes())?;
    report.part_bytes = [0, wasm_bytes, data_bytes, weights_bytes];
    inject_worker_script(&mut copier, root, dst, report)?;
    let offline = offline_files(dst, &warm_data(plan))?;
    copier.write(&dst.join(COI_SERVICEWORKER_FILE), service_worker(&offline)?.as_bytes())?;
    write_marker(&mut copier, dst)?;

    report.files = copier.files;
    report.bytes = copier.bytes;
    report.part_bytes[0] = copier.bytes - report.part_bytes[1..].iter().sum::<u64>();
    report.notes.append(&mut copier.notes);
    Ok(())
}

/// Copies the single-threaded build from `pkg`, and the threaded, relaxed and WebGPU builds where
/// they were built (a note says what the bundle runs without the others).
fn copy_builds(copier: &mut Copier, pkg: &Path, dst: &Path, report: &mut BundleReport) -> Result<()> {
    copier.copy_dir(&pkg.join("single"), &dst.join("single"), &|_| true)?;
    let optional = [("threads", "single-threaded"), ("relaxed", "without fused multiply-add (relaxed SIMD)"), ("webgpu", "on the CPU only (no WebGPU)")];
    for (build, without) in optional {
        let dir = pkg.join(build);
        if dir.is_dir() {
            copier.copy_dir(&dir, &dst.join(build), &|_| true)?;
            report.builds.push(build);
        } else {
            copier.notes.push(format!("{} is missing: the bundle runs {without} ({BUILD_HINT})", dir.display()));
        }
    }
    Ok(())
}

/// Copies every dataset of the plan into `dst/data/NAME/` ([`copy_dataset`]).
fn copy_datasets(copier: &mut Copier, plan: &Plan, dst: &Path, report: &mut BundleReport) -> Result<()> {
    for (name, dir, manifest) in &plan.datasets {
        copy_dataset(copier, name, dir, manifest, plan.site.training, &dst.join("data").join(name))?;
        report.datasets.push(name.clone());
    }
    Ok(())
}

/// Copies the weights file of every model of the plan to where the site keeps it.
fn copy_weights(copier: &mut Copier, plan: &Plan, dst: &Path, report: &mut BundleReport) -> Result<()> {
    let weights_dst = dst.join(WEIGHTS_DIR);
    fs::create_dir_all(&weights_dst).map_err(io_err(format!("cannot create {}", weights_dst.display())))?;
    for (name, file) in &plan.weights {
        let target = dst.join(ShippedModel::url_of(name));
        let n = fs::copy(file, &target).map_err(io_err(format!("cannot copy {} to {}", file.display(), target.display())))?;
        copier.files += 1;
        copier.bytes += n;
        report.weights.push(format!("{name}.safetensors"));
    }
    Ok(())
}

/// Adds the service worker's `<script>` tag to the copied `index.html`, unless it loads the
/// worker already.
fn inject_worker_script(copier: &mut Copier, root: &Path, dst: &Path, report: &mut BundleReport) -> Result<()> {
    let index_path = dst.join("index.html");
    let html = fs::read_to_string(&index_path).map_err(io_err(format!("cannot read {}", root.join("www").join("index.html").display())))?;
    if let Some(injected) = inject_script(&html) {
        fs::write(&index_path, &injected).map_err(io_err(format!("cannot write {}", index_path.display())))?;
        copier.bytes = copier.bytes + injected.len() as u64 - html.len() as u64;
        report.injected = true;
    }
    Ok(())
}

/// Writes the marker, which lists the files the bundle made, so that a later bundle into the
/// same folder knows which files are someone else's (a CNAME, a robots.txt) and keeps them.
fn write_marker(copier: &mut Copier, dst: &Path) -> Result<()> {
    let marker = serde_json::json!({
        "generator": "pff bundle",
        "version": env!("CARGO_PKG_VERSION"),
        "created_unix": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "files": files_under(dst).map_err(io_err(format!("cannot list {}", dst.display())))?,
    });
    copier.write(&dst.join(MARKER_FILE), format!("{marker}\n").as_bytes())
}

/// The `data/` files cached on the first visit: the default model, and the manifest and test
/// split of its dataset.
fn warm_data(plan: &Plan) -> Vec<String> {
    let default = &plan.site.models[0];
    let mut warm = vec![ShippedModel::url_of(&default.name), format!("data/{}/{MANIFEST_FILE}", default.dataset)];
    if let Some((_, _, m)) = plan.datasets.iter().find(|(n, _, _)| *n == default.dataset)
        && let Some(test) = m.splits.get("test")
    {
        warm.extend(test.shards.iter().map(|s| format!("data/{}/{}", default.dataset, s.file)));
    }
    warm
}

/// Copies the splits of a dataset the site serves, each shard checked against its sha256, and
/// writes a manifest that lists only those splits.
fn copy_dataset(copier: &mut Copier, name: &str, dir: &Path, manifest: &Manifest, training: bool, dst: &Path) -> Result<()> {
    let mut served = manifest.clone();
    served.splits.retain(|split, _| splits_served(training).contains(&split.as_str()));
    if !served.splits.contains_key("test") {
        return Err(invalid(format!("cannot bundle dataset {name}"), "it has no test split, which the page's views need"));
    }
    if training && !served.splits.contains_key("train") {
        copier.notes.push(format!("dataset {name} has no training split: the page cannot train on it"));
    }
    fs::create_dir_all(dst).map_err(io_err(format!("cannot create {}", dst.display())))?;
    for info in served.splits.values() {
        for shard in &info.shards {
            let src = dir.join(&shard.file);
            let bytes = fs::read(&src).map_err(io_err(format!("cannot read {}", src.display())))?;
            if !sha256_hex(&bytes).eq_ignore_ascii_case(&shard.sha256) {
                return Err(PffError::data(
                    src.display().to_string(),
                    format!("its sha256 does not match the manifest: make it again ({})", fetch_hint(dir.parent().unwrap_or(Path::new(".")), name)),
                ));
            }
            copier.write(&dst.join(&shard.file), &bytes)?;
        }
    }
    copier.write(&dst.join(MANIFEST_FILE), served.to_json().as_bytes())
}

struct Copier {
    files: usize,
    bytes: u64,
    notes: Vec<String>,
}

impl Copier {
    /// Runs `step` and returns the bytes it wrote.
    fn bytes_of(&mut self, step: impl FnOnce(&mut Copier) -> Result<()>) -> Result<u64> {
        let before = self.bytes;
        step(self)?;
        Ok(self.bytes - before)
    }

    fn write(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        fs::write(path, bytes).map_err(io_err(format!("cannot write {}", path.display())))?;
        self.files += 1;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Copies the regular files under `src` (following symlinks that stay inside `src`) to
    /// `dst`, skipping hidden and `*.tmp` names and files `keep` rejects.
    fn copy_dir(&mut self, src: &Path, dst: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<()> {
        let base = fs::canonicalize(src).map_err(io_err(format!("cannot read {}", src.display())))?;
        self.copy_inside(&base, src, dst, keep, 0)
    }

    fn copy_inside(&mut self, base: &Path, src: &Path, dst: &Path, keep: &dyn Fn(&Path) -> bool, depth: usize) -> Result<()> {
        if depth > 32 {
            return Err(invalid(format!("cannot bundle {}", src.display()), "folders nested too deep (a symlink loop?)"));
        }
        fs::create_dir_all(dst).map_err(io_err(format!("cannot create {}", dst.display())))?;
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(io_err(format!("cannot read {}", src.display())))?
            .collect::<io::Result<_>>()
            .map_err(io_err(format!("cannot read {}", src.display())))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let name_str = name.to_string_lossy();
            let path = entry.path();
            if name_str.starts_with('.') || name_str.ends_with(".tmp") || !keep(&path) {
                continue;
            }
            let resolved = match resolve_within(base, &path) {
                Within::Inside(p) => p,
                Within::Missing => {
                    self.notes.push(format!("skipped {} (a broken symlink)", path.display()));
                    continue;
                }
                Within::Outside(to) => {
                    self.notes.push(format!("skipped {} (a symlink to {}, outside the folder)", path.display(), to.display()));
                    continue;
                }
            };
            let target = dst.join(&name);
            if resolved.is_dir() {
                self.copy_inside(base, &path, &target, keep, depth + 1)?;
            } else if resolved.is_file() {
                let n = fs::copy(&resolved, &target).map_err(io_err(format!("cannot copy {} to {}", path.display(), target.display())))?;
                self.files += 1;
                self.bytes += n;
            }
        }
        Ok(())
    }
}
