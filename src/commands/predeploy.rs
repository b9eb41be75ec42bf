//! `predeploy --env staging --version V`: the pre-deployment protocol's
//! four gates, in order, each step leaving its evidence file under
//! `.artifacts/pre-deployment/` (or `--out`) with the protocol's name.
//!
//! 1. Intake: the approvals file (`intake-validation-report.json`) and
//!    staging parity (`staging-parity-report.json`).
//! 2. Rehearsal: the deploy commands (`staging-deployment-run.log`, a
//!    transcript with timings) and the smoke tests
//!    (`staging-test-results.json`, with counts from their JUnit XML).
//! 3. Rollback and security: the rollback commands with `{previous_tag}`
//!    (`rollback-verification-report.json`), the secrets scan and the
//!    audit commands (`security-compliance-report.json`).
//! 4. Readiness: `PRE-DEPLOYMENT-PACKAGE.zip` (reproducible, by the bundle
//!    code), the readiness review (`readiness-approval.json`) and
//!    `pre-deployment-manifest.json`.
//!
//! Every step is a `[MUST]`: the first that fails halts the run; the rest
//! show SKIP. The protocol's status lines go to stderr as written. The
//! manifest is rewritten after every step, so after a halt, an interrupt
//! or a kill it lists what was written (size, SHA-256) and what is
//! missing. Every file is written whole (temporary name, then rename) and
//! every text scrubbed of secrets; the files are flushed to disk together
//! when the run ends, halted or not (one flush for the lot rather than one
//! per write: the manifest alone is written up to ten times). The two
//! prompts ask only when a person can answer (stdin and stderr are
//! terminals); `--yes` answers for CI; otherwise the answer is no, and the
//! run halts.
//!
//! Deliberately not done: the protocol's `[GUIDELINE]` steps (test data,
//! observability baseline, runbooks, checklist updates) are people's work.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::{Context, Done, Error, Workspace};
use crate::cli::Common;
use release_sentinel::approvals;
use release_sentinel::config::Config;
use release_sentinel::exit::Verdict;
use release_sentinel::predeploy::{
    KIND, MANIFEST, OUT_DIR, PACKAGE, PHASE_NAME, PHASE_START, Predeploy, Ran, STEPS, StepDef,
    error_line, junit_counts,
};
use release_sentinel::report::{CheckResult, Outcome, Phase, Status};
use release_sentinel::runner;
use release_sentinel::sanitize::quoted;
use release_sentinel::text::count;

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:\n  \
    release-sentinel predeploy --env staging --version v1.2.3\n  \
    release-sentinel predeploy --env staging --version v1.2.3 --yes   # in CI: answer the prompts yes\n\n\
    Exit codes: 0 READY (every step passed), 1 HALTED (a step failed, a prompt was\n\
    answered no, the run was interrupted, or it could not run).")]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Answer yes to the protocol's prompts (for CI). Without it, and
    /// without a terminal to ask on, the answer is no
    #[arg(long)]
    pub yes: bool,
    /// Where the evidence files go [default: .artifacts/pre-deployment at
    /// the repository root]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub evidence: crate::cli::EvidenceArgs,
}

