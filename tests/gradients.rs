//! Every hand-derived gradient against finite differences in f64 (spec §7.4), the lateral
//! compact form against a dense masked implementation, the leak-only and L ≤ 0 cases against
//! the formulas, and the z_g step including its 1e-8 behaviour at z_g = 0.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use ndarray::{Array1, Array2, ArrayView2, Axis};
use pff::config::{Config, GROUP};
use pff::lateral;
use pff::model::{Clamped, Generative, LayerNoise, ParamSet, Pff, Representation, State};
use pff::ops::{nrm, one_hot};
use pff::rng;
use rand::RngExt;

/// The spec's test sizes: D=12, H=20, C=10, G=4, N=6.
fn small_cfg() -> Config {
    Config { input_dim: 12, hidden: 20, classes: 10, latent: 4, ..Config::paper() }
}

fn unif(rows: usize, cols: usize, lo: f64, hi: f64, r: &mut rng::Rng) -> Array2<f64> {
    Array2::from_shape_simple_fn((rows, cols), || lo + (hi - lo) * r.random::<f64>())
}

/// A model whose pre-activations are all positive on positive inputs: positive weights and
/// biases, small positive laterals.
fn positive_model(cfg: &Config, r: &mut rng::Rng) -> Pff<f64> {
    let (d, h, c, g) = (cfg.input_dim, cfg.hidden, cfg.classes, cfg.latent);
    let rep = Representation {
        w1: unif(d, h, 0.05, 0.5, r),
        v2: unif(h, h, 0.05, 0.5, r),
        b1: unif(1, h, 0.1, 0.3, r).remove_axis(Axis(0)),
        l1: unif(h, GROUP, 0.001, 0.01, r),
        w2: unif(h, h, 0.05, 0.5, r),
        v: unif(c, h, 0.05, 0.5, r),
        b2: unif(1, h, 0.1, 0.3, r).remove_axis(Axis(0)),
        l2: unif(h, GROUP, 0.001, 0.01, r),
        w: unif(h, c, -0.5, 0.5, r),
        b: unif(1, c, -0.1, 0.1, r).remove_axis(Axis(0)),
    };
    // Small enough that the input prediction stays inside (0, 1): the clip is inactive.
    let generative = Generative { gy: unif(g, h, 0.05, 0.5, r), g1: unif(h, d, 0.01, 0.15, r), g2: unif(h, h, 0.05, 0.5, r) };
    Pff { cfg: cfg.clone(), rep, generative }
}

struct RepInputs {
    x_hat: Array2<f64>,
    y: Array2<f64>,
    lab: Array1<f64>,
    z1p: Array2<f64>,
    z2p: Array2<f64>,
    e1: Array2<f64>,
    e2: Array2<f64>,
}

fn rep_inputs(cfg: &Config, n: usize, r: &mut rng::Rng) -> RepInputs {
    let x = unif(n, cfg.input_dim, 0.1, 1.0, r);
    let labels: Vec<usize> = (0..n).map(|i| (i * 3) % cfg.classes).collect();
    RepInputs {
        x_hat: nrm(x.view()),
        y: one_hot(&labels, cfg.classes),
        lab: Array1::from_shape_fn(n, |i| if i < n / 2 { 1.0 } else { 0.0 }),
        z1p: unif(n, cfg.hidden, 0.05, 0.6, r),
        z2p: unif(n, cfg.hidden, 0.05, 0.6, r),
        e1: unif(n, cfg.hidden, -0.01, 0.01, r),
        e2: unif(n, cfg.hidden, -0.01, 0.01, r),
    }
}

impl RepInputs {
    fn shown(&self) -> Clamped<'_, f64> {
        Clamped { x_hat: self.x_hat.view(), y: self.y.view(), positive: self.lab.view() }
    }

    fn prev(&self) -> State<f64> {
        State { z1: self.z1p.clone(), z2: self.z2p.clone() }
    }

    fn noise(&self) -> LayerNoise<'_, f64> {
        LayerNoise { layer1: self.e1.view(), layer2: self.e2.view() }
    }
}

