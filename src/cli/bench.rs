//! `pff bench`: training and classifier throughput of a preset's shapes, on the CPU (one thread
//! count, or a sweep of them, each in its own pool) or on the GPU. The measuring lives in the
//! library (`pff::native::bench`, `bench_gpu`); this file picks one and prints its report.

use super::device::Device;
use pff::Config;
use serde::Serialize;
use std::fmt::Display;

/// Timed repetitions of each matrix product (best of).
const MATMUL_REPS: usize = 5;

/// Runs the benchmark of `preset` on `device`: `batches` timed batches (best of), once per thread
/// count of `threads_sweep` when it is not empty.
pub(super) fn bench(preset: &str, batches: usize, json: bool, threads_sweep: &[usize], device: &Device) -> pff::Result<()> {
    let cfg = Config::preset(preset)?;
    #[cfg(feature = "gpu")]
    if let Device::Gpu(gpu) = device {
        if !threads_sweep.is_empty() {
            return Err(pff::PffError::Input("--threads-sweep measures the CPU: leave out --device gpu".into()));
        }
        print_report(&pff::native::bench_gpu::run(gpu, &cfg, batches, MATMUL_REPS)?, json);
        return Ok(());
    }
    #[cfg(not(feature = "gpu"))]
    let _ = device; // the CPU, the only device of this build
    if threads_sweep.is_empty() {
        print_report(&pff::native::bench::run(&cfg, batches, MATMUL_REPS), json);
    } else {
        print_report(&pff::native::bench::sweep(&cfg, batches, MATMUL_REPS, threads_sweep)?, json);
    }
    Ok(())
}

/// A report as one JSON object (`--json`) or as its text.
fn print_report(report: &(impl Serialize + Display), json: bool) {
    if json {
        say!("{}", serde_json::to_string_pretty(report).expect("report serialises"));
    } else {
        say_raw!("{report}");
    }
}
