//! `switchboard import studio`: realistic Twilio Studio exports (written by hand from Studio's
//! published flow and widget schemas, in tests/fixtures/studio/) become flows that pass `check`
//! and behave on a call as the Studio flow did, with our press-0 and silence defaults added.

mod common;

use std::path::{Path, PathBuf};

use common::run;

/// Imports `fixture` into a temporary folder; the flow's path, and the import's stderr.
fn import(dir: &Path, fixture: &str) -> (PathBuf, String) {
    let out = dir.join(format!("{fixture}.toml"));
    let json = format!("tests/fixtures/studio/{fixture}.json");
    let run = run(&["import", "studio", &json, "-o", out.to_str().unwrap()]).code(0);
    (out, run.stderr())
}

fn call(flow: &Path, keys: &str) -> String {
    run(&["call", flow.to_str().unwrap(), "--keys", keys, "--at", "wed 11:00"]).code(0).stdout()
}

#[test]
fn a_pharmacy_menu_with_keys_speech_and_voicemail() {
    let dir = tempfile::tempdir().unwrap();
    let (flow, stderr) = import(dir.path(), "pharmacy");
    run(&["check", flow.to_str().unwrap()]).code(0);
    // The keypress and speech splits became one menu's options and phrases.
    assert!(call(&flow, "1").contains("outcome: queue refills"), "{}", call(&flow, "1"));
    assert!(call(&flow, "say:\"I need a refill\"").contains("outcome: queue refills"));
    assert!(call(&flow, "2").contains("outcome: hangup"));
    assert!(call(&flow, "3").contains("outcome: voicemail pharmacist_voicemail"));
    // A wrong key hears Studio's "not an option" and the menu again.
    let wrong = call(&flow, "7 1");
    assert!(wrong.contains("Sorry, that is not an option.") && wrong.contains("outcome: queue refills"), "{wrong}");
    // Ours: 0 and silence reach a person (the first queue is the operator).
    assert!(call(&flow, "0").contains("outcome: queue refills"));
    assert!(call(&flow, "- - -").contains("outcome: queue refills"));
    assert!(stderr.contains("main_menu: 0 reaches the operator; silence reaches the operator"), "{stderr}");
    // Everything had an equivalent: nothing to warn about, and the re-prompt is no node.
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(!std::fs::read_to_string(&flow).unwrap().contains("[nodes.invalid_choice]"));
}

#[test]
fn a_bank_flow_with_an_entry_variables_and_widgets_we_lack() {
    let dir = tempfile::tempdir().unwrap();
    let (flow, stderr) = import(dir.path(), "bank");
    run(&["check", flow.to_str().unwrap()]).code(0);
    let text = std::fs::read_to_string(&flow).unwrap();
    // The account number is an input stored in a variable the prompts and the branch read.
    assert!(text.contains("kind = \"input\"") && text.contains("var = \"ask_account\""), "{text}");
    assert!(text.contains("account = \"{ask_account}\""), "{text}");
    let heard = call(&flow, "12345678#");
    assert!(heard.contains("Account 12345678, calling from"), "{heard}");
    assert!(heard.contains("outcome: queue flex"), "{heard}");
    // Widgets with no equivalent: a placeholder and a warning at the widget.
    for widget in ["`lookup`: a `make-http-request` widget", "`sorry`: a `run-function` widget"] {
        assert!(stderr.contains(widget), "{widget} in {stderr}");
    }
    assert!(stderr.contains("bank.json:51:"), "{stderr}");
    // A split on the HTTP answer cannot be kept, nor a Liquid filter; both said.
    assert!(stderr.contains("widgets.lookup.parsed.tier"), "{stderr}");
    assert!(stderr.contains("has no equivalent and is left out of the text"), "{stderr}");
    // Silence at the entry goes where Studio sent it, at once.
    assert!(call(&flow, "-").contains("We did not get your account number."));
}

#[test]
fn a_bilingual_clinic_where_zero_is_an_option() {
    let dir = tempfile::tempdir().unwrap();
    let (flow, stderr) = import(dir.path(), "clinic");
    run(&["check", flow.to_str().unwrap()]).code(0);
    let text = std::fs::read_to_string(&flow).unwrap();
    assert!(text.contains("languages = [\"en\", \"es\"]"), "{text}");
    assert!(text.contains("prompt.es = "), "{text}");
    // 0 is the front desk in Studio's English menu: kept, so press-0 is off there and says so.
    assert!(call(&flow, "1 0").contains("outcome: dial +15550100300"));
    assert!(stderr.contains("0 is an option here"), "{stderr}");
    assert!(call(&flow, "2 1").contains("outcome: queue appointments"));
    assert!(call(&flow, "1 2").contains("outcome: voicemail results_message"));
    // A wrong key in the English menu goes to the front desk at once, as in Studio.
    assert!(call(&flow, "1 9").contains("outcome: dial +15550100300"));
}

#[test]
fn bad_json_and_refused_definitions_say_where_and_what() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"states\": [\n    { \"name\": \"Trigger\", }\n  ]\n}\n").unwrap();
    run(&["import", "studio", broken.to_str().unwrap()]).code(1).stderr_has("broken.json:3:").stderr_has("error:");
    let no_call = dir.path().join("sms.json");
    std::fs::write(
        &no_call,
        r#"{"description":"sms","initial_state":"Trigger","flags":{"allow_concurrent_calls":true},
        "states":[{"name":"Trigger","type":"trigger","transitions":[{"event":"incomingMessage"}],"properties":{}}]}"#,
    )
    .unwrap();
    run(&["import", "studio", no_call.to_str().unwrap()]).code(1).stderr_has("incomingCall");
    // An existing output is kept unless --force.
    let out = dir.path().join("kept.toml");
    std::fs::write(&out, "keep me").unwrap();
    run(&["import", "studio", "tests/fixtures/studio/pharmacy.json", "-o", out.to_str().unwrap()])
        .code(2)
        .stderr_has("--force");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    run(&["import", "studio", "tests/fixtures/studio/pharmacy.json", "-o", out.to_str().unwrap(), "--force"]).code(0);
    assert!(std::fs::read_to_string(&out).unwrap().contains("[nodes.main_menu]"));
}
