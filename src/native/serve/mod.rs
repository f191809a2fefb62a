//! `pff serve`: the web page, the wasm-bindgen builds and the data under one origin, with the
//! headers that make the page cross-origin isolated (so it may use `SharedArrayBuffer` and
//! the threaded build).
//!
//! URL layout, relative to the repository root (`--root`):
//!
//! | URL           | file                   |
//! |---------------|------------------------|
//! | `/`           | `www/index.html`       |
//! | `/<path>`     | `www/<path>`           |
//! | `/pkg/<path>` | `pkg/<path>`           |
//! | `/data/<path>`| `data/<path>`, or `<path>` in `--data-dir` ([`ServeOptions::data_dir`]) |
//! | `/site.json`  | `www/site.json`, or the repository's site (`catalog::Site::repository`) |
//!
//! Files are served by tower-http's [`ServeDir`] (which refuses `..`, absolute paths and
//! percent-encoded separators). In front of it, [`files()`] resolves the path the same way,
//! canonicalises it and refuses anything that a symlink takes outside its folder. Every
//! response (errors included) carries `X-Content-Type-Options: nosniff`, `Cache-Control:
//! no-cache` and, unless isolation is turned off, COOP `same-origin`, COEP `require-corp` and
//! CORP `same-origin`. Text, JavaScript, JSON, WebAssembly and weights are gzip-compressed when
//! the client accepts it; `.gz` files (the dataset shards, which the page decompresses itself
//! with `DecompressionStream`) are sent as `application/gzip`, byte for byte, never with a
//! `Content-Encoding`.
//!
//! [`ServeDir`]: tower_http::services::ServeDir

mod content_type;
mod files;

use std::future::Future;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Extensions, StatusCode, Version};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::set_header::SetResponseHeaderLayer;

use self::content_type::compressible;
use self::files::{Site, files};
use crate::error::{PffError, Result};

/// What `pff serve` serves and where it listens.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to bind (default `127.0.0.1`: this machine only).
    pub host: String,
    /// Port (0: any free port; [`bind`] reports the one chosen).
    pub port: u16,
    /// Leave out COOP/COEP/CORP, to test the page's single-thread fallback.
    pub no_isolation: bool,
    /// The repository root holding `www/` and `pkg/` (and `data/`, unless `data_dir` says
    /// otherwise).
    pub root: PathBuf,
    /// The folder served as `/data/` (`pff --data-dir`); `None`: `root/data`.
    pub data_dir: Option<PathBuf>,
    /// A connection that has not sent a complete request head within this time is closed
    /// (so slow or stalled clients cannot hold connections open for ever).
    pub header_timeout: std::time::Duration,
}

/// [`ServeOptions::header_timeout`] by default.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { host: "127.0.0.1".into(), port: 8080, no_isolation: false, root: PathBuf::from("."), data_dir: None, header_timeout: HEADER_TIMEOUT }
    }
}

/// The application: the folders under `opts.root` with the headers and compression described
/// in the module documentation. Paths are resolved per request, so folders created after the
/// server started (a fresh `pkg/` build) are served too.
pub fn router(opts: &ServeOptions) -> Router {
    let site = Arc::new(Site::new(&opts.root, opts.data_dir.as_deref()));
    let only_compressible = |_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions| {
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(compressible)
    };
    let mut app = Router::new()
        .fallback(files)
        .with_state(site)
        .layer(CompressionLayer::new().compress_when(SizeAbove::new(32).and(only_compressible)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")));
    if !opts.no_isolation {
        for (name, value) in
            [("cross-origin-opener-policy", "same-origin"), ("cross-origin-embedder-policy", "require-corp"), ("cross-origin-resource-policy", "same-origin")]
        {
            app = app.layer(SetResponseHeaderLayer::overriding(HeaderName::from_static(name), HeaderValue::from_static(value)));
        }
    }
    app
}

/// Binds `opts.host:opts.port` and returns the bound address (the real port when `port` is 0)
/// and the server, which runs until `shutdown` completes and open requests have finished.
pub async fn bind_with_shutdown<S>(opts: &ServeOptions, shutdown: S) -> Result<(SocketAddr, impl Future<Output = Result<()>> + Send + 'static)>
where
    S: Future<Output = ()> + Send + 'static,
{
    let root_meta = std::fs::metadata(&opts.root).map_err(|e| PffError::io(format!("cannot serve {}", opts.root.display()), e))?;
    if !root_meta.is_dir() {
        return Err(PffError::io(
            format!("cannot serve {}", opts.root.display()),
            io::Error::new(io::ErrorKind::NotADirectory, "--root must be a folder (the repository root with www/, pkg/ and data/)"),
        ));
    }
    let what = format!("{}:{}", opts.host, opts.port);
    let listener = tokio::net::TcpListener::bind((opts.host.as_str(), opts.port)).await.map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::AddrInUse => " (the port is taken: stop the other server, or choose another with --port N, or --port 0 for any free port)",
            io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges: choose another with --port N)",
            _ => "",
        };
        PffError::io(format!("cannot listen on {what}{hint}"), e)
    })?;
    let addr = listener.local_addr().map_err(|e| PffError::io(format!("cannot listen on {what}"), e))?;
    let server = accept_loop(listener, router(opts), opts.header_timeout, shutdown);
    Ok((addr, async move { server.await.map_err(|e| PffError::io(format!("server on {addr} failed"), e)) }))
}