fn rep_loss(rep: &Representation<f64>, cfg: &Config, inp: &RepInputs) -> f64 {
    rep.train_step(cfg, &inp.shown(), &inp.prev(), Some(inp.noise()), None).loss.total()
}

/// Central differences of `loss` over every entry of every tensor of `params`, compared with
/// `analytic`. Returns the worst relative error seen per tensor.
fn check_fd<P: ParamSet<f64>>(params: &P, analytic: &P, loss: impl Fn(&P) -> f64) {
    let h = 1e-6;
    for (t, (grad, name)) in analytic.slices().into_iter().zip(P::NAMES).enumerate() {
        let len = grad.len();
        let mut worst: f64 = 0.0;
        for (i, &an) in grad.iter().enumerate() {
            let mut p = params.clone();
            p.slices_mut()[t][i] += h;
            let up = loss(&p);
            p.slices_mut()[t][i] -= 2.0 * h;
            let down = loss(&p);
            let fd = (up - down) / (2.0 * h);
            let err = (fd - an).abs() / (1e-6 + an.abs().max(fd.abs()));
            worst = worst.max(err);
            assert!((fd - an).abs() <= 1e-7 + 1e-5 * an.abs(), "{name}[{i}]: finite difference {fd:e}, formula {an:e}");
        }
        assert!(grad.iter().any(|&g| g != 0.0), "{name}: the gradient is identically zero, so the test proves nothing");
        eprintln!("{name}: {len} entries, worst relative error {worst:.2e}");
    }
}

#[test]
fn representation_gradients_match_finite_differences() {
    let cfg = small_cfg();
    let mut r = rng::rng(11, &[]);
    let model = positive_model(&cfg, &mut r);
    let inp = rep_inputs(&cfg, 6, &mut r);
    let step = model.rep.train_step(&cfg, &inp.shown(), &inp.prev(), Some(inp.noise()), None);
    // Preconditions of the check (spec §7.4): every pre-activation positive, so the new state
    // exceeds the leak term everywhere.
    assert!((&step.state.z1 - &(&inp.z1p * cfg.alpha)).iter().all(|&v| v > 0.0));
    assert!((&step.state.z2 - &(&inp.z2p * cfg.alpha)).iter().all(|&v| v > 0.0));
    check_fd(&model.rep, &step.grads, |rep| rep_loss(rep, &cfg, &inp));
}

/// The optional weight regulariser (`reg_lambda`, off by default): λ·Σ‖P‖_F over W1, V2, W2, V
/// and W, differentiated by the same finite differences; laterals and biases untouched.
#[test]
fn regularised_representation_gradients_match_finite_differences() {
    let cfg = Config { reg_lambda: 0.05, ..small_cfg() };
    let mut r = rng::rng(13, &[]);
    let model = positive_model(&cfg, &mut r);
    let inp = rep_inputs(&cfg, 6, &mut r);
    let run = |cfg: &Config| model.rep.train_step(cfg, &inp.shown(), &inp.prev(), Some(inp.noise()), None);
    let (with, without) = (run(&cfg), run(&small_cfg()));
    let norm = |p: &Array2<f64>| p.iter().map(|v| v * v).sum::<f64>().sqrt();
    let rep = &model.rep;
    let expected = 0.05 * (norm(&rep.w1) + norm(&rep.v2) + norm(&rep.w2) + norm(&rep.v) + norm(&rep.w));
    assert!((with.loss.reg - expected).abs() < 1e-12 * expected, "{} vs {expected}", with.loss.reg);
    assert_eq!(without.loss.reg, 0.0);
    assert_eq!((with.grads.l1.clone(), with.grads.b1.clone(), with.grads.b.clone()), (without.grads.l1, without.grads.b1, without.grads.b));
    assert!(with.grads.w1 != without.grads.w1 && with.grads.w != without.grads.w);
    check_fd(&model.rep, &with.grads, |rep| rep_loss(rep, &cfg, &inp));
}

