//! t-SNE against what it promises: perplexity calibration, the Barnes–Hut forces against the
//! exact ones, and maps that keep neighbours.

use super::*;

/// KL(P‖Q) of positions `y` (for the tests of the gradient; O(n²)).
fn kl_divergence(affinities: &[Vec<(u32, f64)>], y: &[[f64; 2]]) -> f64 {
    let n = y.len();
    let w = |i: usize, j: usize| 1.0 / (1.0 + sq_dist(&y[i], &y[j]));
    let z: f64 = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| w(i, j)).sum();
    affinities.iter().enumerate().flat_map(|(i, row)| row.iter().map(move |&(j, p)| (i, j as usize, p))).map(|(i, j, p)| p * (p / (w(i, j) / z)).ln()).sum()
}

/// Three well-parted Gaussian blobs in 10 dimensions, `per` points each.
fn blobs(per: usize, seed: u64) -> (Vec<f64>, Vec<u8>) {
    let noise = crate::rng::normal::<f64>(3 * per, 10, 1.0, seed);
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for c in 0..3 {
        for i in 0..per {
            for d in 0..10 {
                x.push(noise[[c * per + i, d]] + if d == c { 12.0 } else { 0.0 });
            }
            labels.push(c as u8);
        }
    }
    (x, labels)
}

fn start(n: usize) -> Vec<f64> {
    (0..2 * n).map(|i| ((i * 7919) % 101) as f64 / 101.0).collect()
}

#[test]
fn each_conditional_distribution_has_the_perplexity_asked_for() {
    let dists: Vec<f64> = (0..90).map(|i| (i as f64 * 0.37).sin().abs() * 5.0 + i as f64 * 0.1).collect();
    for perplexity in [5.0, 30.0] {
        let p = conditional_probabilities(&dists, perplexity);
        let entropy: f64 = -p.iter().filter(|&&v| v > 0.0).map(|v| v * v.ln()).sum::<f64>();
        assert!((entropy.exp() - perplexity).abs() < 1e-3 * perplexity, "perplexity {} for {perplexity}", entropy.exp());
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn the_joint_probabilities_are_symmetric_and_sum_to_one() {
    let (x, _) = blobs(20, 3);
    let rows = joint_probabilities(&x, 10, 5.0);
    let total: f64 = rows.iter().flatten().map(|e| e.1).sum();
    assert!((total - 1.0).abs() < 1e-12, "{total}");
    for (i, row) in rows.iter().enumerate() {
        for &(j, p) in row {
            let back = rows[j as usize].iter().find(|e| e.0 as usize == i).map(|e| e.1);
            assert_eq!(back, Some(p), "P[{i}][{j}] has no equal mirror");
        }
    }
}

#[test]
fn the_exact_gradient_matches_finite_differences_of_the_kl_divergence() {
    let (x, _) = blobs(6, 5);
    let rows = joint_probabilities(&x, 10, 4.0);
    let y: Vec<[f64; 2]> = (0..18).map(|i| [((i * 37) % 11) as f64 * 0.3 - 1.5, ((i * 53) % 13) as f64 * 0.25 - 1.5]).collect();
    let grad = gradient(&rows, &y, 1.0, 0.0);
    let h = 1e-6;
    for i in 0..y.len() {
        for d in 0..2 {
            let (mut up, mut down) = (y.clone(), y.clone());
            up[i][d] += h;
            down[i][d] -= h;
            let fd = (kl_divergence(&rows, &up) - kl_divergence(&rows, &down)) / (2.0 * h);
            assert!((fd - grad[i][d]).abs() < 1e-7 + 1e-5 * fd.abs(), "point {i}, axis {d}: finite difference {fd:e}, formula {:e}", grad[i][d]);
        }
    }
}

#[test]
fn barnes_hut_stays_close_to_the_exact_repulsion() {
    let (x, _) = blobs(100, 7);
    let mut map = Tsne::new(&x, 10, &start(300), TsneOptions { iterations: 300, ..TsneOptions::default() }).unwrap();
    map.step(300);
    let tree = QuadTree::new(&map.positions);
    let sum = |theta: f64| (0..300).map(|i| tree.repulsion(&map.positions, i, theta)).collect::<Vec<_>>();
    let (exact, approx) = (sum(0.0), sum(0.5));
    let z = |r: &[([f64; 2], f64)]| r.iter().map(|e| e.1).sum::<f64>();
    let z_error = (z(&exact) - z(&approx)).abs() / z(&exact);
    let norm = |v: &mut dyn Iterator<Item = [f64; 2]>| v.map(|f| f[0] * f[0] + f[1] * f[1]).sum::<f64>().sqrt();
    let force_error = norm(&mut exact.iter().zip(&approx).map(|(a, b)| [a.0[0] - b.0[0], a.0[1] - b.0[1]])) / norm(&mut exact.iter().map(|e| e.0));
    assert!(z_error < 0.01 && force_error < 0.05 && force_error > 0.0, "θ = 0.5: Z off by {z_error:e}, forces by {force_error:e}");
}

#[test]
fn a_seed_gives_one_map_and_known_clusters_come_apart() {
    let (x, labels) = blobs(60, 11);
    let opts = TsneOptions { iterations: 500, ..TsneOptions::default() };
    let a = Tsne::new(&x, 10, &start(180), opts).unwrap().run();
    let b = Tsne::new(&x, 10, &start(180), opts).unwrap().run();
    assert_eq!(a, b, "the same seed gave two maps");
    let c = Tsne::new(&x, 10, &start(180), TsneOptions { seed: 2, ..opts }).unwrap().run();
    assert_ne!(a, c, "the seed changes nothing");
    assert_eq!(knn_agreement(&a, &labels, 10), 1.0, "the three blobs overlap in the map");
    // the start alone (a scrambled picture) does not separate them
    assert!(knn_agreement(&start(180), &labels, 10) < 0.6);
}

#[test]
fn bad_inputs_are_errors() {
    assert!(Tsne::new(&[0.0; 4], 2, &[0.0; 4], TsneOptions::default()).is_err(), "two points");
    assert!(Tsne::new(&[0.0; 9], 3, &[0.0; 4], TsneOptions::default()).is_err(), "start of the wrong size");
    assert!(Tsne::new(&[f64::NAN; 9], 3, &[0.0; 6], TsneOptions::default()).is_err(), "NaN");
    assert!(Tsne::new(&[0.0; 9], 3, &[0.0; 6], TsneOptions { perplexity: 0.5, ..TsneOptions::default() }).is_err());
    // identical points are fine: the jitter parts them
    let map = Tsne::new(&[1.0; 30], 3, &[0.0; 20], TsneOptions { iterations: 50, ..TsneOptions::default() }).unwrap().run();
    assert!(map.iter().all(|v| v.is_finite()));
}
