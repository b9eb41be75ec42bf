//! `evidence verify --replay`: the policy gates run again at a record's
//! commit, with its configuration, environment, version and variables,
//! and the time it was recorded as `CI_FAKE_UTC`, and every row compared
//! with the one recorded.
//!
//! The gates run in a checkout of their own: a temporary repository that
//! borrows the objects of the given one (read only, through git's
//! alternates), holds a copy of its branches, tags and remote-tracking
//! branches and its remotes' settings, and has HEAD on the recorded branch
//! (or detached, as recorded) at the recorded commit. The given
//! repository, its work tree, index, HEAD and refs are never written; the
//! checkout is removed afterwards.
//!
//! What a replay cannot reproduce, it says: the work tree is a clean
//! checkout (a record made from a dirty tree differs in `clean_tree`),
//! tags and branches are those the repository has now (a tag added since
//! shows in `tag_absent`), values the record withheld (secrets) are
//! replayed as `"***"`, and `git_repo` is compared by its status and
//! commit only (the checkout is elsewhere). The health checks are not
//! re-run.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use git2::{Oid, Repository};
use serde_json::Value;

use super::{CONFIG, PLACEHOLDER, Record, facts};
use crate::checks::policy;
use crate::config::{self, Source};
use crate::envsnap::EnvSnapshot;
use crate::git::{self, Repo, short_id, show};
use crate::report::{CheckResult, Outcome, Phase};
use crate::sanitize::quoted;
use crate::secrets::Scrubber;
use crate::text::list_some;

/// The largest configuration file read back from a record.
const MAX_CONFIG: u64 = config::values::MAX_FILE_SIZE;

/// Re-run the policy gates of `record` (read from `dir`) at its commit in
/// the repository at `repo`. One `replay:<id>` row (FAIL) per row that now
/// differs, is new or is gone; else one `replay` row, OK. A replay that
/// cannot run (no commit, a commit the repository does not have, a record
/// without policy rows) is one `replay` row that is not OK.
pub fn replay(record: &Record, dir: &Path, repo: &Path, scrubber: &Scrubber) -> Vec<CheckResult> {
    match run(record, dir, repo, scrubber) {
        Ok(rows) => rows,
        Err(outcome) => vec![CheckResult::untimed("replay", outcome)],
    }
}