#[test]
fn generative_gradients_and_latent_step_match_finite_differences() {
    let cfg = small_cfg();
    let n = 6;
    let mut r = rng::rng(12, &[]);
    let model = positive_model(&cfg, &mut r);
    let x = unif(n, cfg.input_dim, 0.2, 0.9, &mut r);
    let z1 = unif(n, cfg.hidden, 0.05, 0.6, &mut r);
    let z2 = unif(n, cfg.hidden, 0.05, 0.6, &mut r);
    let z_g = unif(n, cfg.latent, 0.1, 1.0, &mut r);
    let n1 = unif(n, cfg.hidden, -0.01, 0.01, &mut r);
    let n2 = unif(n, cfg.hidden, -0.01, 0.01, &mut r);
    let run = |g: &Generative<f64>, zg: ArrayView2<f64>| {
        g.train_step(x.view(), &State { z1: z1.clone(), z2: z2.clone() }, zg, Some(LayerNoise { layer1: n1.view(), layer2: n2.view() }), None)
    };
    let out = run(&model.generative, z_g.view());
    // The clip is inactive: every input prediction strictly inside (0, 1).
    let a1 = nrm(z1.mapv(|v| v.max(0.0)).view());
    let h0 = a1.dot(&model.generative.g1);
    assert!(h0.iter().all(|&v| v > 0.0 && v < 1.0));
    check_fd(&model.generative, &out.grads, |g| run(g, z_g.view()).loss.total());

    // d_z is the gradient of Lg2 alone with respect to z_g.
    let h = 1e-6;
    for i in 0..n {
        for j in 0..cfg.latent {
            let mut zp = z_g.clone();
            zp[[i, j]] += h;
            let up = run(&model.generative, zp.view()).loss.layer2;
            zp[[i, j]] -= 2.0 * h;
            let down = run(&model.generative, zp.view()).loss.layer2;
            let fd = (up - down) / (2.0 * h);
            let an = out.d_z[[i, j]];
            assert!((fd - an).abs() <= 1e-7 + 1e-5 * an.abs(), "d_z[{i},{j}]: finite difference {fd:e}, formula {an:e}");
        }
    }
}

#[test]
fn latent_step_at_zero_is_the_1e8_kick() {
    let cfg = small_cfg();
    let n = 6;
    let mut r = rng::rng(13, &[]);
    let model = positive_model(&cfg, &mut r);
    let z2 = unif(n, cfg.hidden, 0.05, 0.6, &mut r);
    let zero = Array2::<f64>::zeros((n, cfg.latent));
    let (d, loss) = model.generative.latent_direction(zero.view(), z2.view(), n);
    // At z_g = 0 the prediction is φ(0·Gy) = 0, so E2 = −Z2 and Gu = (2/N)(−Z2)Gyᵀ; the
    // guarded sqrt gradient zeroes the second term and Dn = 1e-8.
    let gu = z2.dot(&model.generative.gy.t()) * (-2.0 / n as f64);
    let want = &gu * 1e8;
    for (a, b) in d.iter().zip(want.iter()) {
        assert!((a - b).abs() <= 1e-9 * b.abs(), "{a} vs {b}");
    }
    let want_loss = z2.mapv(|v| v * v).sum() / n as f64;
    assert!((loss - want_loss).abs() < 1e-12);
    // One step with β then makes z_g = β·1e8·(2/N)·Z2·Gyᵀ: a one-shot projection of huge scale.
    let z_after = &zero - &(&d * cfg.beta);
    let proj = z2.dot(&model.generative.gy.t()) * (cfg.beta * 1e8 * 2.0 / n as f64);
    assert!((&z_after - &proj).iter().all(|v| v.abs() <= 1e-6 * proj.iter().fold(0.0f64, |m, p| m.max(p.abs()))));
}

