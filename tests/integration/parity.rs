//! `parity --source A --target B` on real files and real commands: dotenv,
//! JSON, TOML and YAML sources flattened to dotted keys, a later source
//! overriding an earlier one, a command's `KEY=VALUE` output, drift named
//! key by key (critical drift blocks, other drift warns), secret values
//! compared but never shown, and every way a source or the `[parity]`
//! config can be wrong.

use std::process::Output;

use serde_json::Value;

use crate::harness::{
    Repo, Sentinel, context, held_to_file_modes, json_check, json_of, message_of, row,
};

const PASS: &str = "| parity                    | OK   | PARITY=PASS |";
const DRIFT: &str = "| parity                    | FAIL | PARITY=DRIFT |";

// ---------------------------------------------------------------- helpers

/// `parity --source SOURCE --target TARGET` in `repo`.
fn parity(repo: &Repo, source: &str, target: &str) -> Sentinel {
    Sentinel::new()
        .dir(&repo.path)
        .args(["parity", "--source", source, "--target", target])
}

/// A `[parity.env.NAME]` table with these sources (TOML inline tables,
/// see [`file`] and [`command`]).
fn env(name: &str, sources: &[String]) -> String {
    format!(
        "[parity.env.{name}]\nsources = [{}]\n\n",
        sources.join(", ")
    )
}

/// A file source.
fn file(path: &str) -> String {
    format!("{{ file = {} }}", crate::harness::toml_str(path))
}

/// A command source.
fn command(argv: &[&str]) -> String {
    let args: Vec<String> = argv.iter().map(|a| crate::harness::toml_str(a)).collect();
    format!("{{ command = [{}] }}", args.join(", "))
}

/// The ids of the rows of a parity table, in order (the final row aside).
fn row_ids(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| parity "))
        .map(|l| l[2..27].trim_end().to_string())
        .collect()
}

/// The message of the single `parity` row a run that could not compare
/// prints: no other row, and the final row says DRIFT.
fn the_one_failure(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| parity "))
        .collect();
    assert_eq!(
        rows.len(),
        2,
        "one failure row and the final row\n{}",
        context(out)
    );
    assert!(
        rows[0].starts_with(&row("parity", "FAIL")),
        "{}",
        context(out)
    );
    assert_eq!(rows[1], DRIFT, "{}", context(out));
    assert!(row_ids(out).is_empty(), "no key rows\n{}", context(out));
    message_of(&out.stdout, "parity")
}

/// Every run of a comparison that could not be made ends the same way:
/// exit 1, no panic, and one message on the `parity` row.
fn cannot_compare(repo: &Repo, source: &str, target: &str) -> String {
    let out = parity(repo, source, target)
        .stderr_lacks("panicked")
        .stdout_has(DRIFT)
        .blocked();
    the_one_failure(&out)
}

/// Runs of 64 hexadecimal digits (a SHA-256 or HMAC-SHA256 digest) in
/// `text`.
fn hex_digests(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            if run.len() >= 64 {
                found.push(std::mem::take(&mut run));
            }
            run.clear();
        }
    }
    found
}

/// No SHA-256-like digest in stdout, stderr or the written report: a
/// keyed hash of a secret is never shown.
fn no_digest_shown(out: &Output, written: &str) {
    for text in [
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        written.to_string(),
    ] {
        assert!(hex_digests(&text).is_empty(), "a digest is shown:\n{text}");
    }
}

/// The JSON row `id` of a secret that differs: its `status` and
/// `message`, and details that say only whether it is critical and drifts.
fn secret_row(doc: &Value, id: &str, status: &str, message: &str) {
    let secret = json_check(doc, id);
    assert_eq!(secret["status"], status, "{doc:#}");
    assert_eq!(secret["message"], message);
    let keys: Vec<&String> = secret["details"]
        .as_object()
        .expect("details")
        .keys()
        .collect();
    assert_eq!(keys, ["critical", "drift"], "{doc:#}");
}