fn run(
    record: &Record,
    dir: &Path,
    repo_path: &Path,
    scrubber: &Scrubber,
) -> Result<Vec<CheckResult>, Outcome> {
    let report = &record.report;
    let recorded: Vec<(&CheckResult, Value)> = report
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.phase == Phase::Policy)
        .map(|(i, r)| (r, recorded_facts(record, i, r)))
        .collect();
    if recorded.is_empty() {
        return Err(Outcome::skip(format!(
            "the record is a {} report, with no policy rows to re-run",
            report.kind.name
        )));
    }
    let commit = report.target.commit.as_deref().ok_or_else(|| {
        Outcome::fail(
            "the record names no commit (the run was not in a repository): nothing to re-run",
        )
    })?;
    let oid = (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| Oid::from_str(commit).ok())
        .flatten()
        .ok_or_else(|| {
            Outcome::fail(format!(
                "the record's commit {} is not a commit id",
                quoted(commit)
            ))
        })?;
    let env_name = report.target.env.clone().unwrap_or_default();
    let version = report.target.version.clone().unwrap_or_default();
    let (vars, withheld) = environment(record);
    let config = load_config(record, dir, &vars, scrubber, &env_name)?;

    let opened = git::open(repo_path);
    let source = match &opened {
        Ok(r) => r,
        Err(e) => return Err(Outcome::fail(e.message.clone())),
    };
    if source.repo.find_commit(oid).is_err() {
        return Err(Outcome::fail(format!(
            "commit {commit} is not in the repository at {}: fetch it (git fetch origin {commit}) or give --repo the repository it was recorded in",
            show(&source.root)
        )));
    }
    let branch = record
        .doc
        .pointer("/repository/branch")
        .and_then(Value::as_str);
    let checkout = checkout(source, oid, branch).map_err(|why| {
        Outcome::fail(format!(
            "cannot set up a checkout of {} from {}: {why}",
            short_id(oid),
            show(&source.root)
        ))
    })?;
    let replayed = git::open(checkout.path());
    if let Err(e) = &replayed {
        return Err(Outcome::fail(format!(
            "the checkout of {} cannot be opened: {}",
            short_id(oid),
            e.message
        )));
    }
    // The recorded time (CI_FAKE_UTC in the recorded environment).
    let clock = crate::clock::Now::read(&vars).map_err(Outcome::fail)?;
    let input = policy::Input::new(&env_name, &version, config.gates(), &replayed, &vars, clock);
    let fail_fast = record
        .doc
        .pointer("/options/fail_fast")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let strict = report.strict.unwrap_or(false);
    let mut now = policy::run(&input, fail_fast, strict, &AtomicBool::new(false));
    // The checkout's place stands for the recorded one.
    let recorded_root = record
        .doc
        .pointer("/repository/root")
        .and_then(Value::as_str);
    if let (Some(to), Some(from)) = (recorded_root, git::root_of(&replayed).map(show)) {
        for r in &mut now {
            relocate(r, &from, to);
        }
    }
    drop(replayed);
    drop(checkout);

    // What the record withheld that a row could depend on, said there.
    let depends = withheld_inputs(&config.text, &withheld);
    let note = if depends.is_empty() {
        String::new()
    } else {
        format!(
            "; it may depend on what the record withheld: {} (replayed as \"{PLACEHOLDER}\")",
            list_some(&depends, 4)
        )
    };
    let mut rows = Vec::new();
    for (r, recorded_facts) in &recorded {
        match now.iter().find(|n| n.id == r.id) {
            None => rows.push(CheckResult::untimed(
                format!("replay:{}", r.id),
                Outcome::fail(format!(
                    "recorded {} ({}), and the gates have no such row now",
                    r.status().as_str(),
                    r.outcome.message
                )),
            )),
            Some(n) if !same(recorded_facts, n) => rows.push(CheckResult::untimed(
                format!("replay:{}", r.id),
                Outcome::fail(format!(
                    "recorded {} ({}), now {} ({}){}",
                    r.status().as_str(),
                    r.outcome.message,
                    n.status().as_str(),
                    n.outcome.message,
                    if matches!(r.id.as_str(), "git_repo" | "clean_tree" | "required_config") {
                        ""
                    } else {
                        &note
                    }
                ))
                .detail("recorded", row_value(r))
                .detail("now", row_value(n)),
            )),
            Some(_) => {}
        }
    }
    for n in now
        .iter()
        .filter(|n| !recorded.iter().any(|(r, _)| r.id == n.id))
    {
        rows.push(CheckResult::untimed(
            format!("replay:{}", n.id),
            Outcome::fail(format!(
                "not in the record; now {} ({})",
                n.status().as_str(),
                n.outcome.message
            ))
            .detail("now", row_value(n)),
        ));
    }
    if rows.is_empty() {
        rows.push(CheckResult::untimed(
            "replay",
            Outcome::ok(format!(
                "the {} policy rows re-run at {} in {} match the record{}",
                recorded.len(),
                short_id(oid),
                show(&source.root),
                if withheld.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} withheld, replayed as \"{PLACEHOLDER}\")",
                        list_some(&withheld, 3)
                    )
                }
            ))
            .detail("commit", commit)
            .detail("withheld", withheld),
        ));
    }
    Ok(rows)
}

/// What the record withheld that the policy gates read: withheld
/// variables that the configuration's policy sections reference or that
/// name a CI branch or tag, and (as "configuration values") values removed
/// from those sections. Whether a required variable is set is kept: the
/// placeholder stands for a value that was there.
fn withheld_inputs(text: &str, withheld: &[String]) -> Vec<String> {
    let mut strings: Vec<String> = Vec::new();
    if let Ok(table) = toml::from_str::<toml::Table>(text) {
        for key in ["environments", "policy"] {
            if let Some(v) = table.get(key) {
                collect_strings(v, &mut strings);
            }
        }
    }
    let referenced: Vec<String> = strings
        .iter()
        .flat_map(|s| config::values::references(s))
        .collect();
    let mut out: Vec<String> = withheld
        .iter()
        .filter(|n| {
            referenced.contains(n)
                || crate::ci::BRANCH_VARIABLES.contains(&n.as_str())
                || crate::ci::TAG_VARIABLES.contains(&n.as_str())
                || n.as_str() == "GITHUB_REF_TYPE"
        })
        .cloned()
        .collect();
    if strings.iter().any(|s| s.contains(PLACEHOLDER)) {
        out.push("configuration values".to_string());
    }
    out
}

