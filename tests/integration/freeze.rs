//! Deploy freezes (`deploy_window`), the override, the clock
//! (`CI_FAKE_UTC`) and the changelog (`changelog_entry`), through the
//! binary. Every freeze is judged at a fixed instant given by
//! `CI_FAKE_UTC`.

use serde_json::Value;

use crate::harness::{
    Repo, Sentinel, each_row, json_check, json_of, message_of, row, webhook_receiver, whsec,
};

const FAKE: &str = "CI_FAKE_UTC";

/// Fridays 23:00 to Mondays 07:00, Berlin time.
const WEEKEND: &str = "[[policy.freeze]]\nname = \"weekend\"\nfreeze_start = \"0 23 * * 5\"\n\
                       freeze_end = \"0 7 * * 1\"\ntimezone = \"Europe/Berlin\"\n";

/// What to do inside a freeze, as every FAIL says it.
const HOW: &str =
    "to deploy anyway, set RS_FREEZE_OVERRIDE=\"<reason>\" or pass --override-freeze \"<reason>\"";

/// The gate for prod, v1.2.3, at `utc`.
fn at(repo: &Repo, utc: &str) -> Sentinel {
    Sentinel::in_repo(repo)
        .env(FAKE, utc)
        .gate("prod", "v1.2.3")
}

/// The gate at `utc` must pass; returns the deploy_window message.
fn open_at(repo: &Repo, utc: &str) -> String {
    let out = at(repo, utc).stdout_has(row("deploy_window", "OK")).safe();
    message_of(&out.stdout, "deploy_window")
}

/// The gate at `utc` must be blocked by deploy_window; returns its message.
fn frozen_at(repo: &Repo, utc: &str) -> String {
    let out = at(repo, utc)
        .stdout_has(row("deploy_window", "FAIL"))
        .blocked();
    message_of(&out.stdout, "deploy_window")
}

// ------------------------------------------------------------ deploy_window

#[test]
fn inside_a_weekend_freeze_the_gate_is_blocked_and_says_until_when() {
    let repo = Repo::with_config(WEEKEND);
    assert_eq!(
        frozen_at(&repo, "2026-12-05T12:00:00Z"),
        format!("frozen by \"weekend\" until Mon 2026-12-07 07:00 CET (06:00 UTC); {HOW}")
    );
}

#[test]
fn outside_every_freeze_the_gate_passes_and_names_the_next() {
    let repo = Repo::with_config(WEEKEND);
    assert_eq!(
        open_at(&repo, "2026-12-08T09:30:00Z"),
        "not in a freeze; next: \"weekend\" from Fri 2026-12-11 23:00 CET (22:00 UTC) \
         to Mon 2026-12-14 07:00 CET (06:00 UTC)"
    );
}

#[test]
fn the_start_instant_is_frozen_and_the_end_instant_is_not() {
    let repo = Repo::with_config(WEEKEND);
    // Friday 2026-12-04 23:00 CET is 22:00 UTC; Monday 07:00 CET is 06:00 UTC.
    open_at(&repo, "2026-12-04T21:59:59Z");
    frozen_at(&repo, "2026-12-04T22:00:00Z");
    frozen_at(&repo, "2026-12-07T05:59:59Z");
    let message = open_at(&repo, "2026-12-07T06:00:00Z");
    assert!(
        message.contains("next: \"weekend\" from Fri 2026-12-11"),
        "{message}"
    );
}

#[test]
fn daylight_saving_changes_in_berlin_move_the_instants() {
    let repo = Repo::with_config(WEEKEND);
    // The clocks go back on Sunday 2026-10-25: the freeze starts at 23:00
    // CEST (21:00 UTC) and ends at 07:00 CET (06:00 UTC).
    open_at(&repo, "2026-10-23T20:59:00Z");
    frozen_at(&repo, "2026-10-23T21:00:00Z");
    let message = frozen_at(&repo, "2026-10-26T05:30:00Z");
    assert!(
        message.contains("until Mon 2026-10-26 07:00 CET (06:00 UTC)"),
        "{message}"
    );
    open_at(&repo, "2026-10-26T06:00:00Z");
    // They go forward on 2026-03-29: the freeze ends at 07:00 CEST (05:00 UTC).
    let message = frozen_at(&repo, "2026-03-30T04:59:59Z");
    assert!(
        message.contains("until Mon 2026-03-30 07:00 CEST (05:00 UTC)"),
        "{message}"
    );
    open_at(&repo, "2026-03-30T05:00:00Z");
}

