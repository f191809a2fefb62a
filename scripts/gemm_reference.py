"""f32 GEMM GFLOP/s of numpy (its BLAS, OpenBLAS in the PyPI wheels) on the large shapes that
`pff bench --preset paper` times, at one thread count: the reference the many-core rows of
docs/results.md set pff's products beside.

    OPENBLAS_NUM_THREADS=T python3 scripts/gemm_reference.py T   # one JSON line

The thread count must be set in the environment before numpy loads, hence one process per count.
"""
import json
import sys
import time

import numpy as np

# (name, m, k, n, left operand transposed), as in src/native/bench.rs at the paper preset
SHAPES = [
    ("x·W1", 1000, 784, 2000, False),
    ("z·W2", 1000, 2000, 2000, False),
    ("z1·G1", 1000, 2000, 784, False),
    ("xᵀ·δ", 784, 1000, 2000, True),
    ("zᵀ·δ", 2000, 1000, 2000, True),
]


def best_seconds(f, reps=7):
    f()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    rng = np.random.default_rng(1)
    rows = []
    for name, m, k, n, transposed in SHAPES:
        a = rng.standard_normal((k, m) if transposed else (m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        lhs = a.T if transposed else a
        s = best_seconds(lambda: lhs @ b)
        rows.append({"shape": name, "m": m, "k": k, "n": n, "gflops": 2 * m * k * n / s / 1e9})
    print(json.dumps({"numpy": np.__version__, "threads": threads, "matmuls": rows}))


if __name__ == "__main__":
    main()