fn collect_strings(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        toml::Value::Table(t) => t.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// The environment of the run as recorded: its variables, each withheld
/// one as the placeholder, and `CI_FAKE_UTC` at the time of the record.
/// Also the names withheld.
fn environment(record: &Record) -> (EnvSnapshot, Vec<String>) {
    let mut pairs: Vec<(String, String)> = record
        .doc
        .get("variables")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let withheld: Vec<String> = record
        .doc
        .get("withheld")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    pairs.extend(
        withheld
            .iter()
            .map(|n| (n.clone(), PLACEHOLDER.to_string())),
    );
    if let Some(t) = record.text("recorded_at") {
        pairs.push(("CI_FAKE_UTC".to_string(), t.to_string()));
    }
    (EnvSnapshot::from_pairs(pairs), withheld)
}

/// The recorded configuration's policy sections, loaded with the
/// recorded environment.
fn load_config(
    record: &Record,
    dir: &Path,
    vars: &EnvSnapshot,
    scrubber: &Scrubber,
    env: &str,
) -> Result<config::Config, Outcome> {
    let section = record.doc.get("config").filter(|c| !c.is_null()).ok_or_else(|| {
        Outcome::fail(
            "the record has no configuration (the run had none usable): the gates cannot be re-run",
        )
    })?;
    if section.get("file").and_then(Value::as_str) != Some(CONFIG) {
        return Err(Outcome::fail(format!(
            "the record does not hold its configuration text ({}): the gates cannot be re-run",
            section
                .get("not_recorded")
                .and_then(Value::as_str)
                .unwrap_or("no file")
        )));
    }
    let data = crate::fsutil::read_regular(&dir.join(CONFIG), MAX_CONFIG)
        .map_err(|why| Outcome::fail(format!("{CONFIG}: {why}")))?;
    let text = String::from_utf8(data)
        .map_err(|_| Outcome::fail(format!("{CONFIG} is not UTF-8 text")))?;
    let source = match section.get("source").and_then(Value::as_str) {
        Some(s) if s == Source::Embedded.to_string() => Source::Embedded,
        Some(s) => Source::File(s.into()),
        None => Source::File(CONFIG.into()),
    };
    config::parse_policy(&text, source, vars, scrubber, Some(env)).map_err(|e| {
        Outcome::fail(format!(
            "the recorded configuration does not load for the replay: {e}"
        ))
    })
}

/// Rows are the same when the facts they judged are: their status and
/// their details but the context ([`super::facts`]), as recorded with the
/// row (or, in a record written before rows carried them, as the recorded
/// row gives them). The prose is not compared: a message that counts the
/// clone's tags changes with a tag the row does not judge.
fn same(recorded: &Value, now: &CheckResult) -> bool {
    *recorded == facts(now)
}

/// The facts recorded with the `index`th row of the record, or those of
/// the recorded row `r`.
fn recorded_facts(record: &Record, index: usize, r: &CheckResult) -> Value {
    record
        .doc
        .get("report")
        .and_then(|rep| rep.get(record.report.kind.rows_key))
        .and_then(|rows| rows.get(index))
        .filter(|row| row.get("id").and_then(Value::as_str) == Some(r.id.as_str()))
        .and_then(|row| row.get("facts"))
        .cloned()
        .unwrap_or_else(|| facts(r))
}

fn row_value(r: &CheckResult) -> Value {
    serde_json::json!({
        "status": r.status().as_str(),
        "message": r.outcome.message,
        "details": r.outcome.details,
    })
}

/// Replace the checkout's path with the recorded work tree's in a row.
fn relocate(r: &mut CheckResult, from: &str, to: &str) {
    if from.is_empty() || from == to {
        return;
    }
    r.outcome.message = r.outcome.message.replace(from, to);
    for v in r.outcome.details.values_mut() {
        relocate_value(v, from, to);
    }
}

fn relocate_value(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(items) => items.iter_mut().for_each(|i| relocate_value(i, from, to)),
        Value::Object(m) => m.values_mut().for_each(|i| relocate_value(i, from, to)),
        _ => {}
    }
}