#[test]
fn daylight_saving_changes_in_new_york_move_the_instants() {
    let repo = Repo::with_config(
        "[[policy.freeze]]\nname = \"weekend\"\nfreeze_start = \"0 18 * * 5\"\n\
         freeze_end = \"0 9 * * 1\"\ntimezone = \"America/New_York\"\n",
    );
    // Spring forward on 2026-03-08: Monday 09:00 is EDT, 13:00 UTC.
    let message = frozen_at(&repo, "2026-03-09T12:59:59Z");
    assert!(
        message.contains("until Mon 2026-03-09 09:00 EDT (13:00 UTC)"),
        "{message}"
    );
    open_at(&repo, "2026-03-09T13:30:00Z");
    // Fall back on 2026-11-01: Friday 18:00 was EDT (22:00 UTC), Monday
    // 09:00 is EST (14:00 UTC).
    open_at(&repo, "2026-10-30T21:59:00Z");
    frozen_at(&repo, "2026-10-30T22:00:00Z");
    let message = frozen_at(&repo, "2026-11-02T13:30:00Z");
    assert!(
        message.contains("until Mon 2026-11-02 09:00 EST (14:00 UTC)"),
        "{message}"
    );
    open_at(&repo, "2026-11-02T14:00:00Z");
}

/// One recurring freeze named "f", from `start` to `end` on `zone`'s clock.
fn recurring(start: &str, end: &str, zone: &str) -> Repo {
    Repo::with_config(&format!(
        "[[policy.freeze]]\nname = \"f\"\nfreeze_start = \"{start}\"\n\
         freeze_end = \"{end}\"\ntimezone = \"{zone}\"\n"
    ))
}

#[test]
fn a_start_in_the_skipped_hour_counts_whatever_the_field_lists() {
    // 02:00 does not exist in Berlin on 2026-03-29: the 02:00 start of
    // "0 2,14 * * *" happens at 03:00 CEST (01:00 UTC), as "0 2 * * *" does.
    each_row(
        &["0 2,14 * * *", "0 2 * * *", "0 2-3 * * *", "0,30 2 * * *"],
        |r| *r,
        |&start| {
            let repo = recurring(start, "0 1,13 * * *", "Europe/Berlin");
            open_at(&repo, "2026-03-29T00:59:59Z");
            let message = frozen_at(&repo, "2026-03-29T01:00:00Z");
            assert!(
                message.contains("until Sun 2026-03-29 13:00 CEST (11:00 UTC)"),
                "{start}: {message}"
            );
        },
    );
    // 02:00 to 02:59 do not exist in New York on 2026-03-08, nor 02:00 to
    // 02:29 on Lord Howe on 2026-10-04 (02:30 LHDT is 15:30 UTC).
    let repo = recurring("*/10 2 * * *", "5 3 * * *", "America/New_York");
    frozen_at(&repo, "2026-03-08T07:00:00Z");
    open_at(&repo, "2026-03-08T07:05:00Z");
    let repo = recurring("0,30 2 * * *", "45 2 * * *", "Australia/Lord_Howe");
    open_at(&repo, "2026-10-03T15:29:59Z");
    frozen_at(&repo, "2026-10-03T15:30:00Z");
    open_at(&repo, "2026-10-03T15:45:00Z");
}

#[test]
fn in_the_repeated_hour_only_the_first_pass_counts() {
    // Berlin's 02:00 to 03:00 happens twice on 2026-10-25: 00:00 to 01:00
    // UTC (CEST), then 01:00 to 02:00 UTC (CET). "0 */2" starts at 02:00
    // CEST and "30 */2" ends it at 02:30 CEST; the second pass starts
    // nothing, for a step as for a single value.
    each_row(
        &["0 */2 * * *", "0 2 * * *", "0 2,4 * * *"],
        |r| *r,
        |&start| {
            let repo = recurring(start, "30 */2 * * *", "Europe/Berlin");
            frozen_at(&repo, "2026-10-25T00:00:00Z");
            open_at(&repo, "2026-10-25T00:30:00Z");
            let message = open_at(&repo, "2026-10-25T01:00:00Z");
            assert!(
                !message.contains("from Sun 2026-10-25 02:00 CET"),
                "{start}: {message}"
            );
            open_at(&repo, "2026-10-25T01:45:00Z");
        },
    );
}