/// Everything a step needs.
struct Run<'a> {
    args: &'a Args,
    cx: &'a Context<'a>,
    ws: &'a Workspace,
    config: &'a Config,
    p: &'a crate::commands::predeploy::Predeploy,
    out: PathBuf,
    now: SystemTime,
    stop: std::sync::Arc<AtomicBool>,
    started: String,
    /// What the approvals step found (the review names the signatories).
    intake: Option<approvals::Intake>,
    /// The package's digest, for the review.
    package: Option<(String, u64)>,
    /// WARN rows so far: the review's conditions.
    conditions: Vec<String>,
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    let stop = cx.interrupt_flag();
    let ws = args.common.open(cx);
    let mut report = args.common.target.report(&ws, &KIND);
    let (Ok(config), &Ok(clock)) = (&ws.config, &ws.now) else {
        return Ok(Done::Report(report));
    };
    // The version reaches the rehearsal commands: parse it before anything
    // runs or is written.
    super::release_version(config, &args.common.target)?;
    let now: SystemTime = clock.utc.into();
    let out = args.out.clone().unwrap_or_else(|| ws.root.join(OUT_DIR));
    let mut r = Run {
        args,
        cx,
        ws: &ws,
        config,
        p: &config.predeploy,
        out,
        now,
        stop,
        started: release_sentinel::clock::rfc3339(now),
        intake: None,
        package: None,
        conditions: Vec::new(),
    };
    r.prepare()?;
    let mut phase = 0;
    let mut halted: Option<&'static str> = None;
    for (i, step) in STEPS.iter().enumerate() {
        if halted.is_some() || r.stop.load(Ordering::SeqCst) {
            let why = if r.stop.load(Ordering::SeqCst) {
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
            if !r.stop.load(Ordering::SeqCst) {
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
    let interrupted = r.stop.load(Ordering::SeqCst);
    report.interrupted = Some(interrupted);
    r.write_manifest(&report.rows, halted)?;
    r.flush()?;
    if halted.is_none() && !interrupted {
        r.say("[PROTOCOL COMPLETE] - Pre-deployment readiness approved. Ready for Protocol 11 (Production Deployment).");
    } else {
        r.say(&format!(
            "[HALT] Pre-deployment stopped{}; the evidence so far and what is missing: {}",
            halted
                .map(|h| format!(" at {h}"))
                .unwrap_or_else(|| " (interrupted)".into()),
            r.out.join(MANIFEST).display()
        ));
    }
    args.evidence.attach(&mut report, &ws, cx, false);
    Ok(Done::Report(report))
}

impl Run<'_> {
    fn say(&self, line: &str) {
        self.cx.progress.say(&self.cx.scrubber.scrub(line));
    }

    fn path(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    /// Create the folder, remove a previous run's files (so the manifest
    /// and the folder tell the same story), and write the first manifest:
    /// a folder that cannot be written stops the run before anything runs.
    fn prepare(&self) -> Result<(), Error> {
        let write_err = |e: std::io::Error| Error::Write {
            what: format!("the evidence to {}", self.out.display()),
            source: e,
        };
        std::fs::create_dir_all(&self.out).map_err(write_err)?;
        for name in STEPS.iter().map(|s| s.file).chain([MANIFEST]) {
            match std::fs::remove_file(self.path(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(write_err(e)),
                _ => {}
            }
        }
        // The first write names the folder: it is the folder that cannot
        // be written.
        match self.write_manifest(&[], None) {
            Err(Error::Write { source, .. }) => Err(write_err(source)),
            other => other,
        }
    }

    /// Write an evidence file whole, scrubbed; [`Run::flush`] puts it on
    /// disk.
    fn write(&self, name: &str, text: &str) -> Result<(), Error> {
        let clean = self.cx.scrubber.scrub(text);
        release_sentinel::fsutil::write_whole(&self.path(name), clean.as_bytes()).map_err(|e| {
            Error::Write {
                what: self.path(name).display().to_string(),
                source: e,
            }
        })
    }

    /// Flush the evidence files and the manifest to disk, all at once.
    fn flush(&self) -> Result<(), Error> {
        let paths: Vec<PathBuf> = STEPS
            .iter()
            .map(|s| s.file)
            .chain([MANIFEST])
            .map(|name| self.path(name))
            .collect();
        release_sentinel::fsutil::sync(&paths).map_err(|e| Error::Write {
            what: format!("the evidence to {}", self.out.display()),
            source: e,
        })
    }

    fn write_json(&self, name: &str, mut value: Value) -> Result<(), Error> {
        release_sentinel::report::json::scrub_value(&mut value, self.cx.scrubber);
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        self.write(name, &text)
    }

    /// The fields every JSON evidence file starts with.
    fn head(&self, what: &str) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("schema_version".into(), json!(1));
        m.insert("evidence".into(), json!(what));
        m.insert("env".into(), json!(self.args.common.target.env()));
        m.insert("version".into(), json!(self.args.common.target.version()));
        m.insert(
            "commit".into(),
            json!(self.ws.repo.as_ref().ok().map(|r| r.head.to_string())),
        );
        m.insert(
            "time".into(),
            json!(release_sentinel::clock::rfc3339(self.now)),
        );
        m
    }

    /// The manifest: what was written (size, SHA-256) and what is missing.
    fn write_manifest(&self, rows: &[CheckResult], halted: Option<&str>) -> Result<(), Error> {
        let mut artifacts = Vec::new();
        let mut missing = Vec::new();
        for s in STEPS {
            let p = self.path(s.file);
            match (
                std::fs::metadata(&p),
                release_sentinel::digest::sha256_file(&p),
            ) {
                (Ok(m), Ok(sha)) if m.is_file() => artifacts.push(json!({
                    "file": s.file, "gate": s.gate, "step": s.id, "size": m.len(), "sha256": sha,
                })),
                _ => missing.push(json!({"file": s.file, "gate": s.gate, "step": s.id})),
            }
        }
        let done = rows.len() == STEPS.len();
        let status = if self.stop.load(Ordering::SeqCst) {
            "interrupted"
        } else if halted.is_some() {
            "halted"
        } else if done && missing.is_empty() {
            "complete"
        } else {
            "in_progress"
        };
        let mut m = self.head("pre-deployment-manifest");
        m.insert("started_at".into(), json!(self.started));
        m.insert("status".into(), json!(status));
        m.insert("halted_at".into(), json!(halted));
        m.insert(
            "steps".into(),
            json!(rows.iter().map(|r| json!({"step": r.id, "status": r.status().as_str(), "message": r.outcome.message})).collect::<Vec<_>>()),
        );
        m.insert("artifacts".into(), json!(artifacts));
        m.insert("missing".into(), json!(missing));
        self.write_json(MANIFEST, Value::Object(m))
    }

    fn step(&mut self, step: &StepDef) -> Result<Outcome, Error> {
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

    /// Write a step's evidence file with its `result` (pass when there is
    /// no problem) and its `problems`.
    fn write_result(
        &self,
        file: &str,
        mut m: serde_json::Map<String, Value>,
        problems: &[String],
    ) -> Result<(), Error> {
        let result = if problems.is_empty() { "pass" } else { "fail" };
        m.insert("result".into(), json!(result));
        m.insert("problems".into(), json!(problems));
        self.write_json(file, Value::Object(m))
    }

    /// A step whose setting is missing: its evidence file says so, and it
    /// fails.
    fn unconfigured(
        &self,
        file: &str,
        m: serde_json::Map<String, Value>,
        key: &str,
        what: &str,
    ) -> Result<Outcome, Error> {
        let outcome = self.not_configured(key, what);
        self.write_result(file, m, std::slice::from_ref(&outcome.message))?;
        Ok(outcome)
    }

    fn not_configured(&self, key: &str, what: &str) -> Outcome {
        Outcome::fail(format!(
            "not configured: set predeploy.{key} in {} ({what}); a step that cannot run does not pass",
            self.config.source
        ))
    }

    fn approvals(&mut self, file: &str) -> Result<Outcome, Error> {
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
                Outcome::fail(format!(
                    "{}: {why}",
                    release_sentinel::sanitize::ascii(path)
                ))
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
                    Outcome::fail(release_sentinel::text::list_some(&intake.problems, 3))
                        .detail("problems", intake.problems.clone())
                };
                self.intake = Some(intake);
                outcome
            }
        };
        self.write_json(file, Value::Object(m))?;
        Ok(outcome)
    }

    fn parity(&mut self, file: &str) -> Result<Outcome, Error> {
        let source = self.args.common.target.env();
        let target = self.p.parity_target.clone();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let rows = release_sentinel::parity::compare(
                &self.config.parity,
                &self.ws.root,
                source,
                &target,
                self.cx.scrubber,
            );
            let mut sub = release_sentinel::report::Report::new(
                &release_sentinel::parity::KIND,
                Default::default(),
            );
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
            m.insert(
                "report".into(),
                release_sentinel::report::json::to_value(&sub),
            );
            let remediation: Vec<String> = sub
                .rows
                .iter()
                .filter(|r| r.id != "summary" && matches!(r.status(), Status::Warn | Status::Fail))
                .map(|r| format!("{}: {} -- align {source} with {target}, or list the key in parity.allow_differ", r.id, r.outcome.message))
                .collect();
            m.insert("remediation".into(), json!(remediation));
            self.write_json(file, Value::Object(m))?;
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
            if attempt > 1 || self.stop.load(Ordering::SeqCst) {
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
        if self.args.yes {
            self.say(&format!("{question} yes (--yes)"));
            return true;
        }
        match self.cx.progress.ask(question, &self.stop) {
            Some(answer) => answer,
            None if self.stop.load(Ordering::SeqCst) => {
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

    fn expand(&self, argv: &[String], previous: Option<&str>) -> Result<Vec<String>, String> {
        let mut out = Vec::with_capacity(argv.len());
        for a in argv {
            if a.contains("{previous_tag}") && previous.is_none() {
                return Err(format!(
                    "{} needs {{previous_tag}}, and no release tag below {} is reachable from HEAD",
                    quoted(a),
                    self.args.common.target.version()
                ));
            }
        }
        // One pass, and quoted where a value lands in a `sh -c` script.
        let out_dir = self.out.display().to_string();
        out.extend(runner::substitute(
            argv,
            &[
                ("version", self.args.common.target.version()),
                ("env", self.args.common.target.env()),
                ("previous_tag", previous.unwrap_or("")),
                ("out", out_dir.as_str()),
            ],
        ));
        Ok(out)
    }

    /// Run commands in order until one fails; one record each.
    fn commands(&self, list: &[Vec<String>], previous: Option<&str>) -> (Vec<Ran>, Option<String>) {
        let env = [
            (
                "RS_ENV".to_string(),
                self.args.common.target.env().to_string(),
            ),
            (
                "RS_VERSION".to_string(),
                self.args.common.target.version().to_string(),
            ),
            (
                "RS_PREVIOUS_TAG".to_string(),
                previous.unwrap_or("").to_string(),
            ),
            (
                "RS_EVIDENCE_DIR".to_string(),
                self.out.display().to_string(),
            ),
        ];
        let mut out = Vec::new();
        for argv in list {
            let argv = match self.expand(argv, previous) {
                Ok(a) => a,
                Err(why) => return (out, Some(why)),
            };
            let started = release_sentinel::clock::rfc3339(SystemTime::now());
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
            let record = Ran {
                command: release_sentinel::sanitize::shell_line(&argv),
                started,
                elapsed,
                exit_code: ran.end.code(),
                failure: failure.clone(),
                stdout: ran.stdout.scrubbed(self.cx.scrubber),
                stdout_bytes: ran.stdout.total,
                stdout_cut: ran.stdout.cut(),
                stderr: ran.stderr.scrubbed(self.cx.scrubber),
                stderr_bytes: ran.stderr.total,
                stderr_cut: ran.stderr.cut(),
            };
            out.push(record);
            if let Some(f) = failure {
                return (out, Some(format!("{}: {f}", argv.join(" "))));
            }
        }
        (out, None)
    }

    fn deploy(&mut self, file: &str) -> Result<Outcome, Error> {
        if self.p.deploy.is_empty() {
            self.write(
                file,
                "# no deploy rehearsal is configured (predeploy.deploy)\n",
            )?;
            return Ok(self.not_configured("deploy", "the deploy rehearsal command"));
        }
        let (ran, failed) = self.commands(&self.p.deploy, None);
        let mut log = format!(
            "# release-sentinel predeploy: deployment rehearsal\n# env {} version {} commit {}\n# started {}\n",
            self.args.common.target.env(),
            self.args.common.target.version(),
            self.ws
                .repo
                .as_ref()
                .map(|r| r.head.to_string())
                .unwrap_or_default(),
            self.started
        );
        for r in &ran {
            log.push_str(&r.transcript());
        }
        let total: Duration = ran.iter().map(|r| r.elapsed).sum();
        log.push_str(&format!(
            "# result: {} ({}, {:.3} s)\n",
            failed
                .as_deref()
                .map_or("success".to_string(), |f| format!("FAILED: {f}")),
            count(ran.len(), "command"),
            total.as_secs_f64()
        ));
        self.write(file, &log)?;
        Ok(match failed {
            Some(f) => Outcome::fail(f),
            None => Outcome::ok(format!(
                "{} in {:.1} s",
                count(ran.len(), "command"),
                total.as_secs_f64()
            )),
        }
        .detail("commands", ran.iter().map(Ran::json).collect::<Vec<_>>()))
    }

    /// Where the smoke tests write their JUnit report (a previous one is
    /// deleted there): under the repository root, or under the evidence
    /// folder when written `{out}/...`; never through a link, never out of
    /// that folder, whatever `{version}` and `{env}` expand to.
    fn junit(&self) -> Result<Option<PathBuf>, String> {
        let Some(j) = &self.p.smoke_junit else {
            return Ok(None);
        };
        let (base, rel) = match j.strip_prefix("{out}/") {
            Some(rest) => (self.out.as_path(), rest),
            None => (self.ws.root.as_path(), j.as_str()),
        };
        let rel = self
            .expand(&[rel.to_string()], None)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let refused = |why: String| {
            format!(
                "predeploy.smoke_junit {}: {why}; the report is not deleted nor read",
                quoted(&rel)
            )
        };
        if let Some(why) = release_sentinel::bundle::unsafe_name(&rel) {
            return Err(refused(why.to_string()));
        }
        if let Some(link) = release_sentinel::fsutil::linked_part(base, Path::new(&rel)) {
            return Err(refused(format!(
                "{} is a symbolic link (it could lead out of its folder)",
                link.display()
            )));
        }
        Ok(Some(base.join(rel)))
    }

    fn smoke(&mut self, file: &str) -> Result<Outcome, Error> {
        let mut m = self.head("staging-test-results");
        if self.p.smoke.is_empty() {
            return self.unconfigured(file, m, "smoke", "the smoke test command");
        }
        let junit = match self.junit() {
            Ok(j) => j,
            Err(why) => {
                let problems = vec![why];
                m.insert("junit".into(), json!(self.p.smoke_junit));
                self.write_result(file, m, &problems)?;
                return Ok(Outcome::fail(problems.join("; ")));
            }
        };
        // A previous run's results must not count for this one.
        if let Some(j) = &junit {
            let _ = std::fs::remove_file(j);
        }
        let (ran, failed) = self.commands(&self.p.smoke, None);
        let counts = junit.as_ref().map(|j| junit_counts(j));
        m.insert(
            "commands".into(),
            json!(ran.iter().map(Ran::json).collect::<Vec<_>>()),
        );
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
            Some(Ok(c)) => {
                json!({"tests": c.tests, "passed": c.tests - c.failures - c.errors - c.skipped, "failures": c.failures, "errors": c.errors, "skipped": c.skipped})
            }
            _ => Value::Null,
        };
        m.insert("junit".into(), json!(self.p.smoke_junit));
        m.insert("counts".into(), counts_json.clone());
        self.write_result(file, m, &problems)?;
        Ok(if problems.is_empty() {
            match counts {
                Some(Ok(c)) => Outcome::ok(format!(
                    "{}: {} passed, {} skipped",
                    count(c.tests, "test"),
                    c.tests - c.failures - c.errors - c.skipped,
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

    fn rollback(&mut self, file: &str) -> Result<Outcome, Error> {
        let mut m = self.head("rollback-verification");
        if self.p.rollback.is_empty() {
            return self.unconfigured(file, m, "rollback", "the rollback rehearsal command");
        }
        let previous = match &self.ws.repo {
            Ok(repo) => {
                let policy = self.config.policy_for(self.args.common.target.env());
                match policy.tag_format.release(self.args.common.target.version()) {
                    Ok(release) => release_sentinel::git::tags::highest_below(
                        repo,
                        &policy.tag_format,
                        &release.version,
                    )
                    .ok()
                    .flatten(),
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
        let (ran, failed) = self.commands(&self.p.rollback, previous.as_deref());
        let total: Duration = ran.iter().map(|r| r.elapsed).sum();
        m.insert("previous_tag".into(), json!(previous));
        m.insert(
            "steps".into(),
            json!(ran.iter().map(Ran::json).collect::<Vec<_>>()),
        );
        m.insert("total_ms".into(), json!(total.as_millis() as u64));
        m.insert(
            "result".into(),
            json!(if failed.is_none() { "pass" } else { "fail" }),
        );
        m.insert("problem".into(), json!(failed));
        self.write_json(file, Value::Object(m))?;
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

    fn security(&mut self, file: &str) -> Result<Outcome, Error> {
        let scan =
            release_sentinel::scan::secrets_scan(Some(self.config), &self.ws.root, self.cx.vars);
        let (ran, failed) = self.commands(&self.p.audit, None);
        let mut m = self.head("security-compliance");
        m.insert(
            "secrets_scan".into(),
            json!({"status": scan.status.as_str(), "message": scan.message, "details": scan.details}),
        );
        m.insert(
            "audits".into(),
            json!(ran.iter().map(Ran::json).collect::<Vec<_>>()),
        );
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
        self.write_result(file, m, &problems)?;
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

    fn package(&mut self) -> Result<Outcome, Error> {
        let entries: Vec<release_sentinel::bundle::Entry> = STEPS
            .iter()
            .filter(|s| s.gate < 4)
            .map(|s| release_sentinel::bundle::Entry {
                path: s.file.to_string(),
                base: self.out.clone(),
                description: format!("gate {} evidence: {}", s.gate, s.id),
                id: None,
            })
            .collect();
        let unix = match release_sentinel::bundle::archive_time(&self.ws.repo, self.cx.vars) {
            Ok(t) => t,
            Err(e) => return Ok(Outcome::fail(e.to_string())),
        };
        match release_sentinel::bundle::write_zip(
            &entries,
            self.args.common.target.version(),
            unix,
            &self.path(PACKAGE),
            release_sentinel::par::threads(4),
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

    fn review(&mut self, file: &str) -> Result<Outcome, Error> {
        let approved = self.confirm(
            "[READINESS REVIEW] Pre-deployment package compiled. Approve handoff to Protocol 11? (yes/no)",
        );
        let how = if self.args.yes {
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
        self.write_json(file, Value::Object(m))?;
        Ok(if approved {
            Outcome::ok(format!("handoff approved ({how}, reviewer {reviewer})"))
        } else {
            Outcome::fail(
                "the handoff was not approved (answer yes on a terminal, or pass --yes in CI)",
            )
        })
    }
}