/// A temporary repository at `oid` that reads `source`'s objects and
/// holds a copy of its refs and remotes; HEAD on `branch` (made to point
/// at `oid`) or detached. Removed when dropped.
fn checkout(source: &Repo, oid: Oid, branch: Option<&str>) -> Result<tempfile::TempDir, String> {
    let msg = |e: git2::Error| e.message().to_string();
    let tmp = tempfile::Builder::new()
        .prefix("release-sentinel-replay.")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let repo = Repository::init(tmp.path()).map_err(msg)?;
    let gitdir = repo.path().to_path_buf();
    // The objects, borrowed: git reads them from the source, writes none
    // there.
    let common = source.repo.commondir();
    let objects = std::fs::canonicalize(common.join("objects"))
        .map_err(|e| format!("cannot find the objects of {}: {e}", show(common)))?;
    let write = |rel: &str, text: &str| {
        crate::fsutil::write_atomic(&gitdir.join(rel), text.as_bytes())
            .map_err(|e| format!("cannot write {rel} in the checkout: {e}"))
    };
    write(
        "objects/info/alternates",
        &format!("{}\n", objects.display()),
    )?;
    // Branches, tags and remote-tracking branches as they are now; the
    // recorded branch at the recorded commit.
    let mut refs: BTreeMap<String, Oid> = BTreeMap::new();
    for r in source.repo.references().map_err(msg)? {
        let r = r.map_err(msg)?;
        if let (Ok(name), Some(target)) = (r.name(), r.target())
            && ["refs/heads/", "refs/tags/", "refs/remotes/"]
                .iter()
                .any(|p| name.starts_with(p))
        {
            refs.insert(name.to_string(), target);
        }
    }
    if let Some(b) = branch {
        refs.insert(format!("refs/heads/{b}"), oid);
    }
    let mut packed = String::from("# pack-refs with: sorted \n");
    for (name, target) in &refs {
        packed.push_str(&format!("{target} {name}\n"));
    }
    write("packed-refs", &packed)?;
    if source.repo.is_shallow() {
        let shallow = std::fs::read_to_string(common.join("shallow"))
            .map_err(|e| format!("cannot read the shallow file: {e}"))?;
        write("shallow", &shallow)?;
    }
    // The remotes' settings (whether there is one, whether it fetches
    // tags) decide how missing tags are judged.
    {
        let mut local = repo
            .config()
            .and_then(|c| c.open_level(git2::ConfigLevel::Local))
            .map_err(msg)?;
        let config = source.repo.config().map_err(msg)?;
        let mut entries = config.entries(Some(r"remote\..*")).map_err(msg)?;
        let mut settings: Vec<(String, String)> = Vec::new();
        while let Some(entry) = entries.next() {
            let entry = entry.map_err(msg)?;
            if let (Ok(name), Ok(value)) = (entry.name(), entry.value()) {
                settings.push((name.to_string(), value.to_string()));
            }
        }
        for (name, value) in settings {
            local.set_str(&name, &value).map_err(msg)?;
        }
    }
    drop(repo);
    let repo = Repository::open(tmp.path()).map_err(msg)?;
    match branch {
        Some(b) => repo.set_head(&format!("refs/heads/{b}")).map_err(msg)?,
        None => repo.set_head_detached(oid).map_err(msg)?,
    }
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .map_err(|e| format!("cannot check out {}: {}", short_id(oid), e.message()))?;
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_policy_gates_read_is_said_to_matter() {
        let text = "[policy]\nbranches = [\"${BRANCH}\", \"***\"]\n\n[[health.api]]\nname = \"a\"\nurl = \"${API}\"\n";
        let withheld: Vec<String> = ["API", "BRANCH", "DEPLOY_TOKEN", "GITHUB_REF"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            withheld_inputs(text, &withheld),
            ["BRANCH", "GITHUB_REF", "configuration values"]
        );
        assert!(withheld_inputs("[policy]\nbranches = [\"main\"]\n", &withheld[..1]).is_empty());
    }

    #[test]
    fn the_checkout_stands_for_the_recorded_work_tree() {
        let mut r = CheckResult::new(
            "git_repo",
            Phase::Policy,
            Outcome::ok("work tree /tmp/replay.x at abc").detail("root", "/tmp/replay.x"),
            std::time::Duration::ZERO,
        );
        relocate(&mut r, "/tmp/replay.x", "/srv/app");
        assert_eq!(r.outcome.message, "work tree /srv/app at abc");
        assert_eq!(r.outcome.details["root"], "/srv/app");
    }
}
