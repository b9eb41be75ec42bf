//! What `bundle` does, as rows: building the release bundle from
//! `[bundle]` ([`release`]: the files, the zip, its .sha256 and in-toto
//! statement, the signature) and checking one ([`check`]). Building reads
//! the whole configuration and the workspace, so the engine and the
//! section ([`super`]) do not import this file.

use std::path::{Path, PathBuf};

use super::KIND;
use crate::envsnap::EnvSnapshot;
use crate::evidence::sign;
use crate::report::{CheckResult, Outcome, Report, Target};
use crate::text::{human, list_some};
use crate::workspace::{Context, Workspace};

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The release version (`v1.2.3`): the bundle is `<name>-v<version>.zip`.
    pub version: String,
    /// Where to write it (default: `bundle.out`, which must stay inside
    /// the repository).
    pub out: Option<PathBuf>,
    /// The OpenSSH private key that signs the .sha256 (else
    /// `RS_SIGN_KEY`, else `[signing]`).
    pub sign_key: Option<PathBuf>,
}

/// Build the release bundle for `options` in `ws`, its rows into `report`.
/// `Err` when no time can be given to the archive.
pub fn release(
    options: &Options,
    ws: &Workspace,
    cx: &Context<'_>,
    report: &mut Report,
) -> Result<(), String> {
    let version = &options.version;
    let Ok(config) = &ws.config else {
        return Ok(());
    };
    let bare = version.trim_start_matches('v');
    if semver::Version::parse(bare).is_err() {
        report.rows.push(CheckResult::untimed(
            "version",
            Outcome::fail(format!(
                "{} is not a SemVer version like v1.2.3",
                crate::sanitize::quoted(version)
            )),
        ));
        return Ok(());
    }
    let b = &config.bundle;
    if b.files.is_empty() {
        report.error = Some(format!(
            "{} lists no [[bundle.files]]: nothing to bundle",
            config.source
        ));
        return Ok(());
    }
    let from_config = Some((&config.signing, ws.root.as_path()));
    let signer = match sign::signer(
        options.sign_key.as_deref(),
        cx.vars,
        cx.scrubber,
        from_config,
    ) {
        Ok(s) => s,
        Err(why) => {
            report
                .rows
                .push(CheckResult::untimed("signature", Outcome::fail(why)));
            return Ok(());
        }
    };
    let unix = super::archive_time(&ws.repo, cx.vars)?;
    let name = b.name.clone().unwrap_or_else(|| {
        ws.root
            .file_name()
            .map_or("release".to_string(), |n| n.to_string_lossy().into_owned())
    });
    // The folder from the config stays inside the repository: not through
    // a link (`--out` names any folder, on purpose).
    if options.out.is_none()
        && let Some(link) = crate::fsutil::linked_part(&ws.root, std::path::Path::new(&b.out))
    {
        report.rows.push(CheckResult::untimed(
            "bundle",
            Outcome::fail(format!(
                "bundle.out {}: {} is a symbolic link (it could lead out of the repository); pass --out DIR to write elsewhere",
                crate::sanitize::quoted(&b.out),
                link.display()
            )),
        ));
        return Ok(());
    }
    let out = options.out.clone().unwrap_or_else(|| ws.root.join(&b.out));
    let entries = match super::collect(b, &ws.root, &out) {
        Ok(e) => e,
        Err(problems) => {
            report.rows.push(CheckResult::untimed(
                "files",
                Outcome::fail(format!(
                    "{} listed file{} missing: {}",
                    problems.len(),
                    if problems.len() == 1 { " is" } else { "s are" },
                    list_some(&problems, 4)
                ))
                .detail("problems", problems),
            ));
            return Ok(());
        }
    };
    let built = match super::build(&entries, &name, version, unix, &out, crate::par::threads(8)) {
        Ok(b) => b,
        Err(why) => {
            report.rows.push(CheckResult::untimed(
                "bundle",
                Outcome::fail(format!("cannot build the bundle: {why}")),
            ));
            return Ok(());
        }
    };
    let shown = |p: &std::path::Path| p.strip_prefix(&ws.root).unwrap_or(p).display().to_string();
    let total: u64 = built.manifest.files.iter().map(|r| r.size).sum();
    let records: Vec<serde_json::Value> = built
        .manifest
        .files
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .collect();
    report.rows.push(CheckResult::untimed(
        "files",
        Outcome::ok(format!(
            "{} files, {}, each with its SHA-256 in {}",
            entries.len(),
            human(total),
            super::MANIFEST
        ))
        .detail("files", records),
    ));
    report.rows.push(CheckResult::untimed(
        "bundle",
        Outcome::ok(format!(
            "{}: {}, sha256 {}",
            shown(&built.zip),
            human(built.size),
            built.sha256
        ))
        .detail("path", shown(&built.zip))
        .detail("sha256", built.sha256.as_str())
        .detail("created_at", built.manifest.created_at.as_str()),
    ));
    report.rows.push(CheckResult::untimed(
        "checksum",
        Outcome::ok(format!(
            "{} (sha256sum -c reads it)",
            shown(&built.checksum_file)
        )),
    ));
    report.rows.push(CheckResult::untimed(
        "statement",
        Outcome::ok(format!(
            "{} (in-toto Statement v1, unsigned: cosign attest --predicate it)",
            shown(&built.statement)
        )),
    ));
    let sums = shown(&built.checksum_file);
    if let Some(outcome) = sign::after_bundle(signer.as_ref(), &built.checksum_file, &sums) {
        report.rows.push(CheckResult::untimed("signature", outcome));
    }
    Ok(())
}