/// Serves every accepted connection with hyper (HTTP/1.1 and HTTP/2) and a header-read
/// timeout, until `shutdown` completes; then asks open connections to finish and waits for them.
/// (axum's own `serve` has no header timeout.)
async fn accept_loop<S>(listener: tokio::net::TcpListener, app: Router, header_timeout: std::time::Duration, shutdown: S) -> io::Result<()>
where
    S: Future<Output = ()> + Send + 'static,
{
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    let (close_tx, close_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted) => continue,
                // out of file descriptors and the like: wait a little rather than spin
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut close = close_rx.clone();
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = close.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(close_rx);
    let _ = close_tx.send(());
    close_tx.closed().await;
    Ok(())
}

/// [`bind_with_shutdown`] with Ctrl-C as the shutdown signal.
pub async fn bind(opts: &ServeOptions) -> Result<(SocketAddr, impl Future<Output = Result<()>> + Send + 'static)> {
    bind_with_shutdown(opts, async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("shutting down (Ctrl-C again to stop at once)");
        } else {
            std::future::pending::<()>().await
        }
    })
    .await
}

/// `pff serve`: binds, prints `serving http://HOST:PORT/ (cross-origin isolated: yes|no)` and
/// serves until Ctrl-C (a second Ctrl-C stops without waiting for open downloads).
pub async fn serve(opts: ServeOptions) -> Result<()> {
    let data_dir = opts.data_dir.clone().unwrap_or_else(|| opts.root.join("data"));
    for (folder, dir) in [("www", opts.root.join("www")), ("pkg", opts.root.join("pkg")), ("data", data_dir.clone())] {
        if !dir.is_dir() {
            let hint = match folder {
                "www" => "the page itself".to_string(),
                "pkg" => "the WebAssembly build: run scripts/build-wasm.sh".to_string(),
                _ => format!("datasets and weights: run `pff{} data`", crate::native::shell::data_dir_flag(&data_dir)),
            };
            eprintln!("warning: {} does not exist yet ({hint}); its URLs answer 404", dir.display());
        }
    }
    let (addr, server) = bind(&opts).await?;
    // a closed stdout (`pff serve | head -1`) is no reason to stop serving
    let _ = writeln!(io::stdout(), "serving http://{addr}/ (cross-origin isolated: {})", if opts.no_isolation { "no" } else { "yes" });
    if !addr.ip().is_loopback() {
        eprintln!(
            "note: listening beyond this machine. Browsers allow cross-origin isolation (threads) only in \
             secure contexts (https://, or http://localhost / 127.0.0.1), so over plain http from \
             another machine the page runs single-threaded."
        );
    }
    let server = tokio::spawn(server);
    tokio::select! {
        joined = server => match joined {
            Ok(result) => result,
            Err(e) => Err(PffError::io("the server task failed", io::Error::other(e.to_string()))),
        },
        // The first Ctrl-C starts the graceful shutdown (inside `bind`); this waits for a second.
        _ = async {
            let _ = tokio::signal::ctrl_c().await;
            let _ = tokio::signal::ctrl_c().await;
        } => {
            eprintln!("stopped");
            Ok(())
        }
    }
}