// ---------------------------------------------------------------- formats

/// One configuration written four ways; each flattens to these keys.
const DOTENV: &str = "\
# the same configuration as a dotenv file
app.name=shop
app.replicas=3
app.debug=false
db.host=db.internal
db.port=5432
features.0=search
features.1=cart
";

const JSON: &str = r#"{
  "app": {"name": "shop", "replicas": 3, "debug": false},
  "db": {"host": "db.internal", "port": 5432},
  "features": ["search", "cart"]
}
"#;

const TOML: &str = "\
features = [\"search\", \"cart\"]

[app]
name = \"shop\"
replicas = 3
debug = false

[db]
host = \"db.internal\"
port = 5432
";

const YAML: &str = "\
app:
  name: shop
  replicas: 3
  debug: false
db:
  host: db.internal
  port: 5432
features:
  - search
  - cart
";

#[test]
fn dotenv_json_toml_and_yaml_flatten_to_the_same_dotted_keys() {
    let config = [
        env("dotenv", &[file("conf/app.env")]),
        env("json", &[file("conf/app.json")]),
        env("toml", &[file("conf/app.toml")]),
        env("yaml", &[file("conf/app.yaml")]),
        env("yml", &[file("conf/app.yml")]),
    ]
    .concat();
    let repo = Repo::with_config(&config);
    repo.write("conf/app.env", DOTENV);
    repo.write("conf/app.json", JSON);
    repo.write("conf/app.toml", TOML);
    repo.write("conf/app.yaml", YAML);
    repo.write("conf/app.yml", YAML);
    for other in ["json", "toml", "yaml", "yml"] {
        for (source, target) in [("dotenv", other), (other, "dotenv")] {
            let out = parity(&repo, source, target)
                .stdout_has(row("summary", "OK"))
                .stdout_has(format!(
                    "{source} vs {target}: 7 keys, 7 the same, 0 drifted (0 critical), 0 allowed to differ"
                ))
                .stdout_has(PASS)
                .stderr_empty()
                .safe();
            assert_eq!(row_ids(&out), ["summary"], "{}", context(&out));
        }
    }
    let out = parity(&repo, "json", "yaml")
        .args(["--format", "json"])
        .safe();
    let doc = json_of(&out);
    assert_eq!(doc["kind"], "parity", "{doc:#}");
    assert_eq!(doc["verdict"], "PASS", "{doc:#}");
    assert_eq!(doc["exit_code"], 0, "{doc:#}");
    assert_eq!(doc["checks"].as_array().map(Vec::len), Some(1), "{doc:#}");
    let summary = json_check(&doc, "summary");
    assert_eq!(summary["status"], "OK", "{doc:#}");
    assert_eq!(summary["details"]["same"], 7, "{doc:#}");
    assert_eq!(summary["details"]["source"], "json", "{doc:#}");
    assert_eq!(summary["details"]["target"], "yaml", "{doc:#}");
}

// ------------------------------------------------------------------ drift

