//! `pff serve` and `pff bundle`: the server is started in-process on 127.0.0.1:0 over a
//! temporary root and spoken to with raw HTTP/1.1 requests (so paths like `/../secret` reach
//! the server exactly as written); the bundle is built from a temporary root. No traffic
//! leaves 127.0.0.1.
#![cfg(all(feature = "cli", not(target_arch = "wasm32")))]

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pff::checkpoint::{Checkpoint, ModelMeta, Storage};
use pff::data::{Dataset, build_shards};
use pff::native::bundle::{self, BundleOptions, COI_SCRIPT_TAG, MARKER_FILE};
use pff::native::serve::{ServeOptions, bind_with_shutdown};
use pff::{Config, Pff};

const SECRET: &str = "TOP-SECRET-do-not-serve";

mod common;
use common::{TestDir, gzip};

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

const INDEX_HTML: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  <title>pff</title>\n  <script type=\"module\" src=\"app.js\"></script>\n</head>\n<body><header>Predictive Forward-Forward</header><main id=\"app\"></main></body>\n</html>\n";

fn app_js() -> String {
    "export function hello(name) { return `hello ${name}`; }\n".repeat(40)
}

/// `base/root` is the served root; `base/secret.txt`, `root/secret.txt` and `base/outside/`
/// must never be served.
fn site(dir: &TestDir) -> PathBuf {
    let base = dir.path();
    let root = base.join("root");
    write(&root.join("www/index.html"), INDEX_HTML);
    write(&root.join("www/app.js"), app_js());
    write(&root.join("www/sub/index.html"), "<!doctype html><title>sub</title>");
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(std::iter::repeat_n(0u8, 4096));
    write(&root.join("pkg/single/x.wasm"), &wasm);
    write(&root.join("pkg/single/x.js"), app_js());
    write(&root.join("data/mnist/manifest.json"), "{\"name\": \"mnist\", \"shards\": [\"train-000.bin.gz\"]}");
    let shard: Vec<u8> = (0..20_000u32).map(|i| (i % 7) as u8).collect();
    write(&root.join("data/mnist/train-000.bin.gz"), gzip(&shard));
    write(&root.join("data/weights/web.safetensors"), vec![0u8; 8192]);
    write(&base.join("secret.txt"), SECRET);
    write(&root.join("secret.txt"), SECRET);
    write(&base.join("outside/secret.txt"), SECRET);
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(base.join("secret.txt"), root.join("www/escape.txt")).unwrap();
        symlink(base.join("outside"), root.join("www/escape-dir")).unwrap();
        symlink("../secret.txt", root.join("data/mnist/relative-escape.json")).unwrap();
        symlink(root.join("www/app.js"), root.join("www/alias.js")).unwrap();
    }
    root
}

