//! The clock (`CI_FAKE_UTC`), through the binary.

use serde_json::Value;

use crate::harness::{Repo, Sentinel, json_of};

const FAKE: &str = "CI_FAKE_UTC";

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
            .env(FAKE, "")
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
                .starts_with("CI_FAKE_UTC=\"\" is not an RFC 3339 time"),
            "{doc:#}"
        );
    }
}