#[test]
fn a_start_and_an_end_on_the_same_instant_freeze_nothing() {
    // "0 2 * * *" to "0 3 * * *": on 2026-03-29 in Berlin 02:00 is skipped,
    // so the start happens at 03:00 CEST, the instant of the end. The
    // freeze of that night holds no time; it does not run for a day.
    let repo = recurring("0 2 * * *", "0 3 * * *", "Europe/Berlin");
    let message = open_at(&repo, "2026-03-29T01:00:00Z");
    assert_eq!(
        message,
        "not in a freeze; next: \"f\" from Mon 2026-03-30 02:00 CEST (00:00 UTC) \
         to Mon 2026-03-30 03:00 CEST (01:00 UTC)"
    );
    open_at(&repo, "2026-03-29T12:00:00Z");
    frozen_at(&repo, "2026-03-30T00:30:00Z");
    // "0 10 15W * *" to "0 10 16 * *": the 15th of March 2026 is a Sunday,
    // so the start moves to Monday the 16th at 10:00, the end's instant.
    let repo = recurring("0 10 15W * *", "0 10 16 * *", "UTC");
    let message = open_at(&repo, "2026-03-16T10:00:00Z");
    assert_eq!(
        message,
        "not in a freeze; next: \"f\" from Wed 2026-04-15 10:00 UTC \
         to Thu 2026-04-16 10:00 UTC"
    );
    open_at(&repo, "2026-04-01T00:00:00Z");
    frozen_at(&repo, "2026-04-15T10:00:00Z");
    // February's 15th is a Sunday too.
    open_at(&repo, "2026-02-16T10:00:00Z");
}

#[test]
fn a_freeze_may_span_midnight_and_the_end_of_a_week() {
    let repo = Repo::with_config(
        "[[policy.freeze]]\nname = \"nightly\"\nfreeze_start = \"0 22 * * *\"\n\
         freeze_end = \"0 6 * * *\"\n\
         [[policy.freeze]]\nname = \"sunday\"\nfreeze_start = \"0 18 * * SAT\"\n\
         freeze_end = \"0 12 * * SUN\"\n",
    );
    let message = frozen_at(&repo, "2026-05-05T23:30:00Z");
    assert!(
        message.starts_with("frozen by \"nightly\" until Wed 2026-05-06 06:00 UTC"),
        "{message}"
    );
    frozen_at(&repo, "2026-05-06T03:00:00Z");
    open_at(&repo, "2026-05-06T06:00:00Z");
    // Saturday 18:00 to Sunday 12:00 crosses cron's week (6 to 0); the
    // nightly freeze within it does not end it early.
    let message = frozen_at(&repo, "2026-05-09T19:00:00Z");
    assert!(
        message.starts_with("frozen by \"sunday\" until Sun 2026-05-10 12:00 UTC"),
        "{message}"
    );
    frozen_at(&repo, "2026-05-10T07:00:00Z");
    open_at(&repo, "2026-05-10T12:00:00Z");
}

#[test]
fn a_one_off_holiday_period() {
    let repo = Repo::with_config(
        "[[policy.freeze]]\nname = \"holidays\"\nfrom = \"2026-12-24\"\nuntil = 2026-12-26\n\
         timezone = \"Europe/Berlin\"\n",
    );
    assert_eq!(
        open_at(&repo, "2026-12-23T22:59:59Z"),
        "not in a freeze; next: \"holidays\" from Thu 2026-12-24 00:00 CET (2026-12-23 23:00 UTC) \
         to Sun 2026-12-27 00:00 CET (2026-12-26 23:00 UTC)"
    );
    frozen_at(&repo, "2026-12-23T23:00:00Z");
    let message = frozen_at(&repo, "2026-12-26T22:59:59Z");
    assert!(
        message.starts_with(
            "frozen by \"holidays\" until Sun 2026-12-27 00:00 CET (2026-12-26 23:00 UTC)"
        ),
        "{message}"
    );
    assert_eq!(
        open_at(&repo, "2026-12-26T23:00:00Z"),
        "not in a freeze, and none is ahead (1 configured, all over)"
    );
}

