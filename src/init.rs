//! Initialisers (algorithm.md §1): TensorFlow's orthogonal initialiser and U[0, 0.05).

use crate::real::Real;
use crate::rng::Rng;
use ndarray::Array2;
use rand::RngExt as _;
use rayon::prelude::*;

/// TF's `Orthogonal(gain=1)` for a `rows×cols` matrix: a standard-normal (max×min) matrix, its
/// thin QR with each column of Q multiplied by the sign of R's diagonal, transposed when
/// rows < cols. The result has orthonormal columns (rows ≥ cols) or orthonormal rows.
/// A 1×H shape gives a random unit-norm row (how the reference initialises b1 and b2).
pub fn orthogonal<T: Real>(rows: usize, cols: usize, rng: &mut Rng) -> Array2<T> {
    let (m, n) = (rows.max(cols), rows.min(cols));
    // Column-major storage: a[j] is column j (length m), so reflections stream through memory.
    let mut a: Vec<Vec<f64>> = (0..n).map(|_| (0..m).map(|_| f64::std_normal(rng)).collect()).collect();
    let mut vs: Vec<Vec<f64>> = Vec::with_capacity(n); // Householder vectors (v[j..])
    let mut rdiag = vec![0.0; n];
    for j in 0..n {
        let (head, tail) = a.split_at_mut(j + 1);
        let col = &mut head[j];
        let norm = col[j..].iter().map(|v| v * v).sum::<f64>().sqrt();
        let alpha = if col[j] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = col[j..].to_vec();
        v[0] -= alpha;
        let vnorm2: f64 = v.iter().map(|x| x * x).sum();
        rdiag[j] = alpha;
        if vnorm2 > 0.0 {
            tail.par_iter_mut().for_each(|c| {
                let s = 2.0 * v.iter().zip(&c[j..]).map(|(a, b)| a * b).sum::<f64>() / vnorm2;
                for (ci, vi) in c[j..].iter_mut().zip(&v) {
                    *ci -= s * vi;
                }
            });
        }
        vs.push(if vnorm2 > 0.0 { v.iter().map(|x| x / vnorm2.sqrt()).collect() } else { vec![0.0; m - j] });
    }
    // Q = H_0 H_1 … H_{n-1} applied to the first n columns of the identity.
    let mut q: Vec<Vec<f64>> = (0..n).map(|j| (0..m).map(|i| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    q.par_iter_mut().for_each(|c| {
        for j in (0..n).rev() {
            let v = &vs[j];
            let s = 2.0 * v.iter().zip(&c[j..]).map(|(a, b)| a * b).sum::<f64>();
            for (ci, vi) in c[j..].iter_mut().zip(v) {
                *ci -= s * vi;
            }
        }
    });
    // Sign fix: Q ← Q·diag(sign(diag R)).
    for (c, &r) in q.iter_mut().zip(&rdiag) {
        if r < 0.0 {
            c.iter_mut().for_each(|v| *v = -*v);
        }
    }
    // q[j][i] = Q[i, j] (m×n). Output rows×cols: Q itself when rows ≥ cols, else Qᵀ.
    if rows >= cols { Array2::from_shape_fn((rows, cols), |(i, j)| T::c(q[j][i])) } else { Array2::from_shape_fn((rows, cols), |(i, j)| T::c(q[i][j])) }
}

/// U[0, hi) entries.
pub fn uniform<T: Real>(rows: usize, cols: usize, hi: f64, rng: &mut Rng) -> Array2<T> {
    Array2::from_shape_simple_fn((rows, cols), || T::c(rng.random::<f64>() * hi))
}

/// Max |AᵀA − I| or |AAᵀ − I| (whichever Gram is the small one): 0 for an orthogonal matrix.
pub fn orthogonality_error<T: Real>(a: &Array2<T>) -> f64 {
    let a64 = a.mapv(|v| v.f64());
    let g = if a.nrows() >= a.ncols() { a64.t().dot(&a64) } else { a64.dot(&a64.t()) };
    let mut e: f64 = 0.0;
    for ((i, j), &v) in g.indexed_iter() {
        e = e.max((v - if i == j { 1.0 } else { 0.0 }).abs());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    #[test]
    fn orthogonal_has_orthonormal_rows_or_columns() {
        let mut r = rng::rng(1, &[]);
        for &(m, n) in &[(30, 10), (10, 30), (25, 25), (1, 40)] {
            let a: Array2<f64> = orthogonal(m, n, &mut r);
            assert_eq!(a.dim(), (m, n));
            assert!(orthogonality_error(&a) < 1e-12, "{m}×{n}: {}", orthogonality_error(&a));
        }
        // A 1×H "orthogonal" bias is a unit-norm row with entries of both signs.
        let b: Array2<f64> = orthogonal(1, 200, &mut r);
        assert!(b.iter().any(|&v| v > 0.0) && b.iter().any(|&v| v < 0.0));
    }

    #[test]
    fn orthogonal_is_seeded() {
        let a: Array2<f32> = orthogonal(20, 8, &mut rng::rng(5, &[1]));
        let b: Array2<f32> = orthogonal(20, 8, &mut rng::rng(5, &[1]));
        let c: Array2<f32> = orthogonal(20, 8, &mut rng::rng(6, &[1]));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
