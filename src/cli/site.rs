//! `pff serve` and `pff bundle`: the web page on one origin, live or as a static copy. Both find
//! the page and the datasets the same way, so that what `serve` shows is what `bundle` ships.

use pff::PffError;
use pff::native::bundle::{BundleOptions, bundle_with};
use pff::native::serve::ServeOptions;
use std::path::{Path, PathBuf};

/// Serves the page of `page` (`--root`, see [`page_root`]) and the datasets of `data_dir`
/// (`--data-dir`, see [`site_data_dir`]) until stopped.
pub(super) fn serve(host: String, port: u16, no_isolation: bool, page: Option<PathBuf>, data_dir: Option<PathBuf>) -> pff::Result<()> {
    let page = page_root(page)?;
    let data_dir = Some(site_data_dir(data_dir, &page));
    let runtime = tokio::runtime::Runtime::new().map_err(|e| PffError::io("cannot start the server runtime", e))?;
    let opts = ServeOptions { host, port, no_isolation, root: page, data_dir, ..Default::default() };
    runtime.block_on(pff::native::serve::serve(opts))
}

/// Writes the bundle of `page` (`--root`, see [`page_root`]) to `out`; `opts.data_dir` is the
/// `--data-dir` given, resolved here by [`site_data_dir`].
pub(super) fn bundle(out: &Path, page: Option<PathBuf>, mut opts: BundleOptions) -> pff::Result<()> {
    let page = page_root(page)?;
    opts.data_dir = Some(site_data_dir(opts.data_dir.take(), &page));
    let report = bundle_with(&page, out, &opts)?;
    say_raw!("{report}");
    Ok(())
}

/// The folder holding the page (`www/`) and its builds (`pkg/`): `--root` when given, else the
/// current folder when it has the page, else the repository this binary was built from (where
/// `cargo install --path .` and `target/release/pff` both come from).
fn page_root(given: Option<PathBuf>) -> pff::Result<PathBuf> {
    if let Some(root) = given {
        return Ok(root);
    }
    let has_page = |dir: &Path| dir.join("www").join("index.html").is_file();
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"));
    if has_page(Path::new(".")) {
        Ok(PathBuf::from("."))
    } else if has_page(built_from) {
        Ok(built_from.to_path_buf())
    } else {
        Err(PffError::Input(format!(
            "the page's files (www/index.html) are neither in the current folder nor in {}, where this pff was built: give --root with the folder of a pff checkout",
            built_from.display()
        )))
    }
}

/// The datasets of serve and bundle: `--data-dir` when given, else `./data` where it exists,
/// else the page root's `data/` (the shipped models and the datasets fetched in the checkout).
fn site_data_dir(given: Option<PathBuf>, page_root: &Path) -> PathBuf {
    given.unwrap_or_else(|| {
        let here = PathBuf::from(pff::native::shell::DEFAULT_DATA_DIR);
        if here.is_dir() { here } else { page_root.join("data") }
    })
}