#[test]
fn freezes_are_per_environment() {
    let repo =
        Repo::with_config(&WEEKEND.replace("[[policy.freeze]]", "[[policy.env.prod.freeze]]"));
    Sentinel::in_repo(&repo)
        .env(FAKE, "2026-12-05T12:00:00Z")
        .gate("dev", "v1.2.3")
        .stdout_has(format!(
            "{} no freeze is configured |",
            row("deploy_window", "OK")
        ))
        .safe();
    frozen_at(&repo, "2026-12-05T12:00:00Z");
    // An environment's list replaces the global one; an empty one lifts it.
    let repo = Repo::with_config(&format!("{WEEKEND}[policy.env.prod]\nfreeze = []\n"));
    at(&repo, "2026-12-05T12:00:00Z")
        .stdout_has(format!(
            "{} no freeze is configured |",
            row("deploy_window", "OK")
        ))
        .safe();
}

#[test]
fn without_a_freeze_the_row_is_ok_and_says_so() {
    let repo = Repo::new();
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .stdout_has(format!(
            "{} no freeze is configured |",
            row("deploy_window", "OK")
        ))
        .safe();
}

// ------------------------------------------------------------ the override

#[test]
fn an_override_with_a_reason_warns_and_the_reason_goes_everywhere() {
    let repo = Repo::with_config(WEEKEND);
    let reason = "INC-4711: payments down";
    let out = at(&repo, "2026-12-05T12:00:00Z")
        .env("RS_FREEZE_OVERRIDE", reason)
        .env("GITHUB_ACTIONS", "true")
        .stdout_has(row("deploy_window", "WARN"))
        .stderr_has(format!(
            "::warning title=release-sentinel deploy_window::WARN deploy_window: freeze \
             overridden by RS_FREEZE_OVERRIDE, reason \"{reason}\": frozen by \"weekend\""
        ))
        .safe();
    assert_eq!(
        message_of(&out.stdout, "deploy_window"),
        format!(
            "freeze overridden by RS_FREEZE_OVERRIDE, reason \"{reason}\": frozen by \"weekend\" \
             until Mon 2026-12-07 07:00 CET (06:00 UTC)"
        )
    );
    let out = at(&repo, "2026-12-05T12:00:00Z")
        .env("RS_FREEZE_OVERRIDE", reason)
        .args(["--format", "json"])
        .safe();
    let doc = json_of(&out);
    let check = json_check(&doc, "deploy_window");
    assert_eq!(check["status"], "WARN", "{doc:#}");
    assert_eq!(check["details"]["override"]["reason"], reason, "{doc:#}");
    assert_eq!(check["details"]["override"]["source"], "RS_FREEZE_OVERRIDE");
    assert_eq!(check["details"]["override"]["accepted"], true);
    assert_eq!(check["details"]["open_at"], "2026-12-07T06:00:00Z");
    for format in ["junit", "markdown"] {
        at(&repo, "2026-12-05T12:00:00Z")
            .env("RS_FREEZE_OVERRIDE", reason)
            .args(["--format", format])
            .stdout_has("INC-4711")
            .safe();
    }
}

#[test]
fn an_overridden_freeze_is_announced_with_its_reason() {
    let hook = webhook_receiver(crate::notify::KEY);
    let repo = Repo::with_config(&format!(
        "{WEEKEND}\n[notify]\napp = \"ARIS3\"\n\n[[notify.webhook]]\nname = \"audit\"\n\
         url = \"${{AUDIT_WEBHOOK_URL}}\"\nsecret = \"${{AUDIT_WEBHOOK_SECRET}}\"\n"
    ));
    let reason = "INC-4711: payments down";
    at(&repo, "2026-12-05T12:00:00Z")
        .env("RS_FREEZE_OVERRIDE", reason)
        .env("AUDIT_WEBHOOK_URL", hook.url("/hooks/audit"))
        .env("AUDIT_WEBHOOK_SECRET", whsec(crate::notify::KEY))
        .stdout_has(row("deploy_window", "WARN"))
        .stdout_has(row("notify:audit", "OK"))
        .safe();
    let seen = hook.wait_for(1);
    let body: Value = serde_json::from_slice(&seen[0].body).expect("a JSON body");
    assert_eq!(body["type"], "gate.freeze_override", "{body:#}");
    let text = body["data"]["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("ARIS3 release v1.2.3 to prod goes ahead during a deploy freeze: ")
            && text.contains(reason),
        "{text}"
    );
    // Outside a freeze, nothing to announce.
    at(&repo, "2026-12-08T09:30:00Z")
        .env("AUDIT_WEBHOOK_URL", hook.url("/hooks/audit"))
        .env("AUDIT_WEBHOOK_SECRET", whsec(crate::notify::KEY))
        .stdout_lacks("notify:audit")
        .safe();
    assert_eq!(hook.requests().len(), 1);
}

