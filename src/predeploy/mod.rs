//! The pre-deployment protocol (`predeploy --env staging --version V`):
//! its four gates, in order, each step leaving its evidence file under
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
//! show SKIP. The manifest is rewritten after every step, so after a halt,
//! an interrupt or a kill it lists what was written (size, SHA-256) and
//! what is missing. The two prompts ask only when a person can answer
//! (stdin and stderr are terminals); `--yes` answers for CI; otherwise the
//! answer is no, and the run halts.
//!
//! The parts: [`section`] (`[predeploy]`, which the config imports by
//! that name), [`protocol`] (the table: steps, gates, files, messages),
//! [`steps`] (the run), [`folder`] (the evidence files, written whole),
//! [`record`] (a command's run as the evidence records it) and [`junit`]
//! (the smoke tests' report).
//!
//! Deliberately not done: the protocol's `[GUIDELINE]` steps (test data,
//! observability baseline, runbooks, checklist updates) are people's work.

pub mod folder;
pub mod junit;
pub mod protocol;
pub mod record;
pub mod section;
pub mod steps;

pub use folder::WriteError;
pub use protocol::{KIND, step_ids};
pub use steps::{Options, run};