/// A server on 127.0.0.1:0 in its own runtime; dropping it stops the server.
struct Server {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

fn start(root: &Path, no_isolation: bool) -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let opts = ServeOptions { host: "127.0.0.1".into(), port: 0, no_isolation, root: root.to_path_buf(), ..ServeOptions::default() };
    let (addr, server) = runtime.block_on(bind_with_shutdown(&opts, std::future::pending())).unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    runtime.spawn(server);
    Server { addr, _runtime: runtime }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One raw HTTP/1.1 request; `target` is sent verbatim.
fn get(addr: SocketAddr, target: &str, extra_headers: &[(&str, &str)]) -> Reply {
    request(addr, "GET", target, extra_headers)
}

fn request(addr: SocketAddr, method: &str, target: &str, extra_headers: &[(&str, &str)]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in extra_headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Reply { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size_text = std::str::from_utf8(&b[..eol]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        b = &b[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

fn assert_isolated(r: &Reply, what: &str) {
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"), "{what}");
    assert_eq!(r.header("cross-origin-embedder-policy"), Some("require-corp"), "{what}");
    assert_eq!(r.header("cross-origin-resource-policy"), Some("same-origin"), "{what}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(r.header("cache-control"), Some("no-cache"), "{what}");
}

fn refused(r: &Reply) -> bool {
    (r.status == 404 || r.status == 403) && !String::from_utf8_lossy(&r.body).contains(SECRET)
}

#[test]
fn serves_the_page_with_isolation_headers_and_types() {
    let dir = TestDir::new("serve-types");
    let root = site(&dir);
    let server = start(&root, false);
    let a = server.addr;

    let index = get(a, "/", &[]);
    assert_eq!(index.status, 200);
    assert_eq!(index.body, INDEX_HTML.as_bytes());
    assert_eq!(index.header("content-type"), Some("text/html; charset=utf-8"));
    assert_isolated(&index, "/");
    let explicit = get(a, "/index.html", &[]);
    assert_eq!((explicit.status, explicit.body.as_slice()), (200, INDEX_HTML.as_bytes()));

    for (target, mime) in [
        ("/app.js", "text/javascript"),
        ("/pkg/single/x.js", "text/javascript"),
        ("/pkg/single/x.wasm", "application/wasm"),
        ("/data/mnist/manifest.json", "application/json"),
        ("/data/mnist/train-000.bin.gz", "application/gzip"),
        ("/data/weights/web.safetensors", "application/octet-stream"),
    ] {
        let r = get(a, target, &[]);
        assert_eq!(r.status, 200, "{target}");
        assert_eq!(r.header("content-type"), Some(mime), "{target}");
        assert_eq!(r.header("content-encoding"), None, "{target}: not compressed without Accept-Encoding");
        assert_isolated(&r, target);
    }
    let wasm = get(a, "/pkg/single/x.wasm", &[]);
    assert_eq!(wasm.body, fs::read(root.join("pkg/single/x.wasm")).unwrap());

    // Errors carry the headers too.
    let missing = get(a, "/no-such-file.js", &[]);
    assert_eq!(missing.status, 404);
    assert_isolated(&missing, "404");

    // A folder without its trailing slash redirects, keeping the mount prefix.
    let sub = get(a, "/sub", &[]);
    assert!(matches!(sub.status, 301 | 307 | 308), "{}", sub.status);
    assert_eq!(sub.header("location"), Some("/sub/"));
    assert_eq!(get(a, "/sub/", &[]).body, b"<!doctype html><title>sub</title>");
    let pkg_dir = get(a, "/pkg/single", &[]);
    assert_eq!(pkg_dir.header("location"), Some("/pkg/single/"));
}

#[test]
fn compresses_text_and_wasm_but_never_gz() {
    let dir = TestDir::new("serve-gzip");
    let root = site(&dir);
    let server = start(&root, false);
    let a = server.addr;
    let accept = [("Accept-Encoding", "gzip")];

    for (target, file) in [
        ("/app.js", "www/app.js"),
        ("/", "www/index.html"),
        ("/pkg/single/x.wasm", "pkg/single/x.wasm"),
        ("/data/weights/web.safetensors", "data/weights/web.safetensors"),
    ] {
        let r = get(a, target, &accept);
        assert_eq!(r.status, 200, "{target}");
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{target}");
        assert!(r.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")), "{target}");
        assert_eq!(gunzip(&r.body), fs::read(root.join(file)).unwrap(), "{target}");
        assert_isolated(&r, target);
    }
    let js = get(a, "/app.js", &accept);
    assert_eq!(js.header("content-type"), Some("text/javascript"));
    assert!(js.body.len() < app_js().len() / 4, "compressed js is {} bytes", js.body.len());

    // Shards are sent byte for byte: the page decompresses them itself.
    let shard = get(a, "/data/mnist/train-000.bin.gz", &[("Accept-Encoding", "gzip, deflate, br")]);
    assert_eq!(shard.status, 200);
    assert_eq!(shard.header("content-type"), Some("application/gzip"));
    assert_eq!(shard.header("content-encoding"), None);
    assert_eq!(shard.body, fs::read(root.join("data/mnist/train-000.bin.gz")).unwrap());
}

#[test]
fn refuses_everything_outside_the_folders() {
    let dir = TestDir::new("serve-escape");
    let root = site(&dir);
    let server = start(&root, false);
    let a = server.addr;

    for target in [
        "/../secret.txt",
        "/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..%2f..%2fsecret.txt",
        "/.%2e/secret.txt",
        "/sub/../../secret.txt",
        "/pkg/../secret.txt",
        "/pkg/%2e%2e/secret.txt",
        "/data/..%2fsecret.txt",
        "/data/mnist/../../../secret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/%2Fetc/passwd",
        "/secret.txt",
        "/%00",
    ] {
        let r = get(a, target, &[]);
        assert!(refused(&r), "{target}: status {}", r.status);
        assert_isolated(&r, target);
    }
    #[cfg(unix)]
    {
        for target in ["/escape.txt", "/escape-dir/secret.txt", "/escape-dir/", "/data/mnist/relative-escape.json"] {
            let r = get(a, target, &[]);
            assert!(refused(&r), "{target}: status {}", r.status);
        }
        // A symlink that stays inside the folder is fine.
        let alias = get(a, "/alias.js", &[]);
        assert_eq!(alias.status, 200);
        assert_eq!(alias.body, app_js().as_bytes());
    }
    // Only GET and HEAD.
    assert_eq!(request(a, "POST", "/app.js", &[("Content-Length", "0")]).status, 405);
    let head = request(a, "HEAD", "/app.js", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn no_isolation_drops_the_three_headers() {
    let dir = TestDir::new("serve-noiso");
    let root = site(&dir);
    let server = start(&root, true);
    for target in ["/", "/pkg/single/x.wasm", "/missing"] {
        let r = get(server.addr, target, &[]);
        for h in ["cross-origin-opener-policy", "cross-origin-embedder-policy", "cross-origin-resource-policy"] {
            assert_eq!(r.header(h), None, "{target}: {h}");
        }
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("cache-control"), Some("no-cache"));
    }
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let dir = TestDir::new("serve-port");
    let root = site(&dir);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let opts = ServeOptions { host: "127.0.0.1".into(), port, no_isolation: false, root, ..ServeOptions::default() };
    let err = match runtime.block_on(bind_with_shutdown(&opts, std::future::pending())) {
        Ok(_) => panic!("bound a taken port"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&format!("cannot listen on 127.0.0.1:{port}")) && err.contains("port is taken"), "{err}");

    let missing = ServeOptions { root: dir.path().join("no-such-root"), port: 0, ..ServeOptions::default() };
    assert!(runtime.block_on(bind_with_shutdown(&missing, std::future::pending())).is_err());
}

// ---- bundle ----

/// A small dataset `name` (train, dev and test splits of 4 classes) written as the CLI would.
fn write_dataset(data: &Path, name: &str) {
    let split = |n: usize, seed: u8| {
        let mut d = Dataset::new();
        for i in 0..n {
            d.pixels.extend((0..784).map(|p| ((p * 7 + i * 13) as u8).wrapping_add(seed)));
            d.labels.push((i % 4) as u8);
        }
        d
    };
    let (train, dev, test) = (split(40, 1), split(12, 2), split(20, 3));
    let (mut manifest, shards) = build_shards(name, "test", "test", &[("train", &train), ("dev", &dev), ("test", &test)]).unwrap();
    manifest.classes = ["ant", "bee", "cat", "dog"].map(String::from).to_vec();
    write(&data.join(name).join("manifest.json"), manifest.to_json());
    for shard in shards {
        write(&data.join(name).join(&shard.file), &shard.bytes);
    }
}

/// A tiny model's weights, trained (nominally) on `dataset`.
fn write_weights(path: &Path, dataset: &str) {
    let mut cfg = Config::tiny();
    cfg.classes = 4;
    let meta = ModelMeta { dataset: dataset.into(), ..ModelMeta::default() };
    let ck = Checkpoint { model: Pff::new(cfg, 1).unwrap(), meta, prior: None };
    write(path, ck.to_bytes(Storage::F16).unwrap());
}

fn bundle_source(dir: &TestDir) -> PathBuf {
    let root = dir.path().join("repo");
    write(&root.join("www/index.html"), INDEX_HTML);
    write(&root.join("www/app.js"), app_js());
    write(&root.join("www/css/style.css"), "body { margin: 0 }");
    write(&root.join("www/.hidden"), "not bundled");
    // the service worker's template, a page file as in the repository
    write(&root.join("www/coi-serviceworker.js"), include_str!("../www/coi-serviceworker.js"));
    write(&root.join("pkg/single/pff.js"), "export default 1;");
    write(&root.join("pkg/single/pff_bg.wasm"), b"\0asm\x01\0\0\0");
    write(&root.join("pkg/single/.gitignore"), "*");
    write(&root.join("pkg/threads/pff.js"), "export default 2;");
    write(&root.join("pkg/threads/pff_bg.wasm"), b"\0asm\x01\0\0\0");
    write(&root.join("pkg/relaxed/pff.js"), "export default 3;");
    write(&root.join("pkg/relaxed/pff_bg.wasm"), b"\0asm\x01\0\0\0");
    write(&root.join("pkg/webgpu/pff.js"), "export default 4;");
    write(&root.join("pkg/webgpu/pff_bg.wasm"), b"\0asm\x01\0\0\0");
    write(&root.join("pkg/other/ignored.js"), "not bundled");
    write(&root.join("data/README.md"), "not bundled");
    write_dataset(&root.join("data"), "mnist");
    write(&root.join("data/mnist/.train-000.bin.gz.123.tmp"), "partial");
    write(&root.join("data/mnist/stray.bin.gz"), gzip(b"not in the manifest"));
    write(&root.join("data/half-fetched/train-000.bin.gz"), gzip(b"no manifest"));
    write_weights(&root.join("data/weights/mnist-web.safetensors"), "mnist");
    write(&root.join("data/weights/mnist-web.train.safetensors"), b"optimizer state");
    write(&root.join("data/weights/other.safetensors"), b"not a shipped model");
    root
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.contains("pff-bundle")).collect()
}

#[test]
fn bundle_writes_a_self_contained_site() {
    let dir = TestDir::new("serve-bundle");
    let root = bundle_source(&dir);
    let out = dir.path().join("site");
    let report = bundle::bundle(&root, &out).unwrap();
    assert!(report.builds == ["threads", "relaxed", "webgpu"] && report.injected && !report.replaced);
    assert_eq!(report.datasets, vec!["mnist".to_string()]);
    assert_eq!(report.weights, vec!["mnist-web.safetensors".to_string()]);
    assert_eq!(report.models, vec!["mnist-web".to_string()]);
    assert!(report.training);
    assert_eq!(report.part_bytes.iter().sum::<u64>(), report.bytes);
    let shown = report.to_string();
    assert!(shown.contains("size: page") && shown.contains("fashion-web") && shown.contains("missing"), "{shown}");
    let site = pff::catalog::Site::from_json(&fs::read_to_string(out.join("site.json")).unwrap()).unwrap();
    assert_eq!(site.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["mnist-web"]);
    assert_eq!(site.datasets, ["mnist"]);

    for f in [
        "app.js",
        "css/style.css",
        "pkg/single/pff.js",
        "pkg/single/pff_bg.wasm",
        "pkg/threads/pff.js",
        "pkg/threads/pff_bg.wasm",
        "pkg/relaxed/pff.js",
        "pkg/relaxed/pff_bg.wasm",
        "pkg/webgpu/pff.js",
        "pkg/webgpu/pff_bg.wasm",
        "data/mnist/manifest.json",
        "data/mnist/train-000.bin.gz",
        "data/mnist/dev-000.bin.gz",
        "data/mnist/test-000.bin.gz",
        "data/weights/mnist-web.safetensors",
        "site.json",
        "coi-serviceworker.js",
        MARKER_FILE,
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    for f in [
        ".hidden",
        "pkg/single/.gitignore",
        "pkg/other",
        "data/README.md",
        "data/half-fetched",
        "data/mnist/.train-000.bin.gz.123.tmp",
        "data/mnist/stray.bin.gz",
        "data/weights/mnist-web.train.safetensors",
        "data/weights/other.safetensors",
        "www",
    ] {
        assert!(!out.join(f).exists(), "{f} should not be bundled");
    }
    assert_eq!(fs::read(out.join("app.js")).unwrap(), app_js().as_bytes());

    let html = fs::read_to_string(out.join("index.html")).unwrap();
    let tag = html.find(COI_SCRIPT_TAG).expect("the service worker is loaded");
    let head = html.find("<head>").unwrap();
    assert!(head < tag && tag < html.find("<meta").unwrap() && tag < html.find("<script type=\"module\"").unwrap(), "{html}");
    assert_eq!(html.matches("coi-serviceworker.js").count(), 1);
    assert_eq!(html.replace(&format!("\n  {COI_SCRIPT_TAG}"), ""), INDEX_HTML);

    let sw = fs::read_to_string(out.join("coi-serviceworker.js")).unwrap();
    assert!(!sw.contains("pff-bundle:files") && !sw.contains("unversioned"), "the bundle writes the template with its slots filled");
    assert_eq!(report.files, walk(&out).len(), "every file counted once: www/'s template is not copied, then written");
    for needle in [
        "Cross-Origin-Opener-Policy",
        "Cross-Origin-Embedder-Policy",
        "Cross-Origin-Resource-Policy",
        "sessionStorage",
        "serviceWorker.register",
        "crossOriginIsolated",
    ] {
        assert!(sw.contains(needle), "service worker lacks {needle}");
    }
    // the worker knows every bundled file by its sha256, and which ones it keeps for offline use
    let files = sw_files(&sw);
    let sha = |f: &str| pff::data::sha256_hex(&fs::read(out.join(f)).unwrap());
    assert_eq!(files["index.html"]["sha256"], sha("index.html"), "the listed index.html is the injected one");
    for (f, warm) in [
        ("index.html", true),
        ("pkg/threads/pff_bg.wasm", true),
        ("pkg/relaxed/pff_bg.wasm", true),
        ("pkg/single/pff_bg.wasm", true),
        // the GPU build is fetched only where the browser has an adapter: cached then, not ahead
        ("pkg/webgpu/pff_bg.wasm", false),
        ("pkg/webgpu/pff.js", false),
        ("site.json", true),
        ("data/weights/mnist-web.safetensors", true),
        ("data/mnist/manifest.json", true),
        ("data/mnist/test-000.bin.gz", true),
        ("data/mnist/train-000.bin.gz", false),
    ] {
        assert_eq!(files[f]["warm"], warm, "{f}");
        assert_eq!(files[f]["sha256"], sha(f), "{f}");
    }
    assert!(files.get("coi-serviceworker.js").is_none() && files.get(MARKER_FILE).is_none());
    assert_eq!(files.as_object().unwrap().len(), walk(&out).len() - 2, "every other file is listed");
    let version = |sw: &str| sw.split("const CACHE = 'pff-' + ").nth(1).unwrap().split(';').next().unwrap().to_string();
    let v1 = version(&sw);
    assert!(!v1.contains("unversioned"), "{v1}");
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));

    // Bundling again replaces the previous bundle: the files it made and no longer makes go
    // away, the files someone else put there (a host's CNAME, a robots.txt) stay.
    write(&out.join("CNAME"), "pff.example.org");
    write(&out.join("seo/robots.txt"), "User-agent: *");
    fs::remove_file(root.join("www/app.js")).unwrap();
    let again = bundle::bundle(&root, &out).unwrap();
    assert!(again.replaced);
    let sw2 = fs::read_to_string(out.join("coi-serviceworker.js")).unwrap();
    assert_ne!(version(&sw2), v1, "a changed bundle gets a new cache version");
    assert!(sw_files(&sw2).get("app.js").is_none());
    assert!(!out.join("app.js").exists(), "a file of the previous bundle that this one does not make stayed");
    assert_eq!(fs::read_to_string(out.join("CNAME")).unwrap(), "pff.example.org");
    assert_eq!(fs::read_to_string(out.join("seo/robots.txt")).unwrap(), "User-agent: *");
    assert!(again.notes.iter().any(|n| n.contains("kept files that pff bundle did not make: CNAME, seo/robots.txt")), "{:?}", again.notes);
    assert!(out.join("index.html").is_file() && out.join(MARKER_FILE).is_file());
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));

    // An empty existing folder is fine too.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    bundle::bundle(&root, &empty).unwrap();
    assert!(empty.join("index.html").is_file());
}

#[test]
fn bundle_publishes_the_given_models_their_datasets_and_only_the_splits_the_page_uses() {
    let dir = TestDir::new("serve-bundle-options");
    let root = bundle_source(&dir);
    let data = dir.path().join("my-data");
    write_dataset(&data, "abcd");
    write_dataset(&data, "mnist");
    let mine = dir.path().join("runs/abcd-tiny.safetensors");
    write_weights(&mine, "abcd");
    let theirs = root.join("data/weights/mnist-web.safetensors");
    let out = dir.path().join("share");
    let opts = BundleOptions {
        data_dir: Some(data.clone()),
        weights: vec![theirs.clone()],
        default: Some(mine.clone()),
        title: Some("Ants, bees, cats and dogs".into()),
        no_training: true,
        ..BundleOptions::default()
    };
    let report = bundle::bundle_with(&root, &out, &opts).unwrap();
    assert_eq!(report.models, ["abcd-tiny", "mnist-web"]);
    assert_eq!(report.datasets, ["abcd", "mnist"]);
    assert!(!report.training);
    let site = pff::catalog::Site::from_json(&fs::read_to_string(out.join("site.json")).unwrap()).unwrap();
    assert_eq!(site.title.as_deref(), Some("Ants, bees, cats and dogs"));
    assert_eq!((site.models[0].name.as_str(), site.models[0].dataset.as_str()), ("abcd-tiny", "abcd"));
    assert!(site.models[0].label.contains("abcd-tiny"));
    assert!(!site.training);
    assert_eq!(fs::read(out.join("data/weights/abcd-tiny.safetensors")).unwrap(), fs::read(&mine).unwrap());
    for d in ["abcd", "mnist"] {
        let m = pff::data::Manifest::from_json(&fs::read(out.join("data").join(d).join("manifest.json")).unwrap(), d).unwrap();
        assert_eq!(m.splits.keys().collect::<Vec<_>>(), ["test"], "{d}: only the test split is served without training");
        assert!(out.join("data").join(d).join("test-000.bin.gz").is_file());
        assert!(!out.join("data").join(d).join("train-000.bin.gz").exists() && !out.join("data").join(d).join("dev-000.bin.gz").exists());
        assert_eq!(m.classes, ["ant", "bee", "cat", "dog"]);
    }
    // the report's size is what is on disk
    let on_disk: u64 = walk(&out).iter().map(|p| fs::metadata(p).unwrap().len()).sum();
    assert_eq!(on_disk, report.bytes);
    assert!(report.to_string().contains("the page opens with abcd-tiny"), "{report}");

    // With training, the training and dev splits come along.
    let with_training = BundleOptions { no_training: false, ..opts.clone() };
    let report = bundle::bundle_with(&root, &out, &with_training).unwrap();
    assert!(report.training && report.replaced);
    assert!(out.join("data/abcd/train-000.bin.gz").is_file() && out.join("data/abcd/dev-000.bin.gz").is_file());
}

#[test]
fn bundle_refuses_models_and_data_it_cannot_publish_and_writes_nothing() {
    let dir = TestDir::new("serve-bundle-refuse");
    let root = bundle_source(&dir);
    let out = dir.path().join("share");
    let runs = dir.path().join("runs");
    let refused = |opts: BundleOptions| -> String {
        let err = bundle::bundle_with(&root, &out, &opts).unwrap_err().to_string();
        assert!(!out.exists(), "a refused bundle wrote {}", out.display());
        assert!(leftovers(dir.path()).is_empty());
        err
    };
    let weights = |files: &[&Path]| BundleOptions { weights: files.iter().map(|p| p.to_path_buf()).collect(), ..BundleOptions::default() };

    write_weights(&runs.join("letters.safetensors"), "letters");
    let e = refused(weights(&[&runs.join("letters.safetensors")]));
    assert!(e.contains("letters") && e.contains(" data --idx-dir DIR --name letters"), "{e}");

    write(&runs.join("broken.safetensors"), b"not weights");
    let e = refused(weights(&[&runs.join("broken.safetensors")]));
    assert!(e.contains("broken.safetensors"), "{e}");

    let e = refused(weights(&[&root.join("data/weights/mnist-web.train.safetensors")]));
    assert!(e.contains("training state"), "{e}");

    write_weights(&runs.join("a/m.safetensors"), "mnist");
    write_weights(&runs.join("b/m.safetensors"), "mnist");
    let e = refused(weights(&[&runs.join("a/m.safetensors"), &runs.join("b/m.safetensors")]));
    assert!(e.contains("same name"), "{e}");

    write_weights(&runs.join("bad name!.safetensors"), "mnist");
    let e = refused(weights(&[&runs.join("bad name!.safetensors")]));
    assert!(e.contains("name"), "{e}");

    let e = refused(BundleOptions { title: Some("two\nlines".into()), ..weights(&[&runs.join("a/m.safetensors")]) });
    assert!(e.contains("title"), "{e}");

    // A shard that does not match its manifest is never published.
    let shard = root.join("data/mnist/test-000.bin.gz");
    let good = fs::read(&shard).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    write(&shard, &bad);
    let e = refused(BundleOptions::default());
    assert!(e.contains("test-000.bin.gz") && e.contains("sha256"), "{e}");
    write(&shard, &good);

    // The repository's site needs one of its models.
    fs::remove_file(root.join("data/weights/mnist-web.safetensors")).unwrap();
    let e = refused(BundleOptions::default());
    assert!(e.contains("no model to publish") && e.contains("--weights"), "{e}");
}

/// The file list `pff bundle` wrote into the service worker.
fn sw_files(sw: &str) -> serde_json::Value {
    let json = sw.split("const FILES = ").nth(1).unwrap().split(";\n").next().unwrap();
    serde_json::from_str(json).unwrap()
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn bundle_fails_cleanly() {
    let dir = TestDir::new("serve-bundle-fail");
    let root = bundle_source(&dir);

    // No page: a clear error naming www/index.html, and nothing written.
    fs::rename(root.join("www/index.html"), root.join("www/page.html")).unwrap();
    let out = dir.path().join("site");
    let err = bundle::bundle(&root, &out).unwrap_err().to_string();
    assert!(err.contains("www/index.html") && err.contains("missing"), "{err}");
    assert!(!out.exists());
    assert!(leftovers(dir.path()).is_empty());
    fs::rename(root.join("www/page.html"), root.join("www/index.html")).unwrap();

    // No build.
    fs::rename(root.join("pkg/single"), root.join("pkg/single-moved")).unwrap();
    let err = bundle::bundle(&root, &out).unwrap_err().to_string();
    assert!(err.contains("pkg/single") && err.contains("run the build first"), "{err}");
    assert!(!out.exists());
    fs::rename(root.join("pkg/single-moved"), root.join("pkg/single")).unwrap();

    // A non-empty folder that is not a bundle is never overwritten.
    let precious = dir.path().join("precious");
    write(&precious.join("thesis.tex"), "years of work");
    let err = bundle::bundle(&root, &precious).unwrap_err().to_string();
    assert!(err.contains("refusing to overwrite") && err.contains(MARKER_FILE), "{err}");
    assert_eq!(fs::read_to_string(precious.join("thesis.tex")).unwrap(), "years of work");
    assert_eq!(fs::read_dir(&precious).unwrap().count(), 1);

    // A file is not a folder.
    let file = dir.path().join("a-file");
    write(&file, "x");
    assert!(bundle::bundle(&root, &file).is_err());
    assert_eq!(fs::read_to_string(&file).unwrap(), "x");

    // Not inside a bundled folder (it would copy itself).
    let err = bundle::bundle(&root, &root.join("www/dist")).unwrap_err().to_string();
    assert!(err.contains("inside"), "{err}");
    assert!(!root.join("www/dist").exists());
    assert!(leftovers(&root.join("www")).is_empty());

    // And the sources still bundle fine afterwards.
    bundle::bundle(&root, &out).unwrap();
    assert!(out.join(MARKER_FILE).is_file());
}

#[test]
fn a_bundle_is_servable() {
    // The bundle has the serve layout: pointing a root's www at it serves the page.
    let dir = TestDir::new("serve-bundle-serve");
    let root = bundle_source(&dir);
    let out = dir.path().join("served/www");
    bundle::bundle(&root, &out).unwrap();
    let server = start(&dir.path().join("served"), false);
    let r = get(server.addr, "/coi-serviceworker.js", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/javascript"));
    assert_eq!(r.body, fs::read(out.join("coi-serviceworker.js")).unwrap());
    let page = get(server.addr, "/", &[]);
    assert!(String::from_utf8(page.body).unwrap().contains(COI_SCRIPT_TAG));
    // the bundle's own site file is served
    let r = get(server.addr, "/site.json", &[]);
    assert_eq!(r.body, fs::read(out.join("site.json")).unwrap());
}

#[test]
fn a_repository_without_a_site_file_serves_the_repositorys_site() {
    let dir = TestDir::new("serve-site-json");
    let root = site(&dir);
    let server = start(&root, false);
    let r = get(server.addr, "/site.json", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let site = pff::catalog::Site::from_json(std::str::from_utf8(&r.body).unwrap()).unwrap();
    assert_eq!(site, pff::catalog::Site::repository());
}

/// The `pff serve` binary under load on loopback: 64 concurrent clients and 25,600 requests of
/// every kind (pages, wasm, shards, range requests, missing files, malformed and traversal
/// paths) while four connections trickle a request one byte at a time and never finish it.
/// No request may fail with a server error or go unanswered, nothing outside the root may be
/// served, and the server's memory stays bounded. Latencies are printed, not asserted.
#[test]
fn the_server_under_load_answers_everyone_serves_nothing_outside_and_stays_small() {
    use std::io::BufRead;
    let dir = TestDir::new("serve-load");
    let root = site(&dir);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pff"))
        .args(["serve", "--port", "0", "--root"])
        .arg(&root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 =
        line.split("127.0.0.1:").nth(1).and_then(|r| r.split('/').next()).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no port in {line:?}"));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let rss_kb = || -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
    };
    let warm = get(addr, "/app.js", &[]);
    assert_eq!(warm.status, 200);
    let rss_before = rss_kb();

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tricklers: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let Ok(mut s) = TcpStream::connect(addr) else { return };
                for b in b"GET /app.js HTTP/1.1\r\nHost: slow\r\nX-Slow: ".iter().chain(std::iter::repeat(&b'a')) {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) || s.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect();

    // (target, extra header, what a correct answer is)
    type Case = (&'static str, Option<(&'static str, &'static str)>, fn(u16) -> bool);
    let mix: [Case; 10] = [
        ("/", None, |s| s == 200),
        ("/app.js", None, |s| s == 200),
        ("/pkg/single/x.wasm", None, |s| s == 200),
        ("/data/mnist/train-000.bin.gz", None, |s| s == 200),
        ("/data/mnist/train-000.bin.gz", Some(("Range", "bytes=0-9")), |s| s == 206),
        ("/missing.js", None, |s| s == 404),
        ("/%2e%2e/secret.txt", None, |s| s == 400 || s == 403 || s == 404),
        ("/../../secret.txt", None, |s| s == 400 || s == 403 || s == 404),
        ("/escape.txt", None, |s| s == 403 || s == 404),
        ("/%zz%", None, |s| s == 400 || s == 404),
    ];
    const CLIENTS: usize = 64;
    const PER_CLIENT: usize = 400;
    let t0 = std::time::Instant::now();
    let results: Vec<Vec<(usize, u16, f64, bool)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let mix = &mix;
                scope.spawn(move || {
                    (0..PER_CLIENT)
                        .map(|i| {
                            let k = (c * 7 + i) % mix.len();
                            let (target, header, _) = mix[k];
                            let t = std::time::Instant::now();
                            let r = get(addr, target, header.as_slice());
                            let leaked = r.body.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
                            (k, r.status, t.elapsed().as_secs_f64() * 1e3, leaked)
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rss_after = rss_kb();
    let all: Vec<_> = results.into_iter().flatten().collect();
    assert_eq!(all.len(), CLIENTS * PER_CLIENT);
    let errors = all.iter().filter(|r| r.1 >= 500).count();
    let wrong: Vec<_> = all.iter().filter(|r| !(mix[r.0].2)(r.1)).take(5).map(|r| (mix[r.0].0, r.1)).collect();
    let leaks = all.iter().filter(|r| r.3).count();
    let mut ms: Vec<f64> = all.iter().map(|r| r.2).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() - 1) as f64 * p) as usize];
    eprintln!(
        "load: {} requests from {CLIENTS} clients in {secs:.1} s ({:.0}/s); latency p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; server RSS {} -> {} KiB; 4 trickling connections held",
        all.len(),
        all.len() as f64 / secs,
        pct(0.5),
        pct(0.99),
        ms[ms.len() - 1],
        rss_before,
        rss_after
    );
    assert_eq!(errors, 0, "server errors");
    assert!(wrong.is_empty(), "wrong answers: {wrong:?}");
    assert_eq!(leaks, 0, "files from outside the root were served");
    assert!(rss_after < 128 * 1024, "the server grew to {rss_after} KiB");
    let _ = child.kill();
    let _ = child.wait();
    for t in tricklers {
        t.join().unwrap();
    }
}

/// A connection that never finishes its request head is closed after the header timeout,
/// however slowly it keeps sending.
#[test]
fn a_request_head_that_never_ends_is_cut_off() {
    let dir = TestDir::new("serve-slow");
    let root = site(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let opts = ServeOptions { port: 0, root, header_timeout: Duration::from_millis(500), ..ServeOptions::default() };
    let (addr, server) = runtime.block_on(bind_with_shutdown(&opts, std::future::pending())).unwrap();
    runtime.spawn(server);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    s.write_all(b"GET /app.js HTTP/1.1\r\nHost: slow\r\n").unwrap();
    let t0 = std::time::Instant::now();
    let mut closed = false;
    while t0.elapsed() < Duration::from_secs(20) {
        if s.write_all(b"X").is_err() {
            closed = true; // one more byte of a header that never ends, refused
            break;
        }
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            _ => {
                closed = true; // end of stream, a reset, or an error response (408) before the close
                break;
            }
        }
    }
    assert!(closed, "the stalled connection is still open after {:?}", t0.elapsed());
    // and the server still answers others
    assert_eq!(get(addr, "/app.js", &[]).status, 200);
}