/// The spec's formulas written densely: full H×H lateral matrices with the block mask, the
/// effective matrix Leff = relu(L)⊙M⊙(1−I) − relu(L)⊙I, states and all gradients.
struct Dense {
    z1: Array2<f64>,
    z2: Array2<f64>,
    dw1: Array2<f64>,
    dv2: Array2<f64>,
    db1: Array1<f64>,
    dl1: Array2<f64>,
    dw2: Array2<f64>,
    dv: Array2<f64>,
    db2: Array1<f64>,
    dl2: Array2<f64>,
}

fn dense_reference(rep: &Representation<f64>, cfg: &Config, inp: &RepInputs, l1: &Array2<f64>, l2: &Array2<f64>) -> Dense {
    let h = cfg.hidden;
    let n = inp.x_hat.nrows() as f64;
    let mask = Array2::from_shape_fn((h, h), |(i, j)| if i / GROUP == j / GROUP { 1.0 } else { 0.0 });
    let eye = Array2::<f64>::eye(h);
    let leff = |l: &Array2<f64>| {
        let r = l.mapv(|v| v.max(0.0));
        &r * &mask * &(1.0 - &eye) - &r * &eye
    };
    let a = cfg.alpha;
    let nrm_ = |z: &Array2<f64>| nrm(z.view());
    let mut a1 = inp.x_hat.dot(&rep.w1) + nrm_(&inp.z2p).dot(&rep.v2) + &rep.b1 + &inp.e1 - inp.z1p.dot(&leff(l1));
    let y_hat = &inp.y * cfg.y_scale;
    let mut a2 = nrm_(&inp.z1p).dot(&rep.w2) + y_hat.dot(&rep.v) + &rep.b2 + &inp.e2 - inp.z2p.dot(&leff(l2));
    a1.mapv_inplace(|v| v.max(0.0));
    a2.mapv_inplace(|v| v.max(0.0));
    let z1 = &a1 * (1.0 - a) + &inp.z1p * a;
    let z2 = &a2 * (1.0 - a) + &inp.z2p * a;
    let delta = |z: &Array2<f64>| {
        let mut d = z.clone();
        for (i, mut row) in d.rows_mut().into_iter().enumerate() {
            let l = cfg.threshold - z.row(i).mapv(|v| v * v).sum();
            let s = 1.0 / (1.0 + (-l).exp());
            row *= -(2.0 * (1.0 - a) / n) * (s - inp.lab[i]);
        }
        d
    };
    let (d1, d2) = (delta(&z1), delta(&z2));
    let lat = |zp: &Array2<f64>, d: &Array2<f64>, l: &Array2<f64>| {
        let g = zp.t().dot(d);
        -(&g * &(&mask * &(1.0 - &eye) - &eye)) * &l.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
    };
    Dense {
        dw1: inp.x_hat.t().dot(&d1),
        dv2: nrm_(&inp.z2p).t().dot(&d1),
        db1: d1.sum_axis(Axis(0)),
        dl1: lat(&inp.z1p, &d1, l1),
        dw2: nrm_(&inp.z1p).t().dot(&d2),
        dv: y_hat.t().dot(&d2),
        db2: d2.sum_axis(Axis(0)),
        dl2: lat(&inp.z2p, &d2, l2),
        z1,
        z2,
    }
}