#[test]
fn the_option_overrides_too_and_wins_over_the_variable() {
    let repo = Repo::with_config(WEEKEND);
    let out = at(&repo, "2026-12-05T12:00:00Z")
        .env("RS_FREEZE_OVERRIDE", "from the variable")
        .args(["--override-freeze", "from the option"])
        .stdout_has(row("deploy_window", "WARN"))
        .safe();
    assert!(message_of(&out.stdout, "deploy_window").starts_with(
        "freeze overridden by --override-freeze, reason \"from the option\": frozen by"
    ));
    // The pack's policy step honours it as well.
    let repo = Repo::with_config(&format!(
        "{WEEKEND}[[pack.steps]]\nname = \"policy_gates_dry\"\n"
    ));
    at(&repo, "2026-12-05T12:00:00Z")
        .args(["--dry-run", "--override-freeze", "hotfix"])
        .stdout_has("| policy_gates_dry          | OK   |")
        .safe();
    at(&repo, "2026-12-05T12:00:00Z")
        .arg("--dry-run")
        .stdout_has("| policy_gates_dry          | FAIL | did not pass: deploy_window |")
        .blocked();
}

#[test]
fn an_override_without_a_reason_is_refused() {
    let repo = Repo::with_config(WEEKEND);
    let message = frozen_at_with(&repo, |s| s.env("RS_FREEZE_OVERRIDE", ""));
    assert_eq!(
        message,
        format!(
            "frozen by \"weekend\" until Mon 2026-12-07 07:00 CET (06:00 UTC); override refused: \
             RS_FREEZE_OVERRIDE gives no reason; set RS_FREEZE_OVERRIDE=\"<reason>\" or pass \
             --override-freeze \"<reason>\""
        )
    );
    let message = frozen_at_with(&repo, |s| s.args(["--override-freeze", "  "]));
    assert!(
        message.contains("; override refused: --override-freeze gives no reason; set "),
        "{message}"
    );
    // Outside a freeze there is nothing to override.
    let out = at(&repo, "2026-12-08T12:00:00Z")
        .args(["--override-freeze", "just in case"])
        .safe();
    assert!(
        message_of(&out.stdout, "deploy_window")
            .ends_with("; the override (--override-freeze) is not needed")
    );
}

fn frozen_at_with(repo: &Repo, f: impl FnOnce(Sentinel) -> Sentinel) -> String {
    let out = f(at(repo, "2026-12-05T12:00:00Z"))
        .stdout_has(row("deploy_window", "FAIL"))
        .blocked();
    message_of(&out.stdout, "deploy_window")
}

#[test]
fn in_strict_mode_an_overridden_freeze_still_blocks() {
    let repo = Repo::with_config(WEEKEND);
    at(&repo, "2026-12-05T12:00:00Z")
        .env("RS_FREEZE_OVERRIDE", "hotfix")
        .arg("--strict")
        .stdout_has(row("deploy_window", "WARN"))
        .blocked();
}

// ------------------------------------------------------------ config errors

#[test]
fn an_invalid_cron_expression_or_time_zone_is_a_config_error_with_its_key_path() {
    let repo = Repo::with_config(
        "[[policy.freeze]]\nfreeze_start = \"0 25 * * 5\"\nfreeze_end = \"0 7 * * 1\"\n\
         timezone = \"Europe/Berln\"\n\
         [[policy.env.prod.freeze]]\nfrom = \"2026-12-24\"\nuntil = \"2026-12-20\"\n\
         timezone = \"america/new_york\"\n",
    );
    Sentinel::in_repo(&repo)
        .gate("dev", "v1.2.3")
        .stdout("")
        .stderr_has("policy.freeze[0].freeze_start: invalid cron expression \"0 25 * * 5\"")
        .stderr_has(
            "policy.freeze[0].timezone: unknown time zone \"Europe/Berln\"; use an IANA name",
        )
        .stderr_has(
            "policy.env.prod.freeze[0].timezone: unknown time zone \"america/new_york\"; did you \
             mean \"America/New_York\"?",
        )
        .blocked();
    let repo = Repo::with_config(
        "[[policy.freeze]]\nfreeze_start = \"0 23 * * 5\"\n\
         [[policy.freeze]]\nfrom = \"2026-12-24\"\nuntil = \"2026-12-20\"\n",
    );
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .stderr_has("policy.freeze[0].freeze_end: is missing")
        .stderr_has("policy.freeze[1].until: \"2026-12-20\" is not after from (2026-12-24)")
        .blocked();
}

