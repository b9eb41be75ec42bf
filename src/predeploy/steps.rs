//! The protocol's run: its steps in order ([`STEPS`]), each judged into a
//! row and leaving its evidence file in the [`Folder`]; the first that
//! fails halts the run and the rest show SKIP. The protocol's status lines
//! (phases, `[AUTOMATION]`, `[ERROR]` with its recovery, `[HALT]`) go to
//! the progress sink as written, scrubbed.
//!
//! The rehearsal commands run one after the other by [`runner::run`]
//! (their own process group, the section's timeout), from the repository
//! root, with `RS_ENV`, `RS_VERSION`, `RS_PREVIOUS_TAG` and
//! `RS_EVIDENCE_DIR` set and their placeholders filled; the first that
//! fails ends its step. Not here: the command line (the binary turns it
//! into [`Options`]) and the section's validation (`section`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};

use super::Predeploy;
use super::folder::{Folder, WriteError};
use super::junit;
use super::protocol::{
    MANIFEST, OUT_DIR, PACKAGE, PHASE_NAME, PHASE_START, STEPS, StepDef, error_line,
};
use super::record::{self, Record};
use crate::approvals;
use crate::clock::Now;
use crate::config::Config;
use crate::exit::Verdict;
use crate::report::{CheckResult, Outcome, Phase, Report, Status};
use crate::runner;
use crate::sanitize::quoted;
use crate::text::count;
use crate::workspace::{Context, Workspace};

/// What a run is about and how its prompts are answered.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The environment rehearsed on (staging).
    pub env: String,
    /// The release version, as its tag is written. It reaches the
    /// rehearsal commands: the caller has checked that it parses as one.
    pub version: String,
    /// Answer yes to the protocol's prompts (CI). Without it, and without
    /// a terminal to ask on, the answer is no.
    pub yes: bool,
    /// Where the evidence goes; `None`: [`OUT_DIR`] under the repository
    /// root.
    pub out: Option<PathBuf>,
}

/// Everything a step needs.
struct Run<'a> {
    o: &'a Options,
    cx: &'a Context<'a>,
    ws: &'a Workspace,
    config: &'a Config,
    p: &'a Predeploy,
    folder: Folder<'a>,
    now: SystemTime,
    stop: Arc<AtomicBool>,
    started: String,
    /// What the approvals step found (the review names the signatories).
    intake: Option<approvals::Intake>,
    /// The package's digest, for the review.
    package: Option<(String, u64)>,
    /// WARN rows so far: the review's conditions.
    conditions: Vec<String>,
}

/// Run the protocol for `config` at `clock`: one row per step into
/// `report`, and whether the run was interrupted. A step's evidence that
/// cannot be written stops the run with that error.
pub fn run(
    o: &Options,
    ws: &Workspace,
    config: &Config,
    clock: Now,
    cx: &Context<'_>,
    report: &mut Report,
) -> Result<(), WriteError> {
    let now: SystemTime = clock.utc.into();
    let out = o.out.clone().unwrap_or_else(|| ws.root.join(OUT_DIR));
    let mut r = Run {
        o,
        cx,
        ws,
        config,
        p: &config.predeploy,
        folder: Folder::new(out, cx.scrubber),
        now,
        stop: cx.interrupt_flag(),
        started: crate::clock::rfc3339(now),
        intake: None,
        package: None,
        conditions: Vec::new(),
    };
    r.prepare()?;
    let mut phase = 0;
    let mut halted: Option<&'static str> = None;
    for (i, step) in STEPS.iter().enumerate() {
        if halted.is_some() || r.stopped() {
            let why = if r.stopped() {
                "not run: the run was interrupted".to_string()
            } else {
                format!("not run: halted at {}", halted.unwrap_or(""))
            };
            report.rows.push(CheckResult::new(
                step.id,
                Phase::Pack,
                Outcome::skip(why),
                Duration::ZERO,
            ));
            continue;
        }
        if step.gate != phase {
            phase = step.gate;
            r.say(PHASE_START[usize::from(phase) - 1]);
        }
        let start = Instant::now();
        cx.progress.begin(step.id);
        let outcome = r.step(step)?;
        cx.progress.end(step.id);
        let failed = !matches!(outcome.status, Status::Ok | Status::Warn);
        if outcome.status == Status::Warn {
            r.conditions
                .push(format!("{}: {}", step.id, outcome.message));
        }
        report.rows.push(CheckResult::new(
            step.id,
            Phase::Pack,
            outcome,
            start.elapsed(),
        ));
        if failed {
            halted = Some(step.id);
            if !r.stopped() {
                let (line, recovery) = error_line(step.id, &r.p.parity_target);
                r.say(&line);
                r.say(&format!("  Recovery: {recovery}"));
            }
        }
        let last_of_gate = STEPS.get(i + 1).is_none_or(|n| n.gate != step.gate);
        r.write_manifest(&report.rows, if failed { Some(step.id) } else { None })?;
        if !failed && last_of_gate {
            r.say(&format!(
                "[PHASE {phase} COMPLETE] - {} finished successfully.",
                PHASE_NAME[usize::from(phase) - 1]
            ));
        }
    }
    let interrupted = r.stopped();
    report.interrupted = Some(interrupted);
    r.write_manifest(&report.rows, halted)?;
    r.folder.flush()?;
    if halted.is_none() && !interrupted {
        r.say("[PROTOCOL COMPLETE] - Pre-deployment readiness approved. Ready for Protocol 11 (Production Deployment).");
    } else {
        r.say(&format!(
            "[HALT] Pre-deployment stopped{}; the evidence so far and what is missing: {}",
            halted
                .map(|h| format!(" at {h}"))
                .unwrap_or_else(|| " (interrupted)".into()),
            r.folder.path(MANIFEST).display()
        ));
    }
    Ok(())
}

