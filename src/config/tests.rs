//! Tests of the hyper-parameters: setting each by name, and refusing bad values.

use super::*;

/// Every stored hyper-parameter can be set by name, to its own value, from its text and
/// from its JSON value, and SETTINGS names exactly the stored ones.
#[test]
fn every_stored_hyper_parameter_is_settable_by_name() {
    let cfg = Config { reg_lambda: 0.5, lr_milestones: vec![3, 7], component_draw: ComponentDraw::ReferenceSoftmax, ..Config::web() };
    let stored = serde_json::to_value(&cfg).unwrap();
    let keys: Vec<&str> = stored.as_object().unwrap().keys().map(String::as_str).collect();
    let mut names = SETTINGS.to_vec();
    names.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    for name in keys {
        let value = &stored[name];
        let mut from_json = Config::tiny();
        from_json.set(name, Setting::Json(value)).unwrap();
        assert_eq!(serde_json::to_value(&from_json).unwrap()[name], *value, "{name} from JSON");
        let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
        let mut from_text = Config::tiny();
        from_text.set(name, Setting::Text(&text)).unwrap();
        assert_eq!(serde_json::to_value(&from_text).unwrap()[name], *value, "{name} from {text:?}");
    }
}

#[test]
fn a_bad_value_names_the_setting_and_changes_nothing() {
    let mut cfg = Config::tiny();
    for (name, value) in [("hidden", "12.5"), ("hidden", "-10"), ("lr", "fast"), ("lr_milestones", "[1, x]"), ("component_draw", "nearest"), ("hidden", "15")] {
        let e = cfg.set(name, Setting::Text(value)).unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
        assert_eq!(cfg, Config::tiny());
    }
    // the page's numbers are doubles: 20.0 is a whole number
    cfg.set("steps", Setting::Json(&serde_json::json!(20.0))).unwrap();
    assert_eq!(cfg.steps, 20);
    cfg.set("lr_milestones", Setting::Text("2,5")).unwrap();
    assert_eq!(cfg.lr_milestones, [2, 5]);
}

#[test]
fn a_schedule_is_copied_as_a_value() {
    let mut from = Config::paper();
    from.set("lr_milestones", Setting::Text("[4]")).unwrap();
    let to = Config::tiny().with_schedule(from.schedule());
    assert_eq!((to.epochs, to.lr, to.lr_milestones.clone(), to.lr_gamma, to.hidden), (60, 2.5e-4, vec![4], from.lr_gamma, 100));
    assert_eq!(to.schedule(), from.schedule());
}