// ------------------------------------------------------------ the clock

#[test]
fn the_json_report_records_the_time_used() {
    let repo = Repo::new();
    let doc = json_of(
        &Sentinel::in_repo(&repo)
            .env(FAKE, "2026-12-05T13:00:00+01:00")
            .gate("prod", "v1.2.3")
            .args(["--format", "json"])
            .stderr_has("the time is CI_FAKE_UTC=2026-12-05T12:00:00Z, not the clock")
            .safe(),
    );
    assert_eq!(doc["time"], "2026-12-05T12:00:00Z", "{doc:#}");
    assert_eq!(doc["time_source"], "CI_FAKE_UTC", "{doc:#}");
    let doc = json_of(
        &Sentinel::in_repo(&repo)
            .gate("prod", "v1.2.3")
            .args(["--format", "json"])
            .stderr_empty()
            .safe(),
    );
    assert_eq!(doc["time_source"], "system clock", "{doc:#}");
    let time = doc["time"].as_str().unwrap_or_default();
    assert!(
        time.starts_with("20") && time.ends_with('Z') && time.contains('T'),
        "{doc:#}"
    );
}

#[test]
fn an_invalid_fake_clock_stops_the_gate_and_the_pack() {
    let repo = Repo::new();
    for args in [
        vec!["--env", "prod", "--version", "v1.2.3"],
        vec!["pack", "--env", "prod", "--version", "v1.2.3"],
    ] {
        Sentinel::new()
            .dir(&repo.path)
            .env(FAKE, "next friday")
            .args(&args)
            .stdout("")
            .stderr_has(
                "release-sentinel: error: CI_FAKE_UTC=\"next friday\" is not an RFC 3339 time",
            )
            .blocked();
        let out = Sentinel::new()
            .dir(&repo.path)
            .env(FAKE, "2026-13-01T00:00:00Z")
            .args(&args)
            .args(["--format", "json"])
            .blocked();
        let doc = json_of(&out);
        assert_eq!(doc["exit_code"], 1, "{doc:#}");
        assert_eq!(doc["time"], Value::Null, "{doc:#}");
        assert!(
            doc["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with("CI_FAKE_UTC=\"2026-13-01T00:00:00Z\" is not an RFC 3339 time"),
            "{doc:#}"
        );
    }
}

// ------------------------------------------------------------ changelog_entry

const KEEP_A_CHANGELOG: &str = "# Changelog\n\nAll notable changes to this project.\n\n\
    ## [Unreleased]\n\n## [1.2.3] - 2026-11-30\n### Added\n- deploy freezes\n\
    - the changelog gate\n\n### Fixed\n- a typo\n\n## [1.2.2] - 2026-10-01\n### Fixed\n- a bug\n\n\
    [Unreleased]: https://example.invalid/compare/v1.2.3...HEAD\n\
    [1.2.3]: https://example.invalid/compare/v1.2.2...v1.2.3\n";

/// A repository that requires a changelog for prod, with `changelog` as
/// its CHANGELOG.md (none when `None`), committed.
fn with_changelog(extra_config: &str, changelog: Option<&str>) -> Repo {
    let repo = Repo::with_config(&format!(
        "[policy.env.prod]\nrequire_changelog = true\n{extra_config}"
    ));
    if let Some(text) = changelog {
        repo.write("CHANGELOG.md", text);
        repo.commit_all("changelog");
    }
    repo
}

fn changelog(repo: &Repo, version: &str, status: &str, code: i32) -> String {
    let out = Sentinel::in_repo(repo)
        .env(FAKE, "2026-12-05T12:00:00Z")
        .gate("prod", version)
        .stdout_has(row("changelog_entry", status))
        .code(code);
    message_of(&out.stdout, "changelog_entry")
}

#[test]
fn a_keep_a_changelog_section_passes() {
    let repo = with_changelog("", Some(KEEP_A_CHANGELOG));
    assert_eq!(
        changelog(&repo, "v1.2.3", "OK", 0),
        "CHANGELOG.md has a section for 1.2.3 (\"[1.2.3] - 2026-11-30\" at line 7, 3 lines)"
    );
}

