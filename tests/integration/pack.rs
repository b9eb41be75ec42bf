//! The pre-live pack (`--dry-run`) on real processes and real repositories:
//! configured steps (pass, fail, cannot start, timeout, a grandchild that
//! holds the pipes, interruption, captured output), the built-in steps,
//! and the secrets scan on planted files.
//!
//! Steps write their pids, markers and records into a scratch folder
//! outside the work tree, named by `$OUT`. Every process of a step inherits
//! that variable, so `/proc/*/environ` tells which processes are the
//! test's: [`assert_no_survivors`] proves that nothing of a step is left
//! running, and a [`Reaper`] kills whatever is still alive when a test
//! ends, pass or fail, so a failing test leaves nothing behind either.
//!
//! Planted credentials are built from pieces at run time: this file must
//! not itself hold a literal credential the scan would flag.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{
    Reaper, Repo, Sentinel, Server, assert_no_survivors, base_env, context, gone_soon, json_of,
    message_of, read_pid, row, signal, survivors, toml_str,
};

/// The pack's documented example, byte for byte.
const PACK_EXAMPLE: &str = "\
============================================================
PRE-LIVE PACK DRY-RUN RESULTS
============================================================

| param_sweep_dry           | OK   |
| tuning_apply_dry          | OK   |
| chaos_failover_dry        | OK   |
| rotate_artifacts_dry      | OK   |
| scan_secrets_dry          | OK   |

------------------------------------------------------------
| pre_live_pack             | OK   | PRE_LIVE_PACK=DRYRUN |
------------------------------------------------------------
";

const EXAMPLE_STEPS: &[&str] = &[
    "param_sweep_dry",
    "tuning_apply_dry",
    "chaos_failover_dry",
    "rotate_artifacts_dry",
    "scan_secrets_dry",
];

const PACK_OK: &str = "| pre_live_pack             | OK   | PRE_LIVE_PACK=DRYRUN |";
const PACK_FAIL: &str = "| pre_live_pack             | FAIL | PRE_LIVE_PACK=FAIL |";

/// How long a run that must be prompt may take: a 1 s timeout, the 1 s
/// grace and the drain come to about 2 s; more than 3x that leaves room
/// for a loaded 2-core machine and is still far below the 30-60 s the
/// steps would otherwise run.
const PROMPT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- helpers

/// `[[pack.steps]]` running `line` through the shell.
fn shell_step(name: &str, line: &str) -> String {
    format!(
        "[[pack.steps]]\nname = {}\nshell = true\nrun = {}\n\n",
        toml_str(name),
        toml_str(line)
    )
}

/// `[[pack.steps]]` running `line` through the shell with a timeout.
fn shell_step_timeout(name: &str, line: &str, timeout: &str) -> String {
    format!(
        "[[pack.steps]]\nname = {}\nshell = true\nrun = {}\ntimeout = {}\n\n",
        toml_str(name),
        toml_str(line),
        toml_str(timeout)
    )
}

/// `[[pack.steps]]` running an argument list.
fn argv_step(name: &str, argv: &[&str]) -> String {
    let args: Vec<String> = argv.iter().map(|a| toml_str(a)).collect();
    format!(
        "[[pack.steps]]\nname = {}\nrun = [{}]\n\n",
        toml_str(name),
        args.join(", ")
    )
}

/// `step` (TOML text) with `env = <table>` added.
fn with_env(step: String, table: &str) -> String {
    format!("{}\nenv = {table}\n\n", step.trim_end())
}

/// A step that records that it ran: `$OUT/<name>.ran`.
fn marker_step(name: &str) -> String {
    shell_step(name, &format!("touch \"$OUT/{name}.ran\""))
}

/// [`Sentinel::dry_run`] for another environment and version.
fn pack_for(repo: &Repo, env: &str, version: &str) -> Sentinel {
    Sentinel::new()
        .dir(&repo.path)
        .env("OUT", repo.scratch())
        .args(["--env", env, "--version", version, "--dry-run"])
}

/// `--dry-run` in `repo` with the embedded default's variables set (the
/// built-in steps' health checks pass against live things).
fn builtin_pack(repo: &Repo) -> Sentinel {
    Sentinel::in_repo(repo).args(["--env", "prod", "--version", "v1.0.0", "--dry-run"])
}

/// A repository whose pack runs the step `first`, then the marker step
/// `after` (which shows whether the pack went on).
fn then_after(first: String) -> Repo {
    Repo::with_config(&format!("{first}{}", marker_step("after")))
}

/// The row of the marker step `after` that passed, as a whole line.
fn after_ok() -> String {
    format!("{}\n", row("after", "OK"))
}

fn ran(repo: &Repo, name: &str) -> bool {
    repo.scratch().join(format!("{name}.ran")).exists()
}

/// The `steps` array of a pack's JSON document.
fn steps_of(doc: &Value) -> &Vec<Value> {
    doc["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {doc:#}"))
}

/// The step `id` in a pack's JSON document.
fn step_of<'a>(doc: &'a Value, id: &str) -> &'a Value {
    steps_of(doc)
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {doc:#}"))
}

