//! `bundle --version V`: the release bundle (see [`release_sentinel::bundle`]);
//! `bundle verify <ZIP>`: its check. Both exit 0 when all passed, 1
//! otherwise.

use std::path::PathBuf;

use super::{Context, Done, Error};
use crate::cli::{OutputArgs, SignersArgs, SourceArgs, VersionArg};
use release_sentinel::bundle;
use release_sentinel::bundle::KIND;
use release_sentinel::evidence::sign;
use release_sentinel::report::{CheckResult, Outcome, Report, Target};
use release_sentinel::text::human;
use release_sentinel::text::list_some;

#[derive(Debug, Clone, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    mut_arg("release_version", |a| a.help("The release version: the bundle is <name>-v<version>.zip"))
)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,

    #[command(flatten)]
    pub release: VersionArg,

    /// Where to write it [default: bundle.out, artifacts/release]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Sign the bundle's .sha256 with this OpenSSH private key (or
    /// RS_SIGN_KEY; passphrase from RS_SIGN_PASSPHRASE): <zip>.sha256.sig,
    /// which `ssh-keygen -Y verify -n release-sentinel` checks
    #[arg(long, value_name = "PATH")]
    pub sign_key: Option<PathBuf>,

    #[command(flatten)]
    pub source: SourceArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Action {
    /// Check a bundle: its .sha256, its statement, every entry against
    /// MANIFEST.json; refuses unsafe names, links and bombs
    Verify {
        /// The bundle
        #[arg(value_name = "ZIP")]
        zip: PathBuf,
        #[command(flatten)]
        signers: SignersArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

pub fn output(args: &Args) -> Option<&OutputArgs> {
    match &args.action {
        Some(Action::Verify { output, .. }) => Some(output),
        None => Some(&args.output),
    }
}

pub fn run(args: &Args, cx: &Context<'_>) -> Result<Done, Error> {
    if let Some(Action::Verify { zip, signers, .. }) = &args.action {
        let (signers, now) =
            sign::verifying(signers.allowed_signers.as_deref(), cx.vars).map_err(Error::Refused)?;
        let mut report = verify(zip);
        let sums = PathBuf::from(format!("{}.sha256", zip.display()));
        if let Some(outcome) = sign::check_file(&sums, signers.as_ref(), now) {
            report.rows.push(CheckResult::untimed("signature", outcome));
        }
        return Ok(Done::Report(report));
    }
    let version = args.release.release_version.clone().unwrap_or_default();
    let ws = args.source.open(None, cx);
    let mut report = ws.report(&KIND, None, Some(&version));
    let Ok(config) = &ws.config else {
        return Ok(Done::Report(report));
    };
    let bare = version.trim_start_matches('v');
    if semver::Version::parse(bare).is_err() {
        report.rows.push(CheckResult::untimed(
            "version",
            Outcome::fail(format!(
                "{} is not a SemVer version like v1.2.3",
                release_sentinel::sanitize::quoted(&version)
            )),
        ));
        return Ok(Done::Report(report));
    }
    let b = &config.bundle;
    if b.files.is_empty() {
        report.error = Some(format!(
            "{} lists no [[bundle.files]]: nothing to bundle",
            config.source
        ));
        return Ok(Done::Report(report));
    }
    let from_config = Some((&config.signing, ws.root.as_path()));
    let signer = match sign::signer(args.sign_key.as_deref(), cx.vars, cx.scrubber, from_config) {
        Ok(s) => s,
        Err(why) => {
            report
                .rows
                .push(CheckResult::untimed("signature", Outcome::fail(why)));
            return Ok(Done::Report(report));
        }
    };
    let unix = release_sentinel::bundle::archive_time(&ws.repo, cx.vars).map_err(Error::Refused)?;
    let name = b.name.clone().unwrap_or_else(|| {
        ws.root
            .file_name()
            .map_or("release".to_string(), |n| n.to_string_lossy().into_owned())
    });
    // The folder from the config stays inside the repository: not through
    // a link (`--out` names any folder, on purpose).
    if args.out.is_none()
        && let Some(link) =
            release_sentinel::fsutil::linked_part(&ws.root, std::path::Path::new(&b.out))
    {
        report.rows.push(CheckResult::untimed(
            "bundle",
            Outcome::fail(format!(
                "bundle.out {}: {} is a symbolic link (it could lead out of the repository); pass --out DIR to write elsewhere",
                release_sentinel::sanitize::quoted(&b.out),
                link.display()
            )),
        ));
        return Ok(Done::Report(report));
    }
    let out = args.out.clone().unwrap_or_else(|| ws.root.join(&b.out));
    let entries = match bundle::collect(b, &ws.root, &out) {
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
            return Ok(Done::Report(report));
        }
    };
    let built = match bundle::build(
        &entries,
        &name,
        &version,
        unix,
        &out,
        release_sentinel::par::threads(8),
    ) {
        Ok(b) => b,
        Err(why) => {
            report.rows.push(CheckResult::untimed(
                "bundle",
                Outcome::fail(format!("cannot build the bundle: {why}")),
            ));
            return Ok(Done::Report(report));
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
            bundle::MANIFEST
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
    Ok(Done::Report(report))
}

fn verify(zip: &std::path::Path) -> Report {
    let mut report = Report::new(&KIND, Target::default());
    report.config = Some("none (bundle verify reads only the bundle)".to_string());
    let v = bundle::verify(zip);
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
                release_sentinel::text::count(v.checked, "file")
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