const DRIFT_CONFIG: &str = "\
[parity]
allow_differ = [\"*.host\"]
critical = [\"DB_*\"]

[parity.env.staging]
sources = [{ file = \"staging.env\" }]

[parity.env.production]
sources = [{ file = \"production.env\" }]
";

#[test]
fn drift_is_named_key_by_key_and_only_critical_drift_blocks() {
    let repo = Repo::with_config(DRIFT_CONFIG);
    repo.write(
        "staging.env",
        "SAME=1\nLOG_LEVEL=debug\nONLY_STAGING=1\napi.host=api.staging.example\nDB_POOL=10\n",
    );
    repo.write(
        "production.env",
        "SAME=1\nLOG_LEVEL=info\nONLY_PRODUCTION=1\napi.host=api.example\nDB_POOL=10\n",
    );

    // Drift in keys that are not critical: each named, WARN, exit 0.
    let out = parity(&repo, "staging", "production")
        .stdout_has(row("LOG_LEVEL", "WARN"))
        .stdout_has("differs: \"debug\" in staging, \"info\" in production |")
        .stdout_has(row("ONLY_STAGING", "WARN"))
        .stdout_has("| only in staging |")
        .stdout_has(row("ONLY_PRODUCTION", "WARN"))
        .stdout_has("| only in production |")
        .stdout_has(row("api.host", "OK"))
        .stdout_has("differs, allowed (parity.allow_differ)")
        .stdout_has(row("summary", "WARN"))
        .stdout_has(
            "staging vs production: 6 keys, 2 the same, 3 drifted (0 critical), 1 allowed to differ",
        )
        .stdout_lacks("(critical)")
        .stdout_lacks(row("SAME", ""))
        .stdout_lacks(row("DB_POOL", ""))
        .safe();
    assert_eq!(
        row_ids(&out),
        [
            "LOG_LEVEL",
            "ONLY_PRODUCTION",
            "ONLY_STAGING",
            "api.host",
            "summary"
        ],
        "{}",
        context(&out)
    );

    let out = parity(&repo, "staging", "production")
        .args(["--format", "json"])
        .safe();
    let doc = json_of(&out);
    assert_eq!(doc["exit_code"], 0, "{doc:#}");
    for (id, status, drift) in [
        ("LOG_LEVEL", "WARN", "differ"),
        ("ONLY_STAGING", "WARN", "only_source"),
        ("ONLY_PRODUCTION", "WARN", "only_target"),
        ("api.host", "OK", "allowed"),
    ] {
        let check = json_check(&doc, id);
        assert_eq!(check["status"], status, "{id}: {doc:#}");
        assert_eq!(check["details"]["drift"], drift, "{id}: {doc:#}");
    }
    assert_eq!(json_check(&doc, "LOG_LEVEL")["details"]["critical"], false);
    let summary = &json_check(&doc, "summary")["details"];
    assert_eq!(summary["only_source"], serde_json::json!(["ONLY_STAGING"]));
    assert_eq!(
        summary["only_target"],
        serde_json::json!(["ONLY_PRODUCTION"])
    );
    assert_eq!(summary["differ"], serde_json::json!(["LOG_LEVEL"]));
    assert_eq!(summary["allowed"], serde_json::json!(["api.host"]));
    assert_eq!(summary["critical"], serde_json::json!([]));

    // Drift in critical keys (one differing, one only in the target):
    // FAIL, exit 1.
    repo.write(
        "production.env",
        "SAME=1\nLOG_LEVEL=debug\nONLY_STAGING=1\napi.host=api.example\nDB_POOL=50\nDB_REPLICA=db2\n",
    );
    let out = parity(&repo, "staging", "production")
        .stdout_has(row("DB_POOL", "FAIL"))
        .stdout_has("differs: \"10\" in staging, \"50\" in production (critical) |")
        .stdout_has(row("DB_REPLICA", "FAIL"))
        .stdout_has("only in production (critical) |")
        .stdout_has(row("api.host", "OK"))
        .stdout_has(row("summary", "FAIL"))
        .stdout_has("2 drifted (2 critical)")
        .stdout_has(DRIFT)
        .blocked();
    assert_eq!(
        row_ids(&out),
        ["DB_POOL", "DB_REPLICA", "api.host", "summary"],
        "{}",
        context(&out)
    );
    let out = parity(&repo, "staging", "production")
        .args(["--format", "json"])
        .blocked();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "DRIFT", "{doc:#}");
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    assert_eq!(json_check(&doc, "DB_POOL")["details"]["critical"], true);
    assert_eq!(
        json_check(&doc, "DB_REPLICA")["details"]["drift"],
        "only_target"
    );
    assert_eq!(
        json_check(&doc, "summary")["details"]["critical"],
        serde_json::json!(["DB_POOL", "DB_REPLICA"])
    );

    // The other way round, the key is only in the source.
    parity(&repo, "production", "staging")
        .stdout_has(row("DB_REPLICA", "FAIL"))
        .stdout_has("only in production (critical) |")
        .stdout_has(DRIFT)
        .blocked();
}

// ---------------------------------------------------------------- secrets

#[test]
fn a_secret_by_its_name_is_compared_but_its_values_never_shown() {
    let staging_pw = "pw-staging-Qx7v2Lm9";
    let production_pw = "pw-production-Rt4k8Zc1";
    let shared_token = "tok-shared-Hn3w6Jd5";
    let repo = Repo::with_config(
        "[parity.env.staging]\nsources = [{ file = \"staging.env\" }]\n\n\
         [parity.env.production]\nsources = [{ file = \"production.json\" }]\n",
    );
    repo.write(
        "staging.env",
        &format!(
            "DB_PASSWORD={staging_pw}\nAPI_TOKEN={shared_token}\n\
             NOTE=rotated {staging_pw} on monday\n"
        ),
    );
    repo.write(
        "production.json",
        &format!(
            r#"{{"DB_PASSWORD": "{production_pw}", "API_TOKEN": "{shared_token}",
                "NOTE": "rotated {production_pw} on tuesday"}}"#
        ),
    );
    let report = repo.scratch().join("parity-report.json");
    for format in ["table", "json"] {
        let out = parity(&repo, "staging", "production")
            .env("RUST_LOG", "trace")
            .args(["-vvv", "--format", format, "--report"])
            .arg(&report)
            .nowhere(staging_pw)
            .nowhere(production_pw)
            .nowhere(shared_token)
            .safe();
        let written = std::fs::read_to_string(&report).expect("the --report file");
        for value in [staging_pw, production_pw, shared_token] {
            assert!(
                !written.contains(value),
                "{value} in the report:\n{written}"
            );
        }
        no_digest_shown(&out, &written);
        let doc: Value = serde_json::from_str(&written).expect("the report is JSON");
        secret_row(
            &doc,
            "DB_PASSWORD",
            "WARN",
            "differs (a secret: compared by keyed hash, values not shown)",
        );
        // A value that embeds a secret is shown with the secret masked.
        let note = json_check(&doc, "NOTE")["message"].as_str().unwrap_or("");
        assert_eq!(
            note,
            "differs: \"rotated *** on monday\" in staging, \"rotated *** on tuesday\" in production",
            "{doc:#}"
        );
        // The equal secret is no row, but it was compared.
        assert!(
            doc["checks"]
                .as_array()
                .is_some_and(|c| c.iter().all(|c| c["id"] != "API_TOKEN")),
            "{doc:#}"
        );
        assert!(
            json_check(&doc, "summary")["message"]
                .as_str()
                .is_some_and(|m| m.contains("2 secret values compared by keyed hash")),
            "{doc:#}"
        );
    }
}

// ---------------------------------------------------------- sources, order

#[test]
fn a_later_source_overrides_an_earlier_one_and_a_command_is_read() {
    let config = [
        env(
            "staging",
            &[
                file("base.env"),
                file("override.json"),
                command(&["sh", "-c", "echo 'export C=from-command'; cat extra.env"]),
            ],
        ),
        env("base", &[file("base.env")]),
        env("production", &[file("production.toml")]),
    ]
    .concat();
    let repo = Repo::with_config(&config);
    repo.write("base.env", "A=1\nB=from-base\nC=from-base\n");
    repo.write("override.json", r#"{"B": "from-json"}"#);
    // Read by the command: it runs from the repository root.
    repo.write("extra.env", "D=\"quoted value\"\n");
    repo.write(
        "production.toml",
        "A = 1\nB = \"from-json\"\nC = \"from-command\"\nD = \"quoted value\"\n",
    );
    repo.write("sub/dir/.keep", "");

    let out = parity(&repo, "staging", "production")
        .dir(&repo.path.join("sub/dir"))
        .stdout_has("staging vs production: 4 keys, 4 the same, 0 drifted")
        .stdout_has(PASS)
        .safe();
    assert_eq!(row_ids(&out), ["summary"], "{}", context(&out));

    parity(&repo, "staging", "base")
        .stdout_has(row("B", "WARN"))
        .stdout_has("differs: \"from-json\" in staging, \"from-base\" in base")
        .stdout_has(row("C", "WARN"))
        .stdout_has("differs: \"from-command\" in staging, \"from-base\" in base")
        .stdout_has(row("D", "WARN"))
        .stdout_has("only in staging")
        .stdout_lacks(row("A", ""))
        .safe();
}

#[test]
fn a_failing_command_source_fails_naming_it() {
    let config = [
        env("production", &[file("production.env")]),
        env(
            "exits",
            &[command(&["sh", "-c", "echo A=1; echo broken >&2; exit 3"])],
        ),
        env("absent", &[command(&["no-such-parity-source-cmd"])]),
        env("garbled", &[command(&["echo", "not a key value line"])]),
    ]
    .concat();
    let repo = Repo::with_config(&config);
    repo.write("production.env", "A=1\n");

    let why = cannot_compare(&repo, "exits", "production");
    assert!(why.starts_with("exits: cannot read a source: "), "{why}");
    assert!(
        why.contains("sh -c echo A=1; echo broken >&2; exit 3"),
        "{why}"
    );
    assert!(why.contains("exit 3"), "{why}");

    let why = cannot_compare(&repo, "production", "absent");
    assert!(why.starts_with("absent: cannot read a source: "), "{why}");
    assert!(why.contains("no-such-parity-source-cmd"), "{why}");
    assert!(why.contains("could not start"), "{why}");

    let why = cannot_compare(&repo, "garbled", "production");
    assert!(why.contains("echo not a key value line"), "{why}");
    assert!(why.contains("line 1: not KEY=VALUE"), "{why}");
}

#[test]
fn a_source_file_that_cannot_be_read_fails_naming_it() {
    let config = [
        env("production", &[file("production.env")]),
        env("missing", &[file("production.env"), file("missing.env")]),
        env("badjson", &[file("broken.json")]),
        env("badyaml", &[file("broken.yaml")]),
        env("badtoml", &[file("broken.toml")]),
        env("folder", &[file("conf")]),
        env("scalarjson", &[file("scalar.json")]),
        env("listyaml", &[file("list.yaml")]),
        env("locked", &[file("locked.env")]),
    ]
    .concat();
    let repo = Repo::with_config(&config);
    repo.write("production.env", "A=1\n");
    repo.write("broken.json", "{\"A\": ");
    repo.write("broken.yaml", "A: [1,\n  b: : :\n");
    repo.write("broken.toml", "A = \n");
    repo.write("conf/.keep", "");
    // Valid JSON and YAML, but no keys: a scalar would be a key named "".
    repo.write("scalar.json", "42\n");
    repo.write("list.yaml", "A: 1\n---\n- 1\n- 2\n");
    repo.write("locked.env", "A=1\n");

    for (env, file, reason) in [
        ("missing", "missing.env", "no such file"),
        ("badjson", "broken.json", "not valid JSON"),
        ("badyaml", "broken.yaml", "not valid YAML"),
        ("badtoml", "broken.toml", "not valid TOML"),
        ("folder", "conf", "a directory"),
        (
            "scalarjson",
            "scalar.json",
            "the top level is not an object of keys",
        ),
        (
            "listyaml",
            "list.yaml",
            "a document is not a mapping of keys",
        ),
    ] {
        for (source, target) in [(env, "production"), ("production", env)] {
            let why = cannot_compare(&repo, source, target);
            assert!(
                why.starts_with(&format!("{env}: cannot read a source: {file}: ")),
                "{env}: {why}"
            );
            assert!(why.contains(reason), "{env}: {why}");
        }
    }

    let locked = repo.path.join("locked.env");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000))
        .expect("chmod 000");
    // Root reads a file whatever its mode: the run is held to it.
    let out = held_to_file_modes()
        .dir(&repo.path)
        .args(["parity", "--source", "locked", "--target", "production"])
        .stdout_has(DRIFT)
        .blocked();
    let why = the_one_failure(&out);
    assert!(
        why.starts_with("locked: cannot read a source: locked.env: "),
        "{why}"
    );
    assert!(why.contains("Permission denied"), "{why}");
}

// ------------------------------------------------------ names and config

#[test]
fn an_unknown_environment_fails_listing_the_configured_ones() {
    let repo = Repo::with_config(DRIFT_CONFIG);
    repo.write("staging.env", "A=1\n");
    repo.write("production.env", "A=1\n");
    for (source, target) in [("stagin", "production"), ("staging", "prod")] {
        let unknown = if source == "stagin" { source } else { target };
        let why = cannot_compare(&repo, source, target);
        assert_eq!(
            why,
            format!("no [parity.env.{unknown}] sources; configured: production, staging")
        );
    }

    let bare = Repo::new();
    let why = cannot_compare(&bare, "staging", "production");
    assert_eq!(why, "no [parity.env.staging] sources; configured: none");
}

#[test]
fn a_parity_config_problem_names_its_key() {
    let repo = Repo::with_config(
        "[parity]\ncritical = [\"DB_[\"]\n\n\
         [parity.env.staging]\nsources = [{ file = \"a.env\", command = [\"true\"] }]\n\n\
         [parity.env.production]\nsources = [{ file = \"a.env\" }]\n",
    );
    repo.write("a.env", "A=1\n");
    for format in ["table", "json"] {
        let out = parity(&repo, "staging", "production")
            .args(["--format", format])
            .stderr_has("parity.env.staging.sources[0]: set exactly one of file and command")
            .stderr_has("parity.critical[0]: invalid glob \"DB_[\"")
            .stderr_lacks("panicked")
            .blocked();
        if format == "json" {
            let doc = json_of(&out);
            assert_eq!(doc["exit_code"], 1, "{doc:#}");
            assert!(
                doc["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("parity.env.staging.sources[0]")),
                "{doc:#}"
            );
        } else {
            assert!(out.stdout.is_empty(), "{}", context(&out));
        }
    }

    // An unknown key, with where it is.
    let repo = Repo::with_config(
        "[parity]\ncritcal = [\"DB_*\"]\n\n[parity.env.staging]\nsources = [{ file = \"a.env\" }]\n",
    );
    parity(&repo, "staging", "staging")
        .stdout("")
        .stderr_has("release-sentinel.toml:2:1")
        .stderr_has("critcal")
        .blocked();
}

#[test]
fn a_secret_declared_by_a_glob_is_compared_but_its_values_never_shown() {
    // `LICENSE_CODE` does not look like a secret: only the declaration
    // makes it one. `parity.sensitive` lists key names, not values.
    let staging = "lic-staging-Vb8n3Kq6";
    let production = "lic-production-Wc9m4Lr7";
    let repo = Repo::with_config(
        "[parity]\nsensitive = [\"LICENSE_*\", \"*.signing_key\"]\ncritical = [\"LICENSE_*\"]\n\n\
         [parity.env.staging]\nsources = [{ file = \"staging.yaml\" }]\n\n\
         [parity.env.production]\nsources = [{ file = \"production.yaml\" }]\n",
    );
    repo.write(
        "staging.yaml",
        &format!("LICENSE_CODE: {staging}\nLICENSE_SEATS: \"{production}\"\n"),
    );
    repo.write(
        "production.yaml",
        &format!("LICENSE_CODE: {production}\nLICENSE_SEATS: \"{production}\"\n"),
    );
    let report = repo.scratch().join("parity-report.json");
    for format in ["table", "json"] {
        let out = parity(&repo, "staging", "production")
            .env("RUST_LOG", "trace")
            .args(["-vvv", "--format", format, "--report"])
            .arg(&report)
            .stderr_lacks("parity.sensitive")
            .nowhere(staging)
            .nowhere(production)
            .blocked();
        let written = std::fs::read_to_string(&report).expect("the --report file");
        assert!(!written.contains(staging) && !written.contains(production));
        no_digest_shown(&out, &written);
        let doc: Value = serde_json::from_str(&written).expect("the report is JSON");
        secret_row(
            &doc,
            "LICENSE_CODE",
            "FAIL",
            "differs (a secret: compared by keyed hash, values not shown) (critical)",
        );
        // Equal secret values: no row.
        assert!(
            doc["checks"]
                .as_array()
                .is_some_and(|c| c.iter().all(|c| c["id"] != "LICENSE_SEATS")),
            "{doc:#}"
        );
    }
}

#[test]
fn a_credential_written_in_parity_sensitive_is_still_refused() {
    let token = format!("ghp_{}", "0123456789abcdefghijABCDEFGHIJ012345");
    let repo = Repo::with_config(&format!(
        "[parity]\nsensitive = [\"LICENSE_*\", \"{token}\"]\n\n\
         [parity.env.staging]\nsources = [{{ file = \"a.env\" }}]\n"
    ));
    repo.write("a.env", "A=1\n");
    parity(&repo, "staging", "staging")
        .stdout("")
        .stderr_has("parity.sensitive[1]: looks like a literal secret")
        .stderr_lacks("parity.sensitive[0]")
        .nowhere(token)
        .blocked();
}

#[test]
fn an_environment_whose_sources_give_no_key_is_not_a_pass() {
    // A command that prints nothing (a wrong context, an empty answer) and
    // a file of comments: nothing was compared, so parity did not pass.
    let config = [
        env("production", &[file("production.env")]),
        env("silent", &[command(&["true"])]),
        env("comments", &[file("comments.env")]),
    ]
    .concat();
    let repo = Repo::with_config(&config);
    repo.write("production.env", "A=1\n");
    repo.write("comments.env", "# nothing here yet\n\n");
    for (source, target, empty) in [
        ("silent", "comments", "silent"),
        ("silent", "production", "silent"),
        ("production", "comments", "comments"),
    ] {
        let why = cannot_compare(&repo, source, target);
        assert_eq!(
            why,
            format!("{empty}: its sources gave no key: nothing to compare")
        );
    }
}

// ------------------------------------------------------- hostile sources

/// A YAML file whose anchors expand nine times per line: `levels` lines
/// of aliases over a first line of nine scalars (9^(levels+1) nodes).
fn yaml_bomb(levels: usize) -> String {
    let mut text = String::from(
        "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..=levels {
        let refs = vec![format!("*a{}", i - 1); 9].join(",");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text
}

#[test]
fn a_yaml_bomb_and_a_long_alias_chain_are_refused_by_name() {
    // The billion laughs: 10 lines, 9^9 nodes once expanded. And a chain
    // of anchors, each naming the one before twice (2^2000 nodes in a few
    // KB).
    let mut chain = String::from("c0: &c0 [x, y]\n");
    for i in 1..2000 {
        chain.push_str(&format!("c{i}: &c{i} [*c{}, *c{}]\n", i - 1, i - 1));
    }
    for (name, text) in [("bomb", yaml_bomb(8)), ("chain", chain)] {
        let repo = Repo::new();
        repo.write(&format!("cfg/{name}.yaml"), &text);
        repo.write("cfg/prod.env", "A=1\n");
        repo.config(&format!(
            "{}{}",
            env("staging", &[file(&format!("cfg/{name}.yaml"))]),
            env("production", &[file("cfg/prod.env")])
        ));
        let started = std::time::Instant::now();
        let out = parity(&repo, "staging", "production").blocked();
        let m = the_one_failure(&out);
        assert!(
            m.starts_with(&format!(
                "staging: cannot read a source: cfg/{name}.yaml: its aliases expand to more than"
            )),
            "{name}: {m}"
        );
        assert!(m.contains("refused (a YAML bomb?)"), "{name}: {m}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn anchors_used_as_people_use_them_still_read() {
    // Defaults shared by several services through aliases: well within
    // the bound, read as before.
    let repo = Repo::new();
    repo.write(
        "cfg/staging.yaml",
        "defaults: &d {replicas: 2, image: app}\nweb: *d\nworker: *d\nlist: &l [1, 2]\nagain: *l\n",
    );
    repo.write(
        "cfg/prod.env",
        "defaults.replicas=2\ndefaults.image=app\nweb.replicas=2\nweb.image=app\n\
         worker.replicas=2\nworker.image=app\nlist.0=1\nlist.1=2\nagain.0=1\nagain.1=2\n",
    );
    repo.config(&format!(
        "{}{}",
        env("staging", &[file("cfg/staging.yaml")]),
        env("production", &[file("cfg/prod.env")])
    ));
    let out = parity(&repo, "staging", "production")
        .stdout_has(PASS)
        .safe();
    assert!(
        message_of(&out.stdout, "summary").contains("10 keys, 10 the same"),
        "{}",
        context(&out)
    );
}

#[test]
fn many_one_sided_keys_give_a_bounded_number_of_rows_and_every_key_in_the_summary() {
    // 20,000 keys only in staging (one of them critical, far down the
    // list): 200 rows of keys, critical first, one row for the rest; the
    // summary's details name all 20,000.
    let repo = Repo::new();
    let keys: serde_json::Map<String, Value> = (0..20_000)
        .map(|i| (format!("k{i:05}"), Value::from(i)))
        .collect();
    repo.write("cfg/staging.json", &Value::Object(keys).to_string());
    repo.write("cfg/prod.env", "k00000=0\n");
    repo.config(&format!(
        "[parity]\ncritical = [\"k19999\"]\n{}{}",
        env("staging", &[file("cfg/staging.json")]),
        env("production", &[file("cfg/prod.env")])
    ));
    let out = parity(&repo, "staging", "production")
        .stdout_has(row("k19999", "FAIL"))
        .stdout_has(row("more_keys", "WARN"))
        .stdout_has(DRIFT)
        .blocked();
    let ids = row_ids(&out);
    assert_eq!(ids.len(), 200 + 2, "200 keys, more_keys, summary");
    assert_eq!(
        message_of(&out.stdout, "more_keys"),
        "19799 keys more beyond the first 200 shown: 19799 drifted (0 critical), 0 allowed to differ; the summary's details name every key"
    );
    let doc = json_of(
        &parity(&repo, "staging", "production")
            .args(["--format", "json"])
            .blocked(),
    );
    let summary = json_check(&doc, "summary");
    assert_eq!(
        summary["details"]["only_source"].as_array().map(Vec::len),
        Some(19_999)
    );
}

#[test]
fn a_source_file_out_of_the_repository_is_refused_by_its_key() {
    let repo = Repo::new();
    let outside = repo.outside("prod.env", "A=1\n");
    repo.write("cfg/staging.env", "A=1\n");
    repo.config(&format!(
        "{}{}{}",
        env("staging", &[file("cfg/staging.env")]),
        env("production", &[file(&outside.display().to_string())]),
        env("qa", &[file("../prod.env")])
    ));
    parity(&repo, "staging", "production")
        .stderr_has(format!(
            "parity.env.production.sources[0].file: \"{}\": an absolute path",
            outside.display()
        ))
        .stderr_has(
            "parity.env.qa.sources[0].file: \"../prod.env\": a path that climbs out with ..",
        )
        .blocked();
}