fn step_ids(doc: &Value) -> Vec<String> {
    steps_of(doc)
        .iter()
        .map(|s| s["id"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The ids of the rows of a pack table, in order.
fn row_ids(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| pre_live_pack "))
        .map(|l| l[2..].split(" |").next().unwrap_or("").trim().to_string())
        .collect()
}

#[test]
fn the_survivor_check_sees_a_process_of_the_test() {
    // The check the process tests rely on finds a tagged process, in its
    // own session too.
    let repo = Repo::new();
    let mut reaper = Reaper::for_repo(&repo);
    let pid = reaper.spawn(
        Command::new("setsid")
            .args(["sleep", "30"])
            .env_clear()
            .envs(base_env()),
    );
    let until = Instant::now() + Duration::from_secs(5);
    while !survivors(&repo.scratch()).contains(&pid) {
        assert!(Instant::now() < until, "sleep {pid} is not seen");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(reaper);
    assert!(gone_soon(pid));
    assert_no_survivors(&repo);
}

// ------------------------------------------------------- configured steps

#[test]
fn five_passing_steps_print_the_documented_example_byte_for_byte() {
    let config: String = EXAMPLE_STEPS
        .iter()
        .map(|s| argv_step(s, &["true"]))
        .collect();
    let repo = Repo::with_config(&config);
    Sentinel::dry_run(&repo)
        .stdout(PACK_EXAMPLE)
        .stderr_empty()
        .safe();
}

#[test]
fn a_failing_step_fails_the_pack_and_the_next_step_still_runs() {
    let repo = then_after(shell_step("breaks", "exit 3"));
    Sentinel::dry_run(&repo)
        .stdout_has("| breaks                    | FAIL | exit 3 |\n")
        .stdout_has(after_ok())
        .stdout_has(format!("\n\n{}\n{PACK_FAIL}\n", "-".repeat(60)))
        .stdout_lacks("PRE_LIVE_PACK=DRYRUN")
        .blocked();
    assert!(
        ran(&repo, "after"),
        "the step after the failure did not run"
    );
}

#[test]
fn fail_fast_stops_the_pack_at_the_first_failed_step_in_both_forms() {
    let repo = Repo::with_config(&format!(
        "{}{}{}",
        marker_step("before"),
        shell_step("breaks", "exit 3"),
        marker_step("after")
    ));
    let skipped =
        "| after                     | SKIP | not run: breaks did not pass (--fail-fast) |\n";
    for form in [&["--dry-run"][..], &["pack"][..]] {
        let _ = std::fs::remove_file(repo.scratch().join("before.ran"));
        Sentinel::new()
            .dir(&repo.path)
            .env("OUT", repo.scratch())
            .args(form)
            .args(["--env", "prod", "--version", "v1.0.0", "--fail-fast"])
            .stdout_has("| breaks                    | FAIL | exit 3 |\n")
            .stdout_has(skipped)
            .stdout_has(PACK_FAIL)
            .blocked();
        assert!(ran(&repo, "before"), "{form:?}: the first step did not run");
        assert!(
            !ran(&repo, "after"),
            "{form:?}: a step ran after the failure"
        );
    }
}

#[test]
fn a_step_that_cannot_start_fails_and_the_next_step_still_runs() {
    let repo = then_after(argv_step("missing", &["no-such-program-rs-test", "--flag"]));
    let out = Sentinel::dry_run(&repo)
        .stdout_has(row("missing", "FAIL"))
        .stdout_has(after_ok())
        .stdout_has(PACK_FAIL)
        .blocked();
    let message = message_of(&out.stdout, "missing");
    assert!(
        message.starts_with("could not start: ") && message.contains("no-such-program-rs-test"),
        "{message}"
    );
    assert!(
        ran(&repo, "after"),
        "the step after the failure did not run"
    );
}

#[test]
fn steps_run_in_order_from_the_root_with_the_pack_variables_and_their_own() {
    // Each step appends its name to $OUT/order and saves its directory
    // and environment.
    let record = |name: &str| {
        format!(
            "echo {name} >> \"$OUT/order\"; pwd -P > \"$OUT/{name}.pwd\"; env > \"$OUT/{name}.env\""
        )
    };
    // The second step has variables of its own, one referencing $WHO.
    let second = with_env(
        shell_step("second", &record("second")),
        "{ GREETING = \"hello-${WHO}\", PLAIN = \"plain-value\" }",
    );
    let config = format!(
        "{}{second}{}",
        argv_step("first", &["sh", "-c", &record("first")]),
        argv_step("third", &["sh", "-c", &record("third")]),
    );
    let repo = Repo::new();
    repo.write("deep/er/keep.txt", "x\n");
    repo.config(&config);
    pack_for(&repo, "stage", "v2.3.4")
        .dir(&repo.path.join("deep/er"))
        .env("WHO", "world")
        .stdout_has(PACK_OK)
        .safe();

    let scratch = repo.scratch();
    let order = std::fs::read_to_string(scratch.join("order")).expect("order file");
    assert_eq!(order, "first\nsecond\nthird\n");

    let root = repo.path.canonicalize().expect("canonical root");
    for name in ["first", "second", "third"] {
        let pwd = std::fs::read_to_string(scratch.join(format!("{name}.pwd"))).expect("pwd");
        assert_eq!(Path::new(pwd.trim()), root, "{name} ran elsewhere");
        let env = std::fs::read_to_string(scratch.join(format!("{name}.env"))).expect("env");
        let lines: Vec<&str> = env.lines().collect();
        for want in ["RS_DRY_RUN=1", "RS_ENV=stage", "RS_VERSION=v2.3.4"] {
            assert!(lines.contains(&want), "{name} lacks {want}:\n{env}");
        }
        let own = lines.contains(&"GREETING=hello-world") && lines.contains(&"PLAIN=plain-value");
        if name == "second" {
            assert!(own, "the step's env is missing or unexpanded:\n{env}");
        } else {
            assert!(
                !env.contains("GREETING=") && !env.contains("PLAIN="),
                "{name} sees another step's env:\n{env}"
            );
        }
    }
}

/// Runs the pack of `repo`, whose step `step` times out after 1 s and
/// whose step `after` then passes: the pack fails, promptly; how long the
/// run took.
fn timed_out_run(repo: &Repo, step: &str) -> Duration {
    let start = Instant::now();
    Sentinel::dry_run(repo)
        .stdout_has(format!("| {step:<25} | FAIL | timed out after 1s |\n"))
        .stdout_has(after_ok())
        .stdout_has(PACK_FAIL)
        .blocked();
    let took = start.elapsed();
    assert!(took < PROMPT, "the run took {took:?}");
    took
}

/// Nothing the pack of `repo` started is left, and the step `after` ran.
fn nothing_left_and_went_on(repo: &Repo) {
    assert_no_survivors(repo);
    assert!(ran(repo, "after"), "the step after the timeout did not run");
}

#[test]
fn a_timeout_kills_the_step_and_its_grandchild_and_the_pack_goes_on() {
    let repo = then_after(shell_step_timeout(
        "sleeper",
        "sleep 60 & echo $! > \"$OUT/gc.pid\"; echo $$ > \"$OUT/sh.pid\"; sleep 60",
        "1s",
    ));
    let scratch = repo.scratch();
    let _reaper = Reaper::for_repo(&repo);
    let took = timed_out_run(&repo, "sleeper");
    assert!(
        took >= Duration::from_millis(900),
        "the step ended before its timeout: {took:?}"
    );
    let shell = read_pid(&scratch.join("sh.pid"));
    let grandchild = read_pid(&scratch.join("gc.pid"));
    assert!(gone_soon(shell), "the step's shell {shell} survived");
    assert!(
        gone_soon(grandchild),
        "the grandchild {grandchild} survived"
    );
    nothing_left_and_went_on(&repo);
}

#[test]
fn a_timed_out_step_gets_sigterm_first_and_can_clean_up() {
    // The shell waits in `wait`, which a trapped signal interrupts.
    let repo = then_after(shell_step_timeout(
        "tidy",
        "trap 'echo cleaned > \"$OUT/tidy.cleanup\"; exit 0' TERM; sleep 60 & wait",
        "1s",
    ));
    let _reaper = Reaper::for_repo(&repo);
    timed_out_run(&repo, "tidy");
    assert!(
        repo.scratch().join("tidy.cleanup").exists(),
        "the step did not get SIGTERM before SIGKILL"
    );
    nothing_left_and_went_on(&repo);
}

#[test]
fn a_step_that_ignores_sigterm_is_killed_after_the_grace() {
    // The shell and its children ignore SIGTERM: only SIGKILL, one grace
    // period (1 s) after the timeout, ends them.
    let repo = then_after(shell_step_timeout(
        "stubborn",
        "trap '' TERM; sleep 60 & echo $! > \"$OUT/gc.pid\"; sleep 60",
        "1s",
    ));
    let _reaper = Reaper::for_repo(&repo);
    let took = timed_out_run(&repo, "stubborn");
    assert!(
        took >= Duration::from_millis(1800),
        "SIGKILL came before the grace was over: {took:?}"
    );
    nothing_left_and_went_on(&repo);
}

#[test]
fn a_grandchild_that_left_the_group_cannot_hold_the_pack() {
    // The escaped process keeps the step's stdout and stderr open for 30 s;
    // it is documented as not killed, so the test kills it.
    let repo = then_after(shell_step(
        "escapes",
        "setsid sh -c 'echo $$ > \"$OUT/esc.pid\"; exec sleep 30' & \
             while [ ! -s \"$OUT/esc.pid\" ]; do sleep 0.05; done; echo started",
    ));
    let scratch = repo.scratch();
    let _reaper = Reaper::for_repo(&repo);
    let start = Instant::now();
    let out = Sentinel::dry_run(&repo).args(["--format", "json"]).safe();
    let took = start.elapsed();
    assert!(took < PROMPT, "the run took {took:?}");
    let doc = json_of(&out);
    assert_eq!(step_of(&doc, "escapes")["status"], "OK", "{doc:#}");
    assert_eq!(step_of(&doc, "after")["status"], "OK", "{doc:#}");
    assert!(ran(&repo, "after"));
    let escaped = read_pid(&scratch.join("esc.pid"));
    signal(escaped, "KILL");
    assert!(gone_soon(escaped));
    assert_no_survivors(&repo);
}

#[test]
fn a_background_process_left_by_a_passing_step_is_killed_with_its_group() {
    let repo = then_after(shell_step(
        "leaves",
        "sleep 60 & echo $! > \"$OUT/bg.pid\"; exit 0",
    ));
    let scratch = repo.scratch();
    let _reaper = Reaper::for_repo(&repo);
    let start = Instant::now();
    Sentinel::dry_run(&repo)
        .stdout_has(format!("{}\n", row("leaves", "OK")))
        .stdout_has(PACK_OK)
        .safe();
    assert!(start.elapsed() < PROMPT, "{:?}", start.elapsed());
    let bg = read_pid(&scratch.join("bg.pid"));
    assert!(gone_soon(bg), "the background process {bg} survived");
    assert_no_survivors(&repo);
    assert!(ran(&repo, "after"));
}

// ----------------------------------------------------------- interruption

/// Start a pack whose first step sleeps (with a grandchild), send `signal`
/// once that step runs, and check the report and that nothing survives.
fn interrupted_by(sig: &str, format: &str) {
    let repo = Repo::with_config(&format!(
        "{}{}{}",
        shell_step_timeout(
            "long",
            "sleep 30 & echo $! > \"$OUT/gc.pid\"; echo $$ > \"$OUT/sh.pid\"; sleep 30",
            "60s"
        ),
        marker_step("later_one"),
        marker_step("later_two")
    ));
    let scratch = repo.scratch();
    let mut reaper = Reaper::for_repo(&repo);
    let pid = reaper.spawn(
        &mut Sentinel::dry_run(&repo)
            .args(["--format", format])
            .into_command(),
    );

    // The step is running once both pids are written.
    let shell = read_pid(&scratch.join("sh.pid"));
    let grandchild = read_pid(&scratch.join("gc.pid"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(signal(pid, sig), "kill -{sig} {pid} failed");
    // release-sentinel exits within PROMPT of the signal.
    let out = reaper.wait(PROMPT);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let context = context(&out);
    assert_eq!(out.status.code(), Some(1), "exit after SIG{sig}\n{context}");

    if format == "json" {
        let doc = json_of(&out);
        assert_eq!(doc["kind"], "pack", "{doc:#}");
        assert_eq!(doc["verdict"], "FAIL", "{doc:#}");
        assert_eq!(doc["exit_code"], 1, "{doc:#}");
        assert_eq!(doc["interrupted"], true, "{doc:#}");
        assert_eq!(step_ids(&doc), ["long", "later_one", "later_two"]);
        let long = step_of(&doc, "long");
        assert_eq!(long["status"], "FAIL", "{doc:#}");
        assert_eq!(long["message"], "interrupted", "{doc:#}");
        for later in ["later_one", "later_two"] {
            let s = step_of(&doc, later);
            assert_eq!(s["status"], "SKIP", "{doc:#}");
            assert_eq!(s["message"], "not run: the pack was interrupted", "{doc:#}");
        }
    } else {
        for want in [
            "| long                      | FAIL | interrupted |\n".to_string(),
            "| later_one                 | SKIP | not run: the pack was interrupted |\n"
                .to_string(),
            "| later_two                 | SKIP | not run: the pack was interrupted |\n"
                .to_string(),
            format!("{PACK_FAIL}\n"),
        ] {
            assert!(stdout.contains(&want), "stdout lacks {want:?}\n{context}");
        }
        assert!(stdout.starts_with(&"=".repeat(60)), "{context}");
    }
    assert!(gone_soon(shell), "the step's shell {shell} survived");
    assert!(
        gone_soon(grandchild),
        "the grandchild {grandchild} survived"
    );
    assert_no_survivors(&repo);
    assert!(!ran(&repo, "later_one") && !ran(&repo, "later_two"));
}

#[test]
fn sigint_stops_the_pack_kills_the_step_and_skips_the_rest() {
    interrupted_by("INT", "table");
}

#[test]
fn sigterm_stops_the_pack_kills_the_step_and_skips_the_rest() {
    interrupted_by("TERM", "table");
}

#[test]
fn an_interrupted_pack_says_so_in_json() {
    interrupted_by("TERM", "json");
}

// -------------------------------------------------------- captured output

#[test]
fn a_step_output_is_kept_in_json_scrubbed_and_never_in_the_table() {
    let secret = format!("planted-{}-secret-7781", "step");
    let config = format!(
        "[variables]\nsecret = [\"STEP_SECRET\"]\n\n{}",
        shell_step(
            "talks",
            "echo \"ordinary-out $STEP_SECRET\"; echo \"ordinary-err $STEP_SECRET\" >&2; exit 4"
        )
    );
    let repo = Repo::with_config(&config);

    // The table: the reason, never the output.
    Sentinel::dry_run(&repo)
        .env("STEP_SECRET", &secret)
        .stdout_has("| talks                     | FAIL | exit 4 |\n")
        .stdout_lacks("ordinary-out")
        .stdout_lacks("ordinary-err")
        .nowhere(&secret)
        .blocked();
    Sentinel::dry_run(&repo)
        .env("STEP_SECRET", &secret)
        .env("RUST_LOG", "trace")
        .arg("-vvv")
        .stdout_lacks("ordinary-out")
        .nowhere(&secret)
        .blocked();

    // JSON: the output, scrubbed.
    for trace in [false, true] {
        let mut run = Sentinel::dry_run(&repo)
            .env("STEP_SECRET", &secret)
            .args(["--format", "json"])
            .nowhere(&secret);
        if trace {
            run = run.env("RUST_LOG", "trace").arg("-vvv");
        }
        let out = run.blocked();
        let doc = json_of(&out);
        let details = &step_of(&doc, "talks")["details"];
        assert_eq!(details["stdout"], "ordinary-out ***\n", "{doc:#}");
        assert_eq!(details["stderr"], "ordinary-err ***\n", "{doc:#}");
        assert_eq!(details["exit_code"], 4, "{doc:#}");
    }
}

// ------------------------------------------------------------------- JSON

#[test]
fn json_report_of_a_passing_pack() {
    let repo = Repo::with_config(&format!(
        "{}{}",
        shell_step("greets", "echo hello; echo warning >&2"),
        argv_step("noop", &["true"])
    ));
    let out = Sentinel::dry_run(&repo)
        .args(["--format", "json"])
        .stderr_empty()
        .safe();
    let doc = json_of(&out);
    assert_eq!(doc["kind"], "pack", "{doc:#}");
    assert_eq!(doc["verdict"], "DRYRUN", "{doc:#}");
    assert_eq!(doc["exit_code"], 0, "{doc:#}");
    assert_eq!(doc["interrupted"], false, "{doc:#}");
    assert_eq!(doc["env"], "dev", "{doc:#}");
    assert_eq!(doc["version"], "v1.0.0", "{doc:#}");
    assert_eq!(doc["commit"], repo.head(), "{doc:#}");
    assert!(doc["schema_version"].is_number(), "{doc:#}");
    assert_eq!(step_ids(&doc), ["greets", "noop"]);
    for s in steps_of(&doc) {
        assert_eq!(s["status"], "OK", "{doc:#}");
        assert!(s["message"].is_string(), "{doc:#}");
        assert!(
            s["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
            "{doc:#}"
        );
        assert_eq!(s["details"]["exit_code"], 0, "{doc:#}");
        // The default timeout is 30 s.
        assert_eq!(s["details"]["timeout_ms"], 30_000, "{doc:#}");
    }
    let greets = &step_of(&doc, "greets")["details"];
    assert_eq!(greets["stdout"], "hello\n", "{doc:#}");
    assert_eq!(greets["stderr"], "warning\n", "{doc:#}");
}

#[test]
fn json_report_of_a_failing_pack() {
    let repo = Repo::with_config(&format!(
        "{}{}{}",
        shell_step("breaks", "echo before; exit 3"),
        argv_step("missing", &["no-such-program-rs-test"]),
        argv_step("noop", &["true"])
    ));
    let out = Sentinel::dry_run(&repo)
        .args(["--format", "json"])
        .blocked();
    let doc = json_of(&out);
    assert_eq!(doc["kind"], "pack", "{doc:#}");
    assert_eq!(doc["verdict"], "FAIL", "{doc:#}");
    assert_eq!(doc["exit_code"], 1, "{doc:#}");
    assert_eq!(doc["interrupted"], false, "{doc:#}");
    assert_eq!(step_ids(&doc), ["breaks", "missing", "noop"]);
    let breaks = step_of(&doc, "breaks");
    assert_eq!(breaks["status"], "FAIL", "{doc:#}");
    assert_eq!(breaks["message"], "exit 3", "{doc:#}");
    assert_eq!(breaks["details"]["exit_code"], 3, "{doc:#}");
    assert_eq!(breaks["details"]["stdout"], "before\n", "{doc:#}");
    let missing = step_of(&doc, "missing");
    assert_eq!(missing["status"], "FAIL", "{doc:#}");
    assert!(
        missing["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("could not start: ")),
        "{doc:#}"
    );
    assert!(missing["details"]["exit_code"].is_null(), "{doc:#}");
    assert_eq!(step_of(&doc, "noop")["status"], "OK", "{doc:#}");
}

// ---------------------------------------------------------- config errors

#[test]
fn pack_config_errors_are_all_reported_with_their_key_paths() {
    let config = format!(
        "{}{}{}{}[pack.scan]\nallow = [\"fixtures/[abc\"]\n",
        // A command line without shell = true.
        "[[pack.steps]]\nname = \"a\"\nrun = \"echo hi\"\n\n",
        // An empty command.
        argv_step("b", &[]),
        // The same name again, with a bad timeout.
        shell_step_timeout("a", "true", "soon"),
        marker_step("never")
    );
    let repo = Repo::with_config(&config);
    let keys = [
        "pack.steps[0].run",
        "pack.steps[1].run",
        "pack.steps[2].name",
        "pack.steps[2].timeout",
        "pack.scan.allow[0]",
    ];

    // The table run: every problem is shown somewhere (stdout or stderr).
    let out = Sentinel::dry_run(&repo)
        .stdout_has(row("config_check_dry", "FAIL"))
        .stdout_has(PACK_FAIL)
        .blocked();
    assert!(!ran(&repo, "never"), "a step of an invalid config was run");
    let both = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let missing: Vec<&str> = keys.iter().copied().filter(|k| !both.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "the table run does not name {missing:?}:\n{both}"
    );

    // JSON: all of them at once, in the config step's details.
    let out = Sentinel::dry_run(&repo)
        .args(["--format", "json"])
        .blocked();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "FAIL", "{doc:#}");
    let check = step_of(&doc, "config_check_dry");
    assert_eq!(check["status"], "FAIL", "{doc:#}");
    let text = format!("{} {}", check["message"], check["details"]);
    for k in keys {
        assert!(text.contains(k), "{k} is not reported: {doc:#}");
    }
}

// --------------------------------------------------------- built-in steps

#[test]
fn builtin_steps_pass_on_a_clean_repository() {
    let repo = Repo::new();
    let out = builtin_pack(&repo).stdout_has(PACK_OK).safe();
    assert_eq!(
        row_ids(&out.stdout),
        [
            "config_check_dry",
            "policy_gates_dry",
            "health_checks_dry",
            "scan_secrets_dry"
        ]
    );
    for id in row_ids(&out.stdout) {
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&format!("{}\n", row(&id, "OK"))),
            "{id} is not OK"
        );
    }

    let out = builtin_pack(&repo).args(["--format", "json"]).safe();
    let doc = json_of(&out);
    assert_eq!(doc["verdict"], "DRYRUN", "{doc:#}");
    let scan = step_of(&doc, "scan_secrets_dry");
    assert!(
        scan["message"]
            .as_str()
            .is_some_and(|m| m.contains("files scanned, no secrets found")),
        "{doc:#}"
    );
    assert!(
        scan["details"]["scanned"].as_u64().is_some_and(|n| n >= 1),
        "{doc:#}"
    );
}

#[test]
fn builtin_policy_step_fails_naming_the_gate() {
    let repo = Repo::new();
    let out = Sentinel::in_repo(&repo)
        .args(["--env", "qa", "--version", "v1.0.0", "--dry-run"])
        .stdout_has(row("policy_gates_dry", "FAIL"))
        .stdout_has(format!("{}\n", row("config_check_dry", "OK")))
        .stdout_has(PACK_FAIL)
        .blocked();
    let message = message_of(&out.stdout, "policy_gates_dry");
    assert!(message.contains("env_allowed"), "{message}");
}

#[test]
fn builtin_steps_with_an_invalid_config_fail_and_skip_what_needs_it() {
    let repo = Repo::with_config("environmentz = [\"dev\"]\n");
    let out = builtin_pack(&repo)
        .stdout_has(row("config_check_dry", "FAIL"))
        .stdout_has(row("policy_gates_dry", "SKIP"))
        .stdout_has(row("health_checks_dry", "SKIP"))
        .stdout_has(PACK_FAIL)
        .blocked();
    let message = message_of(&out.stdout, "config_check_dry");
    assert!(message.contains("release-sentinel.toml"), "{message}");
    assert_eq!(
        row_ids(&out.stdout),
        [
            "config_check_dry",
            "policy_gates_dry",
            "health_checks_dry",
            "scan_secrets_dry"
        ]
    );
}

#[test]
fn builtin_health_step_without_health_checks_is_skip_never_ok() {
    let repo = Repo::with_config("environments = [\"dev\", \"stage\", \"prod\"]\n");
    let out = builtin_pack(&repo)
        .stdout_has(format!("{}\n", row("config_check_dry", "OK")))
        .stdout_has(format!("{}\n", row("policy_gates_dry", "OK")))
        .stdout_has(row("health_checks_dry", "SKIP"))
        .stdout_has(format!("{}\n", row("scan_secrets_dry", "OK")))
        .stdout_has(PACK_FAIL)
        .blocked();
    let message = message_of(&out.stdout, "health_checks_dry");
    assert!(
        message.contains("no health checks are configured"),
        "{message}"
    );
}

// ---------------------------------------------------------- secrets scan

/// Credentials of each rule, built from pieces so that this file holds none.
fn planted() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "aws-access-key-id",
            ["AK", "IAIOSFODNN7EXAMPLE"].concat(),
            "keys/aws.txt",
        ),
        (
            "github-token",
            ["gh", "p_", "0123456789abcdefghij", "ABCDEFGHIJ012345"].concat(),
            "keys/github.txt",
        ),
        (
            "private-key",
            ["-----BEGIN RSA ", "PRIVATE KEY-----"].concat(),
            "keys/id_rsa",
        ),
        (
            "slack-token",
            ["xo", "xb-", "1234567890-abcdefghij"].concat(),
            "keys/slack.txt",
        ),
        (
            "stripe-secret-key",
            ["sk", "_live_", "0123456789abcdefABCD"].concat(),
            "keys/stripe.txt",
        ),
    ]
}

fn github_token() -> String {
    ["gh", "p_", "ZYXWVUTSRQponmlkjihg", "fedcba9876543210"].concat()
}

/// The scan step's findings as (path, line, rule, live).
fn findings(doc: &Value) -> Vec<(String, u64, String, bool)> {
    step_of(doc, "scan_secrets_dry")["details"]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {doc:#}"))
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("?").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["rule"].as_str().unwrap_or("?").to_string(),
                f["live"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn finding(path: &str, line: u64, rule: &str, live: bool) -> (String, u64, String, bool) {
    (path.to_string(), line, rule.to_string(), live)
}

#[test]
fn scan_finds_each_rule_and_a_live_secret_first_never_showing_the_secret() {
    let live = format!("live-{}-token-31337", "deploy");
    let repo = Repo::new();
    for (_, secret, path) in planted() {
        repo.write(path, &format!("# credentials\nvalue = {secret}\n"));
    }
    repo.write("zz/deploy.env", &format!("A=1\nB=2\nTOKEN={live}\n"));
    repo.commit_all("plant credentials");

    let mut expected = vec![finding(
        "zz/deploy.env",
        3,
        "live secret RS_DEPLOY_TOKEN",
        true,
    )];
    let mut rest: Vec<_> = planted()
        .into_iter()
        .map(|(rule, _, path)| finding(path, 2, rule, false))
        .collect();
    rest.sort();
    expected.extend(rest);

    for format in ["table", "json"] {
        let mut run = builtin_pack(&repo)
            .env("RS_DEPLOY_TOKEN", &live)
            .env("RUST_LOG", "trace")
            .args(["-vvv", "--format", format])
            .nowhere(&live);
        for (_, secret, _) in planted() {
            run = run.nowhere(secret);
        }
        let out = run.blocked();
        if format == "json" {
            let doc = json_of(&out);
            let scan = step_of(&doc, "scan_secrets_dry");
            assert_eq!(scan["status"], "FAIL", "{doc:#}");
            assert_eq!(findings(&doc), expected, "{doc:#}");
        } else {
            let message = message_of(&out.stdout, "scan_secrets_dry");
            assert!(
                message.starts_with("6 findings: live secret RS_DEPLOY_TOKEN at zz/deploy.env:3"),
                "{message}"
            );
            assert!(
                message.contains("aws-access-key-id at keys/aws.txt:2"),
                "{message}"
            );
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(PACK_FAIL),
                "no final FAIL row"
            );
        }
    }
}

#[test]
fn scan_sees_untracked_files_but_not_ignored_ones() {
    let repo = Repo::new();
    repo.write(".gitignore", "*.secret\n");
    repo.commit_all("ignore");
    repo.write("notes.txt", &format!("{}\n", github_token()));
    repo.write("local.secret", &format!("{}\n", github_token()));
    let out = builtin_pack(&repo)
        .args(["--format", "json"])
        .nowhere(github_token())
        .blocked();
    let doc = json_of(&out);
    assert_eq!(
        step_of(&doc, "scan_secrets_dry")["status"],
        "FAIL",
        "{doc:#}"
    );
    assert_eq!(
        findings(&doc),
        [finding("notes.txt", 1, "github-token", false)],
        "{doc:#}"
    );
}

#[test]
fn scan_skips_binary_and_oversized_files_and_counts_them() {
    let repo = Repo::new();
    let mut binary = b"\x00\x01\x02header\x00\n".to_vec();
    binary.extend_from_slice(github_token().as_bytes());
    binary.push(b'\n');
    std::fs::write(repo.path.join("blob.bin"), binary).expect("write binary");
    let mut big = "filler line\n".repeat(200);
    big.push_str(&format!("{}\n", github_token()));
    repo.write("big.txt", &big);
    repo.config("[pack.scan]\nmax_file_size = \"1KiB\"\n");

    let out = builtin_pack(&repo)
        .args(["--format", "json"])
        .nowhere(github_token())
        .blocked(); // no [health]: health_checks_dry is SKIP
    let doc = json_of(&out);
    let scan = step_of(&doc, "scan_secrets_dry");
    assert_eq!(scan["status"], "OK", "{doc:#}");
    assert_eq!(scan["details"]["skipped_binary"], 1, "{doc:#}");
    assert_eq!(scan["details"]["skipped_large"], 1, "{doc:#}");
    assert!(
        scan["details"]["scanned"].as_u64().is_some_and(|n| n >= 2),
        "{doc:#}"
    );
    assert!(findings(&doc).is_empty(), "{doc:#}");
    let message = scan["message"].as_str().unwrap_or("");
    assert!(message.contains("1 binary, 1 large"), "{message}");
}

#[test]
fn scan_honours_allow_globs_and_the_inline_marker() {
    let token = github_token();
    let aws = ["AK", "IAIOSFODNN7EXAMPLE"].concat();
    let repo = Repo::new();
    repo.write("fixtures/keys/aws.txt", &format!("{aws}\n"));
    repo.write("fixtures/token.txt", &format!("{token}\n"));
    // The glob is anchored at the root: a nested fixtures folder is scanned.
    repo.write("src/fixtures/aws.txt", &format!("x\n{aws}\n"));
    repo.write(
        "docs/example.md",
        &format!(
            "# Example\ntoken = {token}  # {}\nother = {aws}\n",
            ["release-sentinel", ":allow"].concat()
        ),
    );
    repo.config("[pack.scan]\nallow = [\"fixtures/**\"]\n");

    let out = builtin_pack(&repo)
        .args(["--format", "json"])
        .nowhere(&token)
        .nowhere(&aws)
        .blocked();
    let doc = json_of(&out);
    let scan = step_of(&doc, "scan_secrets_dry");
    assert_eq!(scan["status"], "FAIL", "{doc:#}");
    assert_eq!(scan["details"]["allowed"], 2, "{doc:#}");
    assert_eq!(
        findings(&doc),
        [
            finding("docs/example.md", 3, "aws-access-key-id", false),
            finding("src/fixtures/aws.txt", 2, "aws-access-key-id", false),
        ],
        "{doc:#}"
    );
}

#[test]
fn scan_of_a_clean_repository_passes() {
    let repo = Repo::new();
    repo.write(
        "src/main.txt",
        "fn main() {}\nlet key = \"not-a-secret\";\n",
    );
    repo.write("docs/keys.md", "-----BEGIN PUBLIC KEY-----\nAKIA_SHORT\n");
    repo.commit_all("clean files");
    let out = builtin_pack(&repo).args(["--format", "json"]).safe();
    let doc = json_of(&out);
    let scan = step_of(&doc, "scan_secrets_dry");
    assert_eq!(scan["status"], "OK", "{doc:#}");
    assert_eq!(scan["details"]["scanned"], 3, "{doc:#}");
    assert!(findings(&doc).is_empty(), "{doc:#}");
    let message = scan["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("3 files scanned, no secrets found"),
        "{message}"
    );
}

/// An API check that never answers, `[[health.api]]` with the defaults'
/// long budget.
pub(crate) fn hung_api(server: &Server) -> String {
    format!(
        "[[health.api]]\nname = \"hung\"\nurl = {}\ntimeout = \"20s\"\nretries = 1\n",
        toml_str(&server.url("/hang"))
    )
}

#[test]
fn sigint_during_a_builtin_step_stops_the_pack_within_a_moment() {
    let server = Server::start(|x| x.hold());
    let repo = Repo::with_config(&hung_api(&server));
    let mut reaper = Reaper::for_repo(&repo);
    let pid = reaper.spawn(
        &mut Sentinel::dry_run(&repo)
            .args(["--format", "json"])
            .into_command(),
    );
    server.wait_for(1);
    let sent = Instant::now();
    assert!(signal(pid, "INT"));
    let out = reaper.wait(Duration::from_secs(5));
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", context(&out));
    let doc = json_of(&out);
    assert_eq!(doc["interrupted"], true, "{doc:#}");
    let steps = doc["steps"].as_array().expect("steps");
    let health = steps
        .iter()
        .find(|s| s["id"] == "health_checks_dry")
        .expect("the step");
    assert_eq!(health["message"], "interrupted", "{doc:#}");
    let scan = steps
        .iter()
        .find(|s| s["id"] == "scan_secrets_dry")
        .expect("the step");
    assert_eq!(scan["status"], "SKIP", "{doc:#}");
}

#[test]
fn a_builtin_step_runs_beside_configured_ones_when_named() {
    let repo = Repo::with_config(
        "[[pack.steps]]\nname = \"mine\"\nrun = [\"true\"]\n\
         [[pack.steps]]\nname = \"scan_secrets_dry\"\n\
         [pack.scan]\nallow = [\"docs/**\"]\n",
    );
    let key = format!("{}{}", "AKIA", "IOSFODNN7EXAMPLE");
    repo.write("leak.txt", &format!("key = {key}\n"));
    repo.commit_all("leak");
    let out = Sentinel::dry_run(&repo)
        .stdout_has(row("mine", "OK"))
        .stdout_has(row("scan_secrets_dry", "FAIL"))
        .blocked();
    assert!(message_of(&out.stdout, "scan_secrets_dry").contains("leak.txt:1"));
}

#[test]
fn a_scan_setting_no_step_runs_is_a_config_error() {
    let repo = Repo::with_config(
        "[[pack.steps]]\nname = \"mine\"\nrun = [\"true\"]\n[pack.scan]\nallow = [\"x/**\"]\n",
    );
    Sentinel::dry_run(&repo)
        .stderr_has("pack.scan: set, but no step runs the secrets scan")
        .blocked();
}

#[test]
fn a_builtin_step_has_a_timeout() {
    let server = Server::start(|x| x.hold());
    let repo = Repo::with_config(&format!(
        "{}[[pack.steps]]\nname = \"health_checks_dry\"\ntimeout = \"1s\"\n\
         [[pack.steps]]\nname = \"after\"\nrun = [\"true\"]\n",
        hung_api(&server)
    ));
    let start = Instant::now();
    Sentinel::dry_run(&repo)
        .stdout_has("| health_checks_dry         | FAIL | timed out after 1s |")
        .stdout_has(row("after", "OK"))
        .blocked();
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
}
