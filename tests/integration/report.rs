//! One report model for every command: the README's JSON example is the
//! real shape, `pack` is the same command as `--dry-run`, and an invalid
//! config takes one path whatever the command.

use serde_json::Value;

use crate::harness::{Repo, Sentinel, json_of};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

/// The JSON example after "`--format json` prints one document:".
fn readme_json() -> Value {
    let text = readme();
    let start = text
        .find("`--format json` prints one document:")
        .expect("the JSON example");
    let open = text[start..].find("```json\n").expect("fence") + start + 8;
    let close = text[open..].find("```").expect("closing fence") + open;
    serde_json::from_str(&text[open..close]).expect("the README's JSON example parses")
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Same keys, and the same type for each (a `null` example value stands
/// for "may be null").
fn same_shape(example: &Value, real: &Value, at: &str, problems: &mut Vec<String>) {
    let (Value::Object(e), Value::Object(r)) = (example, real) else {
        return;
    };
    let ek: Vec<&String> = e.keys().collect();
    let rk: Vec<&String> = r.keys().collect();
    if ek != rk {
        problems.push(format!(
            "{at}: keys {ek:?} in the README, {rk:?} in the output"
        ));
    }
    for (k, ev) in e {
        let Some(rv) = r.get(k) else { continue };
        if !ev.is_null() && kind_of(ev) != kind_of(rv) && k != "details" {
            problems.push(format!(
                "{at}.{k}: {} in the README, {} in the output",
                kind_of(ev),
                kind_of(rv)
            ));
        }
    }
}

#[test]
fn the_readmes_json_example_has_the_real_shape() {
    let repo = Repo::new();
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .args(["--format", "json"])
        .safe();
    let real = json_of(&out);
    let example = readme_json();
    let mut problems = Vec::new();
    same_shape(&example, &real, "document", &mut problems);
    same_shape(
        &example["checks"][0],
        &real["checks"][0],
        "checks[0]",
        &mut problems,
    );
    // The first row is shown whole: its values, details included, are
    // the binary's (only its duration varies).
    for key in ["id", "phase", "status", "message", "details"] {
        if example["checks"][0][key] != real["checks"][0][key] {
            problems.push(format!(
                "checks[0].{key}: {} in the README, {} in the output",
                example["checks"][0][key], real["checks"][0][key]
            ));
        }
    }
    assert_eq!(real["checks"][0]["id"], "env_allowed");
    assert!(problems.is_empty(), "{}\n{real:#}", problems.join("\n"));
}

#[test]
fn pack_is_the_same_command_as_dry_run() {
    let repo = Repo::new();
    repo.config("[[pack.steps]]\nname = \"one\"\nrun = [\"true\"]\n");
    let a = Sentinel::new()
        .dir(&repo.path)
        .args(["pack", "--env", "dev", "--version", "v1.0.0"])
        .stdout_has("| pre_live_pack             | OK   | PRE_LIVE_PACK=DRYRUN |")
        .safe();
    let b = Sentinel::new()
        .dir(&repo.path)
        .args(["--env", "dev", "--version", "v1.0.0", "--dry-run"])
        .safe();
    assert_eq!(a.stdout, b.stdout);
    // Its options are the gate's: formats, report, strict.
    let out = Sentinel::new()
        .dir(&repo.path)
        .args([
            "pack",
            "--env",
            "dev",
            "--version",
            "v1.0.0",
            "--format",
            "json",
            "--strict",
        ])
        .safe();
    assert_eq!(json_of(&out)["kind"], "pack");
}

#[test]
fn an_invalid_config_is_one_path_for_the_gate_and_the_pack() {
    let repo = Repo::new();
    repo.config("bogus_key = 1\n");
    for args in [
        vec!["--env", "dev", "--version", "v1.0.0"],
        vec!["pack", "--env", "dev", "--version", "v1.0.0"],
    ] {
        let out = Sentinel::new()
            .dir(&repo.path)
            .args(&args)
            .args(["--format", "json"])
            .stderr_has("release-sentinel: error: ")
            .stderr_has("bogus_key")
            .blocked();
        let doc = json_of(&out);
        assert_eq!(doc["config"], Value::Null, "{args:?}: {doc:#}");
        assert!(
            doc["error"].as_str().unwrap_or("").contains("bogus_key"),
            "{args:?}: {doc:#}"
        );
        assert_eq!(doc["exit_code"], 1, "{args:?}: {doc:#}");
    }
}

#[test]
fn junit_to_a_file_in_the_work_tree_leaves_the_tree_clean() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .args(["--junit", "gate.xml", "--report", "gate.json"])
        .stdout_has("| clean_tree                | OK   |")
        .safe();
    let xml = std::fs::read_to_string(repo.path.join("gate.xml")).expect("gate.xml");
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    assert!(doc.descendants().any(|n| n.has_tag_name("testcase")));
    let json: Value =
        serde_json::from_slice(&std::fs::read(repo.path.join("gate.json")).expect("gate.json"))
            .expect("JSON");
    assert_eq!(json["verdict"], "SAFE");
}

#[test]
fn a_check_in_warn_mode_warns_instead_of_failing() {
    let repo = Repo::with_config("[modes]\nclean_tree = \"warn\"\n");
    repo.write("README", "dirty\n");
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stdout_has("| clean_tree                | WARN |")
        .stdout_has("(mode warn: counts as WARN, not FAIL)")
        .safe();
    assert!(String::from_utf8_lossy(&out.stdout).contains("RELEASE_SENTINEL=SAFE"));
    // --strict still blocks on it: a WARN is a WARN.
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .arg("--strict")
        .blocked();
}

#[test]
fn a_check_in_shadow_mode_is_reported_and_never_counted() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let repo = Repo::with_config(&format!(
        "[[health.api]]\nname = \"new\"\nurl = \"http://127.0.0.1:{closed}/\"\nretries = 1\n\
         [modes]\n\"api:new\" = \"shadow\"\n"
    ));
    let out = Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .env("GITHUB_ACTIONS", "true")
        .args(["--format", "json"])
        .stderr_has("::notice title=release-sentinel api%3Anew::")
        .safe();
    let doc = json_of(&out);
    let row = doc["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|r| r["id"] == "api:new"))
        .expect("the row");
    assert_eq!(row["status"], "CRIT", "{doc:#}");
    assert_eq!(row["mode"], "shadow", "{doc:#}");
    assert_eq!(doc["verdict"], "SAFE", "{doc:#}");
}

#[test]
fn a_mode_for_an_unknown_check_is_a_config_error() {
    let repo = Repo::with_config("[modes]\nclean_tre = \"warn\"\n");
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stderr_has("modes.clean_tre: no check has this id")
        .blocked();
    let repo = Repo::with_config("[modes]\nclean_tree = \"sometimes\"\n");
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.0.0")
        .stderr_has("unknown variant")
        .stderr_has("release-sentinel.toml:2:")
        .blocked();
}
