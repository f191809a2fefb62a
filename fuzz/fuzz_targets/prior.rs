//! The GMM prior's deserialisation and validation; a prior that validates can be sampled.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pff::config::ComponentDraw;
use pff::gmm::Gmm;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = serde_json::from_slice::<Gmm>(data) else { return };
    let dim = g.dim();
    if dim <= 64 && g.validate(dim).is_ok() {
        let _ = g.sample(4, ComponentDraw::Weights, None, &mut pff::rng::rng(1, &[]));
        let _ = g.sample(4, ComponentDraw::ReferenceSoftmax, Some(0), &mut pff::rng::rng(2, &[]));
    }
});