/// `bundle verify`: the bundle at `zip` checked (its .sha256, its
/// statement, every entry against the manifest), and its .sha256's
/// signature when there is one, against `allowed_signers` (else
/// `RS_ALLOWED_SIGNERS`). `Err` when the allowed signers cannot be read.
pub fn check(
    zip: &Path,
    allowed_signers: Option<&Path>,
    vars: &EnvSnapshot,
) -> Result<Report, String> {
    let (signers, now) = sign::verifying(allowed_signers, vars)?;
    let mut report = rows(zip);
    let sums = PathBuf::from(format!("{}.sha256", zip.display()));
    if let Some(outcome) = sign::check_file(&sums, signers.as_ref(), now) {
        report.rows.push(CheckResult::untimed("signature", outcome));
    }
    Ok(report)
}

/// The bundle's own checks, a row each.
fn rows(zip: &Path) -> Report {
    let mut report = Report::new(&KIND, Target::default());
    report.config = Some("none (bundle verify reads only the bundle)".to_string());
    let v = super::verify(zip);
    report.rows.push(CheckResult::untimed(
        "checksum",
        match &v.checksum {
            Ok(sum) => Outcome::ok(format!("the .sha256 matches: {sum}")),
            Err(why) => Outcome::fail(why.clone()),
        },
    ));
    if let Some(st) = &v.statement {
        report.rows.push(CheckResult::untimed(
            "statement",
            match st {
                Ok(()) => Outcome::ok("the in-toto statement's subject is this bundle"),
                Err(why) => Outcome::fail(format!("the in-toto statement: {why}")),
            },
        ));
    }
    let unsafe_names: Vec<String> = v
        .unsafe_entries
        .iter()
        .map(|(n, why)| format!("{n}: {why}"))
        .collect();
    report.rows.push(CheckResult::untimed(
        "entries",
        if unsafe_names.is_empty() {
            Outcome::ok("every entry is a safe, unique, regular file with bounded expansion")
        } else {
            Outcome::fail(format!("refused: {}", list_some(&unsafe_names, 3)))
                .detail("refused", unsafe_names)
        },
    ));
    let manifest = if let Some(why) = &v.unreadable {
        Outcome::fail(why.clone())
    } else if !v.unsafe_entries.is_empty() {
        Outcome::skip("not checked: the bundle has unsafe entries")
    } else {
        let mut problems = Vec::new();
        for (what, list) in [
            ("missing", &v.missing),
            ("extra", &v.extra),
            ("modified", &v.modified),
            ("wrong size", &v.wrong_size),
        ] {
            if !list.is_empty() {
                problems.push(format!("{what}: {}", list_some(list, 3)));
            }
        }
        if problems.is_empty() {
            Outcome::ok(format!(
                "{} present and intact",
                crate::text::count(v.checked, "file")
            ))
        } else {
            Outcome::fail(problems.join("; "))
        }
        .detail("missing", v.missing.clone())
        .detail("extra", v.extra.clone())
        .detail("modified", v.modified.clone())
        .detail("wrong_size", v.wrong_size.clone())
    };
    report.rows.push(CheckResult::untimed("manifest", manifest));
    report
}