#[test]
fn plain_version_headings_pass() {
    for text in [
        "# Changes\n\n## v1.2.3\n\n- freezes\n\n## v1.2.2\n\n- a bug\n",
        "# 1.2.3\n\n* freezes\n\n# 1.2.2\n\n* a bug\n",
    ] {
        let repo = with_changelog("", Some(text));
        let message = changelog(&repo, "v1.2.3", "OK", 0);
        assert!(
            message.starts_with("CHANGELOG.md has a section for 1.2.3"),
            "{message}"
        );
    }
}

#[test]
fn the_tag_formats_shape_names_a_section() {
    let repo = with_changelog(
        "[policy]\ntag_format = \"mylib-{version}\"\n",
        Some("## mylib-1.2.3\n\n- freezes\n"),
    );
    let message = changelog(&repo, "mylib-1.2.3", "OK", 0);
    assert!(message.contains("\"mylib-1.2.3\" at line 1"), "{message}");
}

#[test]
fn a_missing_changelog_fails_and_says_which() {
    let repo = with_changelog("", None);
    assert_eq!(
        changelog(&repo, "v1.2.3", "FAIL", 1),
        "CHANGELOG.md does not exist at the repository root: write it, with a section \
         \"## [1.2.3] - 2026-12-05\" saying what changed (or set changelog_file)"
    );
}

#[test]
fn a_missing_section_fails_and_says_which() {
    let repo = with_changelog(
        "",
        Some("# Changelog\n\n## [1.2.2] - 2026-10-01\n- a bug\n"),
    );
    assert_eq!(
        changelog(&repo, "v1.2.3", "FAIL", 1),
        "CHANGELOG.md has no section for 1.2.3: add a heading \"## [1.2.3] - 2026-12-05\" \
         with what changed under it"
    );
}

#[test]
fn an_empty_section_fails_and_says_which() {
    let repo = with_changelog(
        "",
        Some(
            "# Changelog\n\n## [1.2.3] - 2026-12-05\n### Added\n\n## [1.2.2] - 2026-10-01\n- a bug\n",
        ),
    );
    assert_eq!(
        changelog(&repo, "v1.2.3", "FAIL", 1),
        "the section for 1.2.3 in CHANGELOG.md (line 3) is empty: write what changed under it"
    );
}

#[test]
fn entries_only_under_unreleased_say_to_rename_it() {
    let repo = with_changelog(
        "",
        Some(
            "# Changelog\n\n## [Unreleased]\n### Added\n- freezes\n\n## [1.2.2] - 2026-10-01\n- a bug\n",
        ),
    );
    assert_eq!(
        changelog(&repo, "v1.2.3", "FAIL", 1),
        "CHANGELOG.md has no section for 1.2.3, but \"[Unreleased]\" (line 3) has entries: \
         rename that heading to \"## [1.2.3] - 2026-12-05\""
    );
}

#[test]
fn another_changelog_file_and_the_gate_off_by_default() {
    let repo = with_changelog(
        "changelog_file = \"docs/CHANGES.md\"\n",
        Some("nothing here\n"),
    );
    repo.write("docs/CHANGES.md", "## 1.2.3\n- freezes\n");
    repo.commit_all("changes");
    let message = changelog(&repo, "v1.2.3", "OK", 0);
    assert!(
        message.starts_with("docs/CHANGES.md has a section"),
        "{message}"
    );
    // Off unless required: dev passes without a section.
    Sentinel::in_repo(&repo)
        .gate("dev", "v9.9.9")
        .stdout_has(format!(
            "{} not required for dev (require_changelog is off) |",
            row("changelog_entry", "OK")
        ))
        .safe();
    let repo = Repo::with_config("[policy]\nchangelog_file = \"../CHANGELOG.md\"\n");
    Sentinel::in_repo(&repo)
        .gate("prod", "v1.2.3")
        .stderr_has("policy.changelog_file: \"../CHANGELOG.md\" leaves the repository (..)")
        .blocked();
}

// ------------------------------------------------------------ the README