impl Run<'_> {
    fn say(&self, line: &str) {
        self.cx.progress.say(&self.cx.scrubber.scrub(line));
    }

    /// Whether the run was interrupted (SIGINT, SIGTERM).
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Clear the folder and write the first manifest: a folder that cannot
    /// be written stops the run before anything runs.
    fn prepare(&self) -> Result<(), WriteError> {
        self.folder.clear()?;
        // The first write names the folder: it is the folder that cannot
        // be written.
        self.write_manifest(&[], None)
            .map_err(|e| self.folder.unwritable(e.source))
    }

    /// The fields every JSON evidence file starts with.
    fn head(&self, what: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("schema_version".into(), json!(1));
        m.insert("evidence".into(), json!(what));
        m.insert("env".into(), json!(self.o.env));
        m.insert("version".into(), json!(self.o.version));
        m.insert("commit".into(), json!(self.commit()));
        m.insert("time".into(), json!(crate::clock::rfc3339(self.now)));
        m
    }

    /// The commit rehearsed, when there is a repository.
    fn commit(&self) -> Option<String> {
        self.ws.repo.as_ref().ok().map(|r| r.head.to_string())
    }

    /// The manifest, as the run stands.
    fn write_manifest(&self, rows: &[CheckResult], halted: Option<&str>) -> Result<(), WriteError> {
        let mut m = self.head("pre-deployment-manifest");
        m.insert("started_at".into(), json!(self.started));
        self.folder.write_manifest(m, rows, halted, self.stopped())
    }

    fn step(&mut self, step: &StepDef) -> Result<Outcome, WriteError> {
        match step.id {
            "approvals" => self.approvals(step.file),
            "staging_parity" => self.parity(step.file),
            "deploy_rehearsal" => self.deploy(step.file),
            "smoke_tests" => self.smoke(step.file),
            "rollback_rehearsal" => self.rollback(step.file),
            "security" => self.security(step.file),
            "package" => self.package(),
            _ => self.review(step.file),
        }
    }

    /// A step whose setting is missing: its evidence file says so, and it
    /// fails.
    fn unconfigured(
        &self,
        file: &str,
        m: Map<String, Value>,
        key: &str,
        what: &str,
    ) -> Result<Outcome, WriteError> {
        let outcome = self.not_configured(key, what);
        self.folder
            .write_result(file, m, std::slice::from_ref(&outcome.message))?;
        Ok(outcome)
    }

    fn not_configured(&self, key: &str, what: &str) -> Outcome {
        Outcome::fail(format!(
            "not configured: set predeploy.{key} in {} ({what}); a step that cannot run does not pass",
            self.config.source
        ))
    }

    fn approvals(&mut self, file: &str) -> Result<Outcome, WriteError> {
        let mut m = self.head("intake-validation");
        let Some(path) = &self.p.approvals else {
            return self.unconfigured(file, m, "approvals", "the approvals file");
        };
        m.insert("approvals_file".into(), json!(path));
        m.insert("required".into(), json!(self.p.require));
        let read = approvals::read(&self.ws.root.join(path));
        let outcome = match read {
            Err(why) => {
                m.insert("result".into(), json!("fail"));
                m.insert("problems".into(), json!([format!("{path}: {why}")]));
                Outcome::fail(format!("{}: {why}", crate::sanitize::ascii(path)))
            }
            Ok(f) => {
                let intake = approvals::check(&f, &self.p.require, self.now);
                m.insert(
                    "result".into(),
                    json!(if intake.passed() { "pass" } else { "fail" }),
                );
                m.insert("entries".into(), json!(intake.entries));
                m.insert("missing".into(), json!(intake.missing));
                m.insert("problems".into(), json!(intake.problems));
                let outcome = if intake.passed() {
                    let approvals = intake
                        .entries
                        .iter()
                        .filter(|e| e.kind == "approval")
                        .count();
                    let earliest = intake
                        .entries
                        .iter()
                        .min_by(|a, b| a.expires_at.cmp(&b.expires_at))
                        .map(|e| format!("; first to expire: {} at {}", e.covers, e.expires_at))
                        .unwrap_or_default();
                    Outcome::ok(format!(
                        "{} and {} current{earliest}",
                        count(approvals, "approval"),
                        count(intake.entries.len() - approvals, "waiver")
                    ))
                } else {
                    Outcome::fail(crate::text::list_some(&intake.problems, 3))
                        .detail("problems", intake.problems.clone())
                };
                self.intake = Some(intake);
                outcome
            }
        };
        self.folder.write_json(file, Value::Object(m))?;
        Ok(outcome)
    }

    fn parity(&mut self, file: &str) -> Result<Outcome, WriteError> {
        let source = self.o.env.as_str();
        let target = self.p.parity_target.clone();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let rows = crate::parity::compare(
                &self.config.parity,
                &self.ws.root,
                source,
                &target,
                self.cx.scrubber,
            );
            let mut sub = Report::new(&crate::parity::KIND, Default::default());
            sub.rows = rows;
            let verdict = sub.verdict();
            let summary = sub
                .rows
                .last()
                .map(|r| r.outcome.message.clone())
                .unwrap_or_default();
            let mut m = self.head("staging-parity");
            m.insert("source".into(), json!(source));
            m.insert("target".into(), json!(target));
            m.insert("attempt".into(), json!(attempt));
            m.insert(
                "result".into(),
                json!(if verdict == Verdict::Safe {
                    "pass"
                } else {
                    "fail"
                }),
            );
            m.insert("report".into(), crate::report::json::to_value(&sub));
            let remediation: Vec<String> = sub
                .rows
                .iter()
                .filter(|r| r.id != "summary" && matches!(r.status(), Status::Warn | Status::Fail))
                .map(|r| format!("{}: {} -- align {source} with {target}, or list the key in parity.allow_differ", r.id, r.outcome.message))
                .collect();
            m.insert("remediation".into(), json!(remediation));
            self.folder.write_json(file, Value::Object(m))?;
            let status = if verdict == Verdict::Safe {
                "success"
            } else {
                "drift"
            };
            self.say(&format!(
                "[AUTOMATION] parity --source {source} --target {target} executed: {status}"
            ));
            if verdict == Verdict::Safe {
                let outcome = match sub.rows.last() {
                    Some(r) if r.status() == Status::Warn => Outcome::warn(summary),
                    _ => Outcome::ok(summary),
                };
                return Ok(if attempt > 1 {
                    Outcome {
                        message: format!("{} (after remediation)", outcome.message),
                        ..outcome
                    }
                } else {
                    outcome
                });
            }
            if attempt > 1 || self.stopped() {
                return Ok(Outcome::fail(format!(
                    "{summary} (still drifting after remediation)"
                )));
            }
            // The protocol's prompt: a yes re-checks (remediation applied),
            // it never waves the drift through.
            if !self.confirm("[DRIFT ALERT] Staging parity check failed. Confirm remediation applied before continuing? (yes/no)") {
                return Ok(Outcome::fail(summary));
            }
        }
    }

    /// Ask, or answer by `--yes`, or say no; the answer is shown.
    fn confirm(&self, question: &str) -> bool {
        if self.o.yes {
            self.say(&format!("{question} yes (--yes)"));
            return true;
        }
        match self.cx.progress.ask(question, &self.stop) {
            Some(answer) => answer,
            None if self.stopped() => {
                self.say(&format!("{question} no (interrupted)"));
                false
            }
            None => {
                self.say(&format!(
                    "{question} no (no terminal to answer on; pass --yes to answer yes)"
                ));
                false
            }
        }
    }

    /// `argv` with its placeholders filled (`{version}`, `{env}`,
    /// `{previous_tag}`, `{out}`); one that needs `{previous_tag}` when
    /// there is none is refused.
    fn expand(&self, argv: &[String], previous: Option<&str>) -> Result<Vec<String>, String> {
        for a in argv {
            if a.contains("{previous_tag}") && previous.is_none() {
                return Err(format!(
                    "{} needs {{previous_tag}}, and no release tag below {} is reachable from HEAD",
                    quoted(a),
                    self.o.version
                ));
            }
        }
        // One pass, and quoted where a value lands in a `sh -c` script.
        let out_dir = self.folder.dir().display().to_string();
        Ok(runner::substitute(
            argv,
            &[
                ("version", self.o.version.as_str()),
                ("env", self.o.env.as_str()),
                ("previous_tag", previous.unwrap_or("")),
                ("out", out_dir.as_str()),
            ],
        ))
    }

    /// Run commands in order until one fails; one record each, and why
    /// the one that failed did.
    fn commands(
        &self,
        list: &[Vec<String>],
        previous: Option<&str>,
    ) -> (Vec<Record>, Option<String>) {
        let env = [
            ("RS_ENV".to_string(), self.o.env.clone()),
            ("RS_VERSION".to_string(), self.o.version.clone()),
            (
                "RS_PREVIOUS_TAG".to_string(),
                previous.unwrap_or("").to_string(),
            ),
            (
                "RS_EVIDENCE_DIR".to_string(),
                self.folder.dir().display().to_string(),
            ),
        ];
        let mut out = Vec::new();
        for argv in list {
            let argv = match self.expand(argv, previous) {
                Ok(a) => a,
                Err(why) => return (out, Some(why)),
            };
            let started = crate::clock::rfc3339(SystemTime::now());
            let t = Instant::now();
            let ran = runner::run(&argv, &env, self.p.timeout, &self.ws.root, &self.stop);
            let elapsed = t.elapsed();
            let failure = ran.end.failure(self.p.timeout);
            let name = argv
                .first()
                .map(|p| {
                    Path::new(p)
                        .file_name()
                        .map_or(p.clone(), |n| n.to_string_lossy().into_owned())
                })
                .unwrap_or_default();
            self.say(&format!(
                "[AUTOMATION] {name} executed: {}",
                failure
                    .as_deref()
                    .map_or("success".to_string(), |f| format!("failed ({f})"))
            ));
            out.push(Record {
                command: crate::sanitize::shell_line(&argv),
                started,
                elapsed,
                failure: failure.clone(),
                ran,
            });
            if let Some(f) = failure {
                return (out, Some(format!("{}: {f}", argv.join(" "))));
            }
        }
        (out, None)
    }

    /// The records as a JSON list, their output scrubbed.
    fn records(&self, ran: &[Record]) -> Value {
        record::json_list(ran, self.cx.scrubber)
    }

    fn deploy(&mut self, file: &str) -> Result<Outcome, WriteError> {
        if self.p.deploy.is_empty() {
            self.folder.write(
                file,
                "# no deploy rehearsal is configured (predeploy.deploy)\n",
            )?;
            return Ok(self.not_configured("deploy", "the deploy rehearsal command"));
        }
        let (ran, failed) = self.commands(&self.p.deploy, None);
        let mut log = format!(
            "# release-sentinel predeploy: deployment rehearsal\n# env {} version {} commit {}\n# started {}\n",
            self.o.env,
            self.o.version,
            self.commit().unwrap_or_default(),
            self.started
        );
        for r in &ran {
            log.push_str(&r.transcript(self.cx.scrubber));
        }
        let total = record::total(&ran);
        log.push_str(&format!(
            "# result: {} ({}, {:.3} s)\n",
            failed
                .as_deref()
                .map_or("success".to_string(), |f| format!("FAILED: {f}")),
            count(ran.len(), "command"),
            total.as_secs_f64()
        ));
        self.folder.write(file, &log)?;
        Ok(match failed {
            Some(f) => Outcome::fail(f),
            None => Outcome::ok(format!(
                "{} in {:.1} s",
                count(ran.len(), "command"),
                total.as_secs_f64()
            )),
        }
        .detail("commands", self.records(&ran)))
    }

    /// Where the smoke tests write their JUnit report, when one is
    /// configured (see [`junit::locate`]).
    fn junit(&self) -> Result<Option<PathBuf>, String> {
        let Some(j) = &self.p.smoke_junit else {
            return Ok(None);
        };
        junit::locate(j, self.folder.dir(), &self.ws.root, |rel| {
            Ok(self
                .expand(&[rel.to_string()], None)?
                .into_iter()
                .next()
                .unwrap_or_default())
        })
        .map(Some)
    }

    fn smoke(&mut self, file: &str) -> Result<Outcome, WriteError> {
        let mut m = self.head("staging-test-results");
        if self.p.smoke.is_empty() {
            return self.unconfigured(file, m, "smoke", "the smoke test command");
        }
        let junit = match self.junit() {
            Ok(j) => j,
            Err(why) => {
                let problems = vec![why];
                m.insert("junit".into(), json!(self.p.smoke_junit));
                self.folder.write_result(file, m, &problems)?;
                return Ok(Outcome::fail(problems.join("; ")));
            }
        };
        // A previous run's results must not count for this one.
        if let Some(j) = &junit {
            let _ = std::fs::remove_file(j);
        }
        let (ran, failed) = self.commands(&self.p.smoke, None);
        let counts = junit.as_ref().map(|j| junit::read(j));
        m.insert("commands".into(), self.records(&ran));
        let mut problems: Vec<String> = failed.into_iter().collect();
        match &counts {
            None => {}
            Some(Err(why)) => problems.push(why.clone()),
            Some(Ok(c)) => {
                if c.tests == 0 {
                    problems.push("the JUnit report holds no test: nothing was tested".into());
                }
                if c.failures + c.errors > 0 {
                    problems.push(format!(
                        "{} failed, {} errors of {} tests",
                        c.failures, c.errors, c.tests
                    ));
                }
            }
        }
        let counts_json = match &counts {
            Some(Ok(c)) => c.json(),
            _ => Value::Null,
        };
        m.insert("junit".into(), json!(self.p.smoke_junit));
        m.insert("counts".into(), counts_json.clone());
        self.folder.write_result(file, m, &problems)?;
        Ok(if problems.is_empty() {
            match counts {
                Some(Ok(c)) => Outcome::ok(format!(
                    "{}: {} passed, {} skipped",
                    count(c.tests, "test"),
                    c.passed(),
                    c.skipped
                )),
                _ => Outcome::ok(format!(
                    "{} passed (no JUnit report configured)",
                    count(ran.len(), "command")
                )),
            }
        } else {
            Outcome::fail(problems.join("; "))
        }
        .detail("counts", counts_json))
    }

    fn rollback(&mut self, file: &str) -> Result<Outcome, WriteError> {
        let mut m = self.head("rollback-verification");
        if self.p.rollback.is_empty() {
            return self.unconfigured(file, m, "rollback", "the rollback rehearsal command");
        }
        // The highest release tag below this version that HEAD contains,
        // when there is one.
        let previous = self.ws.previous_tag(self.config, &self.o.version).ok();
        let (ran, failed) = self.commands(&self.p.rollback, previous.as_deref());
        let total = record::total(&ran);
        m.insert("previous_tag".into(), json!(previous));
        m.insert("steps".into(), self.records(&ran));
        m.insert("total_ms".into(), json!(total.as_millis() as u64));
        m.insert(
            "result".into(),
            json!(if failed.is_none() { "pass" } else { "fail" }),
        );
        m.insert("problem".into(), json!(failed));
        self.folder.write_json(file, Value::Object(m))?;
        Ok(match failed {
            Some(f) => Outcome::fail(f),
            None => Outcome::ok(format!(
                "rolled back to {} in {:.1} s ({})",
                previous.as_deref().unwrap_or("the previous release"),
                total.as_secs_f64(),
                count(ran.len(), "step")
            )),
        })
    }

    fn security(&mut self, file: &str) -> Result<Outcome, WriteError> {
        let scan = crate::scan::secrets_scan(Some(self.config), &self.ws.root, self.cx.vars);
        let (ran, failed) = self.commands(&self.p.audit, None);
        let mut m = self.head("security-compliance");
        m.insert(
            "secrets_scan".into(),
            json!({"status": scan.status.as_str(), "message": scan.message, "details": scan.details}),
        );
        m.insert("audits".into(), self.records(&ran));
        let waivers: Vec<&approvals::Checked> = self
            .intake
            .as_ref()
            .map(|i| i.entries.iter().filter(|e| e.kind == "waiver").collect())
            .unwrap_or_default();
        m.insert("waivers".into(), json!(waivers));
        let mut problems = Vec::new();
        if scan.status != Status::Ok {
            problems.push(format!("secrets scan: {}", scan.message));
        }
        if let Some(f) = failed {
            problems.push(f);
        }
        self.folder.write_result(file, m, &problems)?;
        Ok(if problems.is_empty() {
            Outcome::ok(match ran.len() {
                0 => {
                    "secrets scan clean; no audit command configured (predeploy.audit)".to_string()
                }
                n => format!("secrets scan clean; {} passed", count(n, "audit command")),
            })
        } else {
            Outcome::fail(problems.join("; "))
        })
    }

    fn package(&mut self) -> Result<Outcome, WriteError> {
        let entries: Vec<crate::bundle::Entry> = STEPS
            .iter()
            .filter(|s| s.gate < 4)
            .map(|s| crate::bundle::Entry {
                path: s.file.to_string(),
                base: self.folder.dir().to_path_buf(),
                description: format!("gate {} evidence: {}", s.gate, s.id),
                id: None,
            })
            .collect();
        let unix = match crate::bundle::archive_time(&self.ws.repo, self.cx.vars) {
            Ok(t) => t,
            Err(e) => return Ok(Outcome::fail(e.to_string())),
        };
        match crate::bundle::write_zip(
            &entries,
            &self.o.version,
            unix,
            &self.folder.path(PACKAGE),
            crate::par::threads(4),
            false, // flushed with the rest of the evidence at the end
        ) {
            Ok((sha, size, manifest)) => {
                self.say(&format!(
                    "[AUTOMATION] package executed: success ({PACKAGE}, sha256 {sha})"
                ));
                self.package = Some((sha.clone(), size));
                Ok(Outcome::ok(format!(
                    "{PACKAGE}: {}, {size} bytes",
                    count(manifest.files.len(), "file")
                ))
                .detail("sha256", sha)
                .detail("size", size))
            }
            Err(why) => Ok(Outcome::fail(format!("cannot build {PACKAGE}: {why}"))),
        }
    }

    fn review(&mut self, file: &str) -> Result<Outcome, WriteError> {
        let approved = self.confirm(
            "[READINESS REVIEW] Pre-deployment package compiled. Approve handoff to Protocol 11? (yes/no)",
        );
        let how = if self.o.yes {
            "--yes"
        } else if approved {
            "terminal"
        } else {
            "not approved"
        };
        let reviewer = [
            "GITHUB_ACTOR",
            "GITLAB_USER_LOGIN",
            "BUILD_REQUESTEDFOR",
            "USER",
            "LOGNAME",
        ]
        .iter()
        .find_map(|n| self.cx.vars.non_empty(n))
        .unwrap_or("unknown");
        let mut m = self.head("readiness-approval");
        m.insert(
            "decision".into(),
            json!(if approved { "approved" } else { "rejected" }),
        );
        m.insert("answered_by".into(), json!(how));
        m.insert("reviewer".into(), json!(reviewer));
        m.insert("conditions".into(), json!(self.conditions));
        m.insert(
            "signatories".into(),
            json!(
                self.intake
                    .as_ref()
                    .map(approvals::Intake::signatories)
                    .unwrap_or_default()
            ),
        );
        m.insert(
            "package".into(),
            json!(
                self.package
                    .as_ref()
                    .map(|(sha, size)| json!({"file": PACKAGE, "sha256": sha, "size": size}))
            ),
        );
        self.folder.write_json(file, Value::Object(m))?;
        Ok(if approved {
            Outcome::ok(format!("handoff approved ({how}, reviewer {reviewer})"))
        } else {
            Outcome::fail(
                "the handoff was not approved (answer yes on a terminal, or pass --yes in CI)",
            )
        })
    }
}
