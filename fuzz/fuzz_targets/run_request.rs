//! The override parser and the configuration checks: a run request (as the page sends it, or
//! `pff train --set NAME=VALUE` lines) becomes a run identity or an error; an accepted
//! configuration passes its own validation and survives a JSON round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pff::Config;
use pff::config::Setting;
use pff::run::RunRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<RunRequest>(data)
        && let Ok(spec) = req.spec()
    {
        spec.validate().unwrap();
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut cfg = Config::tiny();
    for line in text.lines() {
        if let Some((name, value)) = line.split_once('=') {
            let before = cfg.clone();
            if cfg.set(name, Setting::Text(value)).is_err() {
                assert_eq!(cfg, before, "a refused --set changed the configuration");
            }
        }
    }
    cfg.validate().unwrap();
    let back: Config = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
});