/// The row `id` of a run, whole, as the table prints it.
/// Real changelogs as they were at a release tag (trimmed; see
/// tests/data/changelog/README.md): ripgrep's setext headings with the
/// date after the version, just's setext headings whose title is a link,
/// and Keep a Changelog's own.
#[test]
fn real_changelogs_pass_at_their_release_tags() {
    for (file, version, title, line) in [
        ("ripgrep-15.2.0.md", "15.2.0", "15.2.0 (2026-07-15)", 1),
        ("ripgrep-15.2.0.md", "14.0.0", "14.0.0 (2023-11-26)", 234),
        (
            "just-1.58.0.md",
            "1.58.0",
            "[1.58.0](https://github.com/casey/just/releases/tag/1.58.0) - 2026-08-03",
            4,
        ),
        (
            "just-1.58.0.md",
            "1.55.1",
            "[1.55.1](https://github.com/casey/just/releases/tag/1.55.1) - 2026-06-29",
            159,
        ),
        (
            "keep-a-changelog-1.1.1.md",
            "1.1.1",
            "[1.1.1] - 2023-03-05",
            10,
        ),
    ] {
        let path = format!("{}/tests/data/changelog/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let repo = with_changelog("", Some(&text));
        let message = changelog(&repo, &format!("v{version}"), "OK", 0);
        let want =
            format!("CHANGELOG.md has a section for {version} (\"{title}\" at line {line}, ");
        assert!(message.starts_with(&want), "{file}: {message}");
    }
}

#[test]
fn a_changelog_that_leads_outside_the_repository_is_refused() {
    // A link to a file outside, with a good section: it does not count.
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("CHANGELOG.md");
    std::fs::write(&target, KEEP_A_CHANGELOG).unwrap();
    let repo = with_changelog("", None);
    std::os::unix::fs::symlink(&target, repo.path.join("CHANGELOG.md")).unwrap();
    repo.commit_all("changelog elsewhere");
    let message = changelog(&repo, "v1.2.3", "FAIL", 1);
    let real = std::fs::canonicalize(&target).unwrap();
    assert_eq!(
        message,
        format!(
            "cannot read CHANGELOG.md: it leads outside the repository, to \"{}\"; a changelog \
             is read only from inside the repository (commit the file itself)",
            real.display()
        )
    );
    // Through a linked folder too.
    let repo = with_changelog("changelog_file = \"docs/CHANGELOG.md\"\n", None);
    std::os::unix::fs::symlink(outside.path(), repo.path.join("docs")).unwrap();
    repo.commit_all("docs elsewhere");
    let message = changelog(&repo, "v1.2.3", "FAIL", 1);
    assert!(
        message.contains("it leads outside the repository"),
        "{message}"
    );
    // A link that stays inside is read.
    let repo = with_changelog("", None);
    repo.write("docs/CHANGES.md", KEEP_A_CHANGELOG);
    std::os::unix::fs::symlink("docs/CHANGES.md", repo.path.join("CHANGELOG.md")).unwrap();
    repo.commit_all("changelog in docs");
    let message = changelog(&repo, "v1.2.3", "OK", 0);
    assert!(
        message.starts_with("CHANGELOG.md has a section for 1.2.3"),
        "{message}"
    );
}

fn row_line(out: &std::process::Output, id: &str) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find(|l| l.starts_with(&format!("| {id:<25} |")))
        .unwrap_or_else(|| panic!("no row {id} in:\n{text}"))
        .to_string()
}

#[test]
fn the_rows_the_readme_shows_are_what_the_binary_prints() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let repo = Repo::with_config(WEEKEND);
    let mut rows = vec![
        row_line(
            &at(&repo, "2026-12-05T12:00:00Z").blocked(),
            "deploy_window",
        ),
        row_line(&at(&repo, "2026-12-08T09:30:00Z").safe(), "deploy_window"),
        row_line(
            &at(&repo, "2026-12-05T12:00:00Z")
                .env("RS_FREEZE_OVERRIDE", "INC-4711: payments down")
                .safe(),
            "deploy_window",
        ),
    ];
    let repo = with_changelog("", Some(KEEP_A_CHANGELOG));
    rows.push(row_line(
        &Sentinel::in_repo(&repo).gate("prod", "v1.2.3").safe(),
        "changelog_entry",
    ));
    let unreleased = "# Changelog\n\nAll notable changes to this project.\n\n## [Unreleased]\n\
                      ### Added\n- deploy freezes\n\n## [1.2.2] - 2026-10-01\n- a bug\n";
    let repo = with_changelog("", Some(unreleased));
    rows.push(row_line(
        &Sentinel::in_repo(&repo)
            .env(FAKE, "2026-12-05T12:00:00Z")
            .gate("prod", "v1.2.3")
            .blocked(),
        "changelog_entry",
    ));
    for row in rows {
        assert!(
            readme.contains(&format!("{row}\n")),
            "the README lacks:\n{row}"
        );
    }
}