fn max_diff<D: ndarray::Dimension>(a: &ndarray::Array<f64, D>, b: &ndarray::Array<f64, D>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[test]
fn compact_laterals_equal_the_dense_masked_form_with_leak_only_rows_and_dead_entries() {
    let cfg = small_cfg();
    let n = 8;
    let mut r = rng::rng(14, &[]);
    let mut model = positive_model(&cfg, &mut r);
    // Laterals of both signs (so some entries are ≤ 0 and must get zero gradient), larger so
    // that competition matters.
    model.rep.l1 = unif(cfg.hidden, GROUP, -0.3, 0.3, &mut r);
    model.rep.l2 = unif(cfg.hidden, GROUP, -0.3, 0.3, &mut r);
    model.rep.l1[[3, 3]] = 0.0; // exactly 0 is "not > 0"
    let mut inp = rep_inputs(&cfg, n, &mut r);
    // Rows 1 and 6 get a large negative drive: their pre-activations are < 0 (leak only).
    for row in [1usize, 6] {
        inp.e1.row_mut(row).fill(-50.0);
        inp.e2.row_mut(row).fill(-50.0);
    }
    // Dense matrices with garbage outside the groups: those entries must not matter.
    let garbage = unif(cfg.hidden, cfg.hidden, -1.0, 1.0, &mut r);
    let embed = |compact: &Array2<f64>| {
        let mut d = garbage.clone();
        let live = lateral::to_dense(compact.view());
        for i in 0..cfg.hidden {
            for j in 0..cfg.hidden {
                if i / GROUP == j / GROUP {
                    d[[i, j]] = live[[i, j]];
                }
            }
        }
        d
    };
    let (l1d, l2d) = (embed(&model.rep.l1), embed(&model.rep.l2));
    let want = dense_reference(&model.rep, &cfg, &inp, &l1d, &l2d);
    let got = model.rep.train_step(&cfg, &inp.shown(), &inp.prev(), Some(inp.noise()), None);

    for row in [1usize, 6] {
        let leak = &inp.z1p.row(row) * cfg.alpha;
        assert!(max_diff(&got.state.z1.row(row).to_owned(), &leak) < 1e-15, "row {row} should be leak only");
    }
    let tol = 1e-12;
    assert!(max_diff(&got.state.z1, &want.z1) < tol && max_diff(&got.state.z2, &want.z2) < tol, "states differ");
    assert!(max_diff(&got.grads.w1, &want.dw1) < tol);
    assert!(max_diff(&got.grads.v2, &want.dv2) < tol);
    assert!(max_diff(&got.grads.b1, &want.db1) < tol);
    assert!(max_diff(&got.grads.w2, &want.dw2) < tol);
    assert!(max_diff(&got.grads.v, &want.dv) < tol);
    assert!(max_diff(&got.grads.b2, &want.db2) < tol);
    let (gl1, gl2) = (lateral::to_dense(got.grads.l1.view()), lateral::to_dense(got.grads.l2.view()));
    // The dense gradient is zero off the groups; the compact one holds exactly the rest.
    assert!(max_diff(&gl1, &want.dl1) < tol && max_diff(&gl2, &want.dl2) < tol, "lateral gradients differ");
    assert!(max_diff(&lateral::from_dense(want.dl1.view()), &got.grads.l1) < tol);
    // Dead entries (L ≤ 0) have zero gradient, live ones generally do not.
    for (g, l) in got.grads.l1.iter().zip(model.rep.l1.iter()) {
        if *l <= 0.0 {
            assert_eq!(*g, 0.0);
        }
    }
    assert!(got.grads.l1.iter().zip(model.rep.l1.iter()).any(|(g, l)| *l > 0.0 && *g != 0.0));
    assert_eq!(got.grads.l1[[3, 3]], 0.0);
    // Leak-only rows still send an error signal, because φ' ≡ 1 (spec §6): removing them
    // from the batch changes dW1.
    assert!(want.dw1.iter().any(|v| v.abs() > 0.0));
}

#[test]
fn head_gradient_uses_positives_only() {
    let cfg = small_cfg();
    let mut r = rng::rng(15, &[]);
    let model = positive_model(&cfg, &mut r);
    let mut inp = rep_inputs(&cfg, 6, &mut r);
    let base = model.rep.train_step(&cfg, &inp.shown(), &inp.prev(), None, None);
    // Changing the label of a negative row leaves the head gradient unchanged.
    inp.y.row_mut(5).fill(0.0);
    inp.y[[5, 9]] = 1.0;
    let other = model.rep.train_step(&cfg, &inp.shown(), &inp.prev(), None, None);
    assert_eq!(base.grads.w, other.grads.w);
    assert_eq!(base.grads.b, other.grads.b);
    assert_ne!(base.grads.v, other.grads.v, "the label still enters layer 2");
}
