//! Commands the CLI prints for its user to run next (a resume, a fetch, a prior fit). A printed
//! command must run as printed: its paths are quoted for a POSIX shell, and it carries the
//! global flags that change what it reads (`--data-dir` when it is not the default).

use std::ffi::OsStr;
use std::path::Path;

/// The default of the global `--data-dir` flag.
pub const DEFAULT_DATA_DIR: &str = "data";

/// `arg` as one word of a POSIX shell command line: as it is when it holds only characters no
/// shell treats specially, else in single quotes (a `'` inside becomes `'\''`).
pub fn quote(arg: &OsStr) -> String {
    let text = arg.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.into_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// [`quote`] of a path.
pub fn quote_path(path: &Path) -> String {
    quote(path.as_os_str())
}

/// The global flags a printed command needs to read the same data as this one: ` --data-dir
/// DIR` (with its leading space) when `data_root` is not the default, else nothing.
pub fn data_dir_flag(data_root: &Path) -> String {
    if data_root == Path::new(DEFAULT_DATA_DIR) { String::new() } else { format!(" --data-dir {}", quote_path(data_root)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_a_shell_would_split_or_expand() {
        assert_eq!(quote(OsStr::new("runs/m-1.safetensors")), "runs/m-1.safetensors");
        assert_eq!(quote(OsStr::new("my runs/m.safetensors")), "'my runs/m.safetensors'");
        assert_eq!(quote(OsStr::new("it's")), r"'it'\''s'");
        assert_eq!(quote(OsStr::new("$HOME")), "'$HOME'");
        assert_eq!(quote(OsStr::new("")), "''");
        assert_eq!(quote(OsStr::new("données")), "'données'");
    }

    #[test]
    fn names_the_data_folder_only_when_it_is_not_the_default() {
        assert_eq!(data_dir_flag(Path::new("data")), "");
        assert_eq!(data_dir_flag(Path::new("/tmp/my data")), " --data-dir '/tmp/my data'");
    }
}
