//! The one request handler: which folder a URL path is in, whether the file it names stays
//! inside that folder once symlinks are resolved, and [`ServeDir`] to send it with the right
//! content type. Routing and the escape check are done here, ahead of [`ServeDir`], so that a
//! symlink out of `www/` or `data/` answers 403 instead of serving the file it points to.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;

use super::content_type::mime_for;
use crate::native::fs::{Within, resolve_within};

/// The three served folders, in the order they are matched: `/pkg/…`, `/data/…`, the rest.
pub(super) struct Site {
    mounts: Vec<Mount>,
}

struct Mount {
    /// The URL prefix without slashes (`"pkg"`, `"data"`), or `""` for the catch-all `www`.
    prefix: &'static str,
    dir: PathBuf,
    files: ServeDir,
}

impl Site {
    pub(super) fn new(root: &Path, data_dir: Option<&Path>) -> Site {
        let mount = |prefix: &'static str, folder: &str| {
            let dir = match (folder, data_dir) {
                ("data", Some(d)) => d.to_path_buf(),
                _ => root.join(folder),
            };
            let files = ServeDir::new(&dir).append_index_html_on_directories(true).redirect_path_prefix(if prefix.is_empty() {
                String::new()
            } else {
                format!("/{prefix}")
            });
            Mount { prefix, dir, files }
        };
        Site { mounts: vec![mount("pkg", "pkg"), mount("data", "data"), mount("", "www")] }
    }

    /// The catch-all mount (`www/`).
    fn www(&self) -> &Mount {
        self.mounts.last().expect("the last mount is the catch-all")
    }

    /// The mount serving the raw (still percent-encoded) URL path, and the raw rest of the
    /// path inside it. Routing looks at the raw first segment, so `/%70kg/x` is `www/pkg/x`,
    /// exactly what [`ServeDir`] would open for the rewritten request.
    fn route<'a>(&self, raw_path: &'a str) -> (&Mount, &'a str) {
        let trimmed = raw_path.trim_start_matches('/');
        let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        for m in &self.mounts {
            if m.prefix.is_empty() {
                return (m, trimmed);
            }
            if first == m.prefix {
                return (m, rest);
            }
        }
        unreachable!("the last mount is the catch-all")
    }
}

/// What the file system says about a requested path.
#[derive(Debug, PartialEq)]
enum Resolved {
    /// It exists and stays inside its folder; `is_dir` tells whether it is a folder.
    Inside { is_dir: bool },
    /// It (or the `index.html` a folder request would serve) resolves outside the folder.
    Outside,
    /// It does not exist (or cannot be resolved): 404.
    Missing,
}

/// Canonicalises `dir/rel` and checks that it stays under the canonical `dir`. For a folder
/// requested with a trailing slash, the `index.html` inside it is checked as well.
fn resolve(dir: &Path, rel: &Path, wants_index: bool) -> Resolved {
    let Ok(base) = std::fs::canonicalize(dir) else {
        return Resolved::Missing;
    };
    let target = match resolve_within(&base, &dir.join(rel)) {
        Within::Inside(t) => t,
        Within::Outside(_) => return Resolved::Outside,
        Within::Missing => return Resolved::Missing,
    };
    let is_dir = target.is_dir();
    if is_dir && wants_index {
        match resolve_within(&base, &target.join("index.html")) {
            Within::Inside(_) => {}
            Within::Outside(_) => return Resolved::Outside,
            Within::Missing => return Resolved::Missing,
        }
    }
    Resolved::Inside { is_dir }
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message).into_response()
}

/// The one handler: route to a folder, refuse escapes, let [`ServeDir`] serve, fix the type.
pub(super) async fn files(State(site): State<Arc<Site>>, req: Request) -> Response {
    let raw_path = req.uri().path().to_owned();
    if raw_path.strip_prefix('/') == Some(crate::catalog::SITE_FILE) && !site.www().dir.join(crate::catalog::SITE_FILE).is_file() {
        let json = crate::catalog::Site::repository().to_json();
        return ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json).into_response();
    }
    let (mount, rest) = site.route(&raw_path);
    let Some(rel) = crate::urlpath::decode_relative(rest) else {
        return plain(StatusCode::NOT_FOUND, "404 Not Found\n");
    };
    let wants_index = rest.is_empty() || rest.ends_with('/');
    let (dir, rel_for_check) = (mount.dir.clone(), rel.clone());
    let resolved = tokio::task::spawn_blocking(move || resolve(&dir, &rel_for_check, wants_index)).await.unwrap_or(Resolved::Missing);
    let is_dir = match resolved {
        Resolved::Missing => return plain(StatusCode::NOT_FOUND, "404 Not Found\n"),
        Resolved::Outside => {
            return plain(StatusCode::FORBIDDEN, "403 Forbidden: the path resolves outside the served folder\n");
        }
        Resolved::Inside { is_dir } => is_dir,
    };

    // Hand ServeDir the request with the mount's prefix removed (its redirects put it back).
    let (mut parts, body) = req.into_parts();
    let rewritten = match parts.uri.query() {
        Some(q) => format!("/{rest}?{q}"),
        None => format!("/{rest}"),
    };
    parts.uri = match rewritten.parse::<Uri>() {
        Ok(uri) => uri,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "400 Bad Request\n"),
    };
    let mut serve_dir = mount.files.clone();
    let response = match serve_dir.try_call(Request::from_parts(parts, body)).await {
        Ok(r) => r.map(Body::new),
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::PermissionDenied => {
            return plain(StatusCode::NOT_FOUND, "404 Not Found\n");
        }
        Err(e) if e.raw_os_error() == Some(20) => {
            return plain(StatusCode::NOT_FOUND, "404 Not Found\n");
        } // ENOTDIR
        Err(_) => {
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error\n");
        }
    };
    fix_content_type(response, if is_dir { Some("html") } else { rel.extension().and_then(|e| e.to_str()) })
}

fn fix_content_type(mut response: Response, ext: Option<&str>) -> Response {
    if response.status().is_success()
        && response.headers().contains_key(header::CONTENT_TYPE)
        && let Some(mime) = ext.and_then(mime_for)
    {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_refuses_traversal() {
        use crate::urlpath::decode_relative;
        assert_eq!(decode_relative("a/b.js"), Some(PathBuf::from("a/b.js")));
        assert_eq!(decode_relative(""), Some(PathBuf::new()));
        assert_eq!(decode_relative("./a"), Some(PathBuf::from("a")));
        for bad in ["../x", "%2e%2e/x", "..%2fx", "a/%2e%2e/%2e%2e/x", "%2fetc/passwd", "a%00b", "%zz", "%e2%28"] {
            assert_eq!(decode_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn routing_uses_the_raw_first_segment() {
        let site = Site::new(Path::new("/r"), None);
        let (m, rest) = site.route("/pkg/single/x.js");
        assert_eq!((m.prefix, rest), ("pkg", "single/x.js"));
        let (m, rest) = site.route("/data");
        assert_eq!((m.prefix, rest), ("data", ""));
        let (m, rest) = site.route("/pkgs/x");
        assert_eq!((m.prefix, rest), ("", "pkgs/x"));
        let (m, rest) = site.route("/%70kg/x");
        assert_eq!((m.prefix, rest), ("", "%70kg/x"));
        let (m, rest) = site.route("/");
        assert_eq!((m.prefix, rest), ("", ""));
    }
}
