//! Rough breakdown of one training step's non-matmul work at a preset's size (development aid).
use pff::model::{Clamped, LayerNoise, Pff, State};
use pff::train::Adam;
use std::time::Instant;

fn time<F: FnMut()>(name: &str, reps: usize, mut f: F) {
    f();
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    println!("{name:30} {:8.2} ms", t.elapsed().as_secs_f64() * 1e3 / reps as f64);
}

fn main() {
    let preset = std::env::args().nth(1).unwrap_or("paper".into());
    let cfg = pff::Config::preset(&preset).unwrap();
    let m = Pff::<f32>::new(cfg.clone(), 1).unwrap();
    if std::env::args().nth(2).as_deref() == Some("step") {
        use pff::ops::{nrm, one_hot};
        let b = cfg.batch_size;
        let x = pff::rng::normal::<f32>(2 * b, cfg.input_dim, 1.0, 5).mapv(|v| v.clamp(0.0, 1.0));
        let labels: Vec<usize> = (0..2 * b).map(|i| i % 10).collect();
        let y = one_hot::<f32>(&labels, 10);
        let lab = ndarray::Array1::from_shape_fn(2 * b, |i| if i < b { 1.0f32 } else { 0.0 });
        let x_hat = nrm(x.view());
        let f = m.rep.forward(x_hat.view());
        let zg = ndarray::Array2::<f32>::zeros((2 * b, cfg.latent));
        let e = pff::rng::normal::<f32>(2 * b, cfg.hidden, 0.01, 1);
        let prev = State { z1: f.z1.clone(), z2: f.z2.clone() };
        let shown = Clamped { x_hat: x_hat.view(), y: y.view(), positive: lab.view() };
        let noise = LayerNoise { layer1: e.view(), layer2: e.view() };
        time("rep train_step", 3, || {
            m.rep.train_step(&cfg, &shown, &prev, Some(noise), None);
        });
        let rs = m.rep.train_step(&cfg, &shown, &prev, Some(noise), None);
        time("gen train_step", 3, || {
            m.generative.train_step(x.view(), &rs.state, zg.view(), Some(noise), None);
        });
        let z1h = nrm(f.z1.view());
        time("rep step only", 3, || {
            m.rep.step(&cfg, x_hat.view(), y.view(), &prev, Some(noise));
        });
        {
            // The phases of Representation::train_step, timed one by one.
            let t = Instant::now();
            let mut last = 0.0;
            let mut lap = |name: &str| {
                let now = t.elapsed().as_secs_f64() * 1e3;
                println!("  {name:28} {:8.2} ms", now - last);
                last = now;
            };
            for _ in 0..2 {
                let y_hat = y.mapv(|v| v * 5.0);
                let z1p_hat = nrm(f.z1.view());
                let z2p_hat = nrm(f.z2.view());
                lap("nrm");
                let State { z1, z2 } = m.rep.step(&cfg, x_hat.view(), y_hat.view(), &prev, Some(noise));
                lap("step");
                let s1 = pff::ops::row_sq_sums(z1.view());
                let mut d1 = z1.clone();
                for (mut r, &c) in d1.rows_mut().into_iter().zip(s1.iter()) {
                    r *= c * 1e-6;
                }
                let d2 = z2.clone();
                lap("deltas");
                let logp = pff::ops::log_softmax(m.rep.head_logits(z2p_hat.view()).view());
                lap("head");
                let g1 = pff::linalg::matmul(x_hat.t(), d1.view());
                lap("dW1");
                let g2 = pff::linalg::matmul(z2p_hat.t(), d1.view());
                lap("dV2");
                let g3 = pff::linalg::matmul(z1p_hat.t(), d2.view());
                lap("dW2");
                let g4 = pff::linalg::matmul(y_hat.t(), d2.view());
                let b1 = d1.sum_axis(ndarray::Axis(0));
                let b2 = d2.sum_axis(ndarray::Axis(0));
                lap("dV, db");
                let l1 = pff::lateral::grad(f.z1.view(), d1.view(), m.rep.l1.view());
                let l2 = pff::lateral::grad(f.z2.view(), d2.view(), m.rep.l2.view());
                lap("dL1, dL2");
                drop((g1, g2, g3, g4, b1, b2, l1, l2, logp));
                lap("drop");
            }
        }
        let d1 = f.z1.clone();
        time("5 rep grad matmuls", 3, || {
            pff::linalg::matmul(x_hat.t(), d1.view());
            pff::linalg::matmul(z1h.t(), d1.view());
            pff::linalg::matmul(z1h.t(), d1.view());
            pff::linalg::matmul(y.t(), d1.view());
        });
        return;
    }
    if std::env::args().nth(2).as_deref() == Some("train") {
        let mut tr = pff::train::Trainer::new(m, 1);
        let x = pff::rng::normal::<f32>(cfg.batch_size, cfg.input_dim, 1.0, 5).mapv(|v| v.clamp(0.0, 1.0));
        let labels: Vec<usize> = (0..cfg.batch_size).map(|i| i % 10).collect();
        let t = Instant::now();
        tr.train_batch(x.view(), &labels, 1).unwrap();
        println!("one batch: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
        return;
    }
    let (n, h) = (2 * cfg.batch_size, cfg.hidden);
    let mut rep = m.rep.clone();
    let g = m.rep.clone();
    let mut opt = Adam::new(1e-3, &rep);
    time("adam (representation)", 5, || opt.step(&mut rep, &g));
    let mut gen_ = m.generative.clone();
    let gg = m.generative.clone();
    let mut optg = Adam::new(1e-3, &gen_);
    time("adam (generative)", 5, || optg.step(&mut gen_, &gg));
    time("noise N×H", 10, || {
        pff::rng::normal::<f32>(n, h, 0.01, 3);
    });
    let z = pff::rng::normal::<f32>(n, h, 1.0, 3);
    time("nrm N×H", 10, || {
        pff::ops::nrm(z.view());
    });
    time("row_sq_sums N×H", 10, || {
        pff::ops::row_sq_sums(z.view());
    });
    let l = m.rep.l1.clone();
    let mut out = z.clone();
    time("lateral apply", 10, || pff::lateral::apply(z.view(), l.view(), -1.0, out.view_mut()));
    time("lateral grad", 10, || {
        pff::lateral::grad(z.view(), z.view(), l.view());
    });
    time("clone N×H", 10, || {
        let _ = z.clone();
    });
}
