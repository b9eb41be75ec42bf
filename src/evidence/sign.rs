//! SSH signatures over evidence records and release bundles, in the
//! format `ssh-keygen -Y sign` writes (`SSHSIG`, armored as
//! `-----BEGIN SSH SIGNATURE-----`), so that an auditor can check who
//! produced a record with `ssh-keygen -Y verify` and the keys their team
//! already signs git commits with.
//!
//! What is signed is a digest list: a record's `SHA256SUMS`, a bundle's
//! `<zip>.sha256`. The signature goes beside it as `<file>.sig`, made with
//! the namespace [`NAMESPACE`] (a signature made for git commits, or for
//! any other purpose, does not verify here), and SHA-512 as the message
//! hash, as `ssh-keygen` does by default. The crypto and the format are
//! the `ssh-key` crate's; this module reads keys, writes and reads the
//! files, and parses `allowed_signers` (ssh-keygen's format, see
//! [`AllowedSigners`]).
//!
//! Keys: OpenSSH private keys, Ed25519 or ECDSA P-256, optionally
//! passphrase-protected; the passphrase comes from [`PASSPHRASE_VAR`] and
//! is registered with the scrubber before anything else is done with it.
//! The lines of the key file are registered too: neither can reach an
//! output or a file.
//!
//! Left out: certificates (`cert-authority` lines in `allowed_signers`
//! never match a plain key; the tool signs with plain keys only), keys
//! held by an agent or a hardware token (`sk-` keys), RSA keys, and
//! revocation lists (`ssh-keygen -Y verify -r`).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ssh_key::{Fingerprint, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use crate::envsnap::EnvSnapshot;
use crate::report::Outcome;
use crate::sanitize;
use crate::secrets::Scrubber;

/// The namespace of every signature this tool makes or accepts:
/// `ssh-keygen -Y verify -n release-sentinel`.
pub const NAMESPACE: &str = "release-sentinel";
/// What a signature file's name adds to the signed file's.
pub const SUFFIX: &str = ".sig";
/// The variable naming the private key, when `--sign-key` is not given.
pub const KEY_VAR: &str = "RS_SIGN_KEY";
/// The variable holding the key's passphrase.
pub const PASSPHRASE_VAR: &str = "RS_SIGN_PASSPHRASE";
/// The largest private key file read.
const MAX_KEY: u64 = 64 * 1024;
/// The largest signature file read.
const MAX_SIG: u64 = 64 * 1024;
/// The largest `allowed_signers` file read.
const MAX_SIGNERS: u64 = 4 * 1024 * 1024;

/// A private key, ready to sign.
pub struct Signer {
    key: PrivateKey,
    /// `SHA256:...`, as `ssh-keygen -l` shows it.
    pub fingerprint: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Where the signing key is: `flag` (`--sign-key`), else [`KEY_VAR`].
pub fn key_path(flag: Option<&Path>, vars: &EnvSnapshot) -> Result<Option<PathBuf>, String> {
    if let Some(p) = flag {
        return Ok(Some(p.to_path_buf()));
    }
    match vars.get(KEY_VAR) {
        Ok(v) => Ok(v
            .filter(|v| !sanitize::is_blank(v))
            .map(|v| PathBuf::from(v.trim()))),
        Err(_) => Err(format!("{KEY_VAR} is set but not valid UTF-8")),
    }
}

/// `[signing]` as written.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The private key that signs evidence records and bundles when
    /// neither `--sign-key` nor [`KEY_VAR`] names one; relative to the
    /// repository root. (A path, not a key: never the key itself.)
    pub identity_file: Option<String>,
}

/// Check `[signing]`.
pub fn validate(raw: Raw, problems: &mut crate::config::values::Problems) -> Raw {
    if let Some(f) = &raw.identity_file
        && (sanitize::is_blank(f) || f.chars().any(char::is_control))
    {
        problems.push(
            "signing.identity_file",
            "a path to an OpenSSH private key is needed (printable text)",
        );
    }
    if let Some(f) = &raw.identity_file
        && f.contains("PRIVATE KEY")
    {
        problems.push(
            "signing.identity_file",
            "holds a key, not the path of its file; secrets are never written in the file",
        );
    }
    raw
}

/// The signer `--sign-key` (`flag`), [`KEY_VAR`] or `[signing]
/// identity_file` (`config`, relative to `root`) names, if any, in that
/// order.
pub fn signer(
    flag: Option<&Path>,
    vars: &EnvSnapshot,
    scrubber: &Scrubber,
    config: Option<(&Raw, &Path)>,
) -> Result<Option<Signer>, String> {
    let from_config =
        || config.and_then(|(raw, root)| raw.identity_file.as_ref().map(|f| root.join(f.trim())));
    key_path(flag, vars)?
        .or_else(from_config)
        .map(|p| Signer::load(&p, vars, scrubber))
        .transpose()
}

/// What a verifying command needs: the signers `--allowed-signers`
/// (`path`) names, if any, and the time to judge their validity by (the
/// run's clock: `CI_FAKE_UTC` fixes it). The error is a usage error.
pub fn verifying(
    path: Option<&Path>,
    vars: &EnvSnapshot,
) -> Result<(Option<AllowedSigners>, SystemTime), String> {
    let signers = path.map(AllowedSigners::read).transpose()?;
    let now = crate::clock::now(vars)?;
    Ok((signers, now))
}

impl Signer {
    /// Read the OpenSSH private key at `path`, decrypted with
    /// [`PASSPHRASE_VAR`] when it is protected. The error is one line that
    /// names the file, never its content or the passphrase.
    pub fn load(path: &Path, vars: &EnvSnapshot, scrubber: &Scrubber) -> Result<Self, String> {
        let shown = sanitize::ascii(&path.display().to_string());
        let passphrase = match vars.get(PASSPHRASE_VAR) {
            Ok(p) => p.filter(|p| !p.is_empty()),
            Err(_) => return Err(format!("{PASSPHRASE_VAR} is set but not valid UTF-8")),
        };
        if let Some(p) = passphrase {
            scrubber.add(p);
        }
        let data = crate::fsutil::read_regular(path, MAX_KEY)
            .map_err(|why| format!("cannot read the signing key {shown}: {why}"))?;
        let text = String::from_utf8(data)
            .map_err(|_| format!("the signing key {shown} is not an OpenSSH private key"))?;
        // Every line of the key is a secret: none may reach an output.
        for line in text.lines().map(str::trim) {
            if !line.starts_with("-----") && line.len() >= 16 {
                scrubber.add(line);
            }
        }
        let key = PrivateKey::from_openssh(&text).map_err(|_| {
            format!(
                "the signing key {shown} is not an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----, as ssh-keygen writes)"
            )
        })?;
        drop(text);
        let key = if key.is_encrypted() {
            let Some(p) = passphrase else {
                return Err(format!(
                    "the signing key {shown} is protected by a passphrase: set {PASSPHRASE_VAR}"
                ));
            };
            key.decrypt(p).map_err(|_| {
                format!(
                    "cannot decrypt the signing key {shown}: {PASSPHRASE_VAR} is not its passphrase"
                )
            })?
        } else {
            key
        };
        use ssh_key::{Algorithm, EcdsaCurve};
        match key.algorithm() {
            Algorithm::Ed25519
            | Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            } => {}
            other => {
                return Err(format!(
                    "the signing key {shown} is an {other} key; release-sentinel signs with Ed25519 or ECDSA P-256 keys (ssh-keygen -t ed25519)"
                ));
            }
        }
        let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
        Ok(Self { key, fingerprint })
    }

    /// The armored signature of `data`, as `ssh-keygen -Y sign -n
    /// release-sentinel` writes it.
    pub fn sign(&self, data: &[u8]) -> Result<String, String> {
        self.key
            .sign(NAMESPACE, HashAlg::Sha512, data)
            .and_then(|sig| sig.to_pem(LineEnding::LF))
            .map_err(|e| format!("cannot sign with key {}: {e}", self.fingerprint))
    }

    /// Sign the file `path` holding `data`: `<path>.sig`, written whole.
    pub fn sign_file(&self, path: &Path, data: &[u8]) -> Result<PathBuf, String> {
        let sig = self.sign(data)?;
        let out = sig_path(path);
        crate::fsutil::write_atomic(&out, sig.as_bytes()).map_err(|e| {
            format!(
                "cannot write {}: {}",
                sanitize::ascii(&out.display().to_string()),
                crate::fsutil::plain(&e)
            )
        })?;
        Ok(out)
    }
}

/// After a bundle's checksum file `sums` was written: sign it with
/// `signer` (`<sums>.sig`), or remove a signature left from an earlier
/// bundle when there is no signer. The row to report, if any.
pub fn after_bundle(signer: Option<&Signer>, sums: &Path, shown: &str) -> Option<Outcome> {
    let Some(signer) = signer else {
        let _ = std::fs::remove_file(sig_path(sums));
        return None;
    };
    let signed =
        crate::fsutil::read_regular(sums, MAX_SIG).and_then(|data| signer.sign_file(sums, &data));
    Some(match signed {
        Ok(_) => Outcome::ok(format!(
            "{shown}{SUFFIX}: signed by key {} (ssh-keygen -Y verify -n {NAMESPACE} checks it)",
            signer.fingerprint
        ))
        .detail("fingerprint", signer.fingerprint.as_str()),
        Err(why) => Outcome::fail(why),
    })
}

/// [`check`] of the file at `path`, named by its file name.
pub fn check_file(
    path: &Path,
    signers: Option<&AllowedSigners>,
    now: SystemTime,
) -> Option<Outcome> {
    let name = sanitize::ascii(&path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    ));
    match crate::fsutil::read_regular(path, MAX_SIG) {
        Ok(data) => check(path, &name, &data, signers, now),
        Err(why) => signers.map(|_| {
            Outcome::fail(format!(
                "{name}: {why}: nothing to check the signature against"
            ))
        }),
    }
}

/// The signature file of `path`: `<path>.sig`.
pub fn sig_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(SUFFIX);
    PathBuf::from(name)
}

/// One line of an `allowed_signers` file.
#[derive(Debug, Clone)]
struct Entry {
    line: usize,
    /// The principals field as written (a pattern list).
    principals: String,
    /// `namespaces="..."`: the pattern list the namespace must match.
    namespaces: Option<String>,
    /// `valid-after=`, unix seconds.
    valid_after: Option<i64>,
    /// `valid-before=`, unix seconds.
    valid_before: Option<i64>,
    /// `cert-authority`: the key signs certificates, never a record.
    cert_authority: bool,
    /// Always there once the line is parsed.
    key: Option<PublicKey>,
}

/// An `allowed_signers` file, as `ssh-keygen -Y verify -f` and git's
/// `gpg.ssh.allowedSignersFile` read it: one key per line, `principals
/// [options] keytype base64 [comment]`; `#` comments and blank lines
/// ignored. The options honoured are `namespaces="pattern,..."`,
/// `valid-after=` and `valid-before=` (`YYYYMMDD[HHMM[SS]][Z]`, read as
/// UTC: `ssh-keygen` reads a time without `Z` in the local time zone,
/// which is the same on a machine set to UTC, as CI runners are) and
/// `cert-authority` (such a line never matches: the tool's signatures are
/// made by plain keys). Another option is refused, as `ssh-keygen` does.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    /// How the file is named in messages.
    pub shown: String,
    entries: Vec<Entry>,
}

impl AllowedSigners {
    /// Read and parse the file at `path`. The error names the file and the
    /// line.
    pub fn read(path: &Path) -> Result<Self, String> {
        let shown = sanitize::ascii(&path.display().to_string());
        let data = crate::fsutil::read_regular(path, MAX_SIGNERS)
            .map_err(|why| format!("allowed signers {shown}: {why}"))?;
        let text = String::from_utf8(data)
            .map_err(|_| format!("allowed signers {shown}: not UTF-8 text"))?;
        Self::parse(&text, &shown)
    }

    /// Parse the text of an `allowed_signers` file named `shown`.
    pub fn parse(text: &str, shown: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = parse_line(line, i + 1)
                .map_err(|why| format!("allowed signers {shown} line {}: {why}", i + 1))?;
            entries.push(entry);
        }
        Ok(Self {
            shown: shown.to_string(),
            entries,
        })
    }
}

/// The next field of `rest`: up to unquoted white space.
fn field(rest: &str) -> (&str, &str) {
    let rest = rest.trim_start();
    let mut quoted = false;
    for (i, c) in rest.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&rest[..i], rest[i..].trim_start()),
            _ => {}
        }
    }
    (rest, "")
}

fn parse_line<'a>(line: &'a str, n: usize) -> Result<Entry, String> {
    let (principals, rest) = field(line);
    let principals = principals
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(principals);
    if principals.is_empty() {
        return Err("no principals".to_string());
    }
    let key_of = |text: &str| {
        PublicKey::from_openssh(text).map_err(|_| {
            format!(
                "{} is not a public key (keytype base64, as in a .pub file)",
                sanitize::quoted(&sanitize::capped(field(text).0, 40))
            )
        })
    };
    let mut entry = Entry {
        line: n,
        principals: principals.to_string(),
        namespaces: None,
        valid_after: None,
        valid_before: None,
        cert_authority: false,
        key: None,
    };
    // As ssh-keygen: the field after the principals is the key, or else
    // options and then the key.
    let (first, after) = field(rest);
    if PublicKey::from_openssh(rest).is_ok() || looks_like_key_type(first) {
        entry.key = Some(key_of(rest)?);
        return Ok(entry);
    }
    for option in split_options(first)? {
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (option, None),
        };
        let name = name.to_ascii_lowercase();
        // ssh-keygen requires these values quoted.
        let quoted = |v: &'a str| -> Result<&'a str, String> {
            unquote(v)?.ok_or_else(|| format!("the value of {name} must be in double quotes"))
        };
        match (name.as_str(), value) {
            ("cert-authority", None) => entry.cert_authority = true,
            ("namespaces", Some(v)) => entry.namespaces = Some(quoted(v)?.to_string()),
            ("valid-after", Some(v)) => entry.valid_after = Some(parse_time(quoted(v)?)?),
            ("valid-before", Some(v)) => entry.valid_before = Some(parse_time(quoted(v)?)?),
            _ => {
                return Err(format!(
                    "unknown option {} (known: namespaces=, valid-after=, valid-before=, cert-authority)",
                    sanitize::quoted(&sanitize::capped(option, 40))
                ));
            }
        }
    }
    if after.is_empty() {
        return Err("no public key after the options".to_string());
    }
    entry.key = Some(key_of(after)?);
    Ok(entry)
}

fn looks_like_key_type(s: &str) -> bool {
    ["ssh-", "ecdsa-", "sk-", "rsa-"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// The comma-separated options, commas inside quotes kept.
fn split_options(text: &str) -> Result<Vec<&str>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err("an option's quote is not closed".to_string());
    }
    out.push(&text[start..]);
    Ok(out)
}

/// The text inside double quotes, `None` when `v` is not quoted.
fn unquote(v: &str) -> Result<Option<&str>, String> {
    match v.strip_prefix('"') {
        Some(inner) => inner
            .strip_suffix('"')
            .map(Some)
            .ok_or_else(|| "an option's quote is not closed".to_string()),
        None => Ok(None),
    }
}

/// `YYYYMMDD[HHMM[SS]][Z]` as unix seconds (UTC).
fn parse_time(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "{} is not a time like 20260131 or 202601311200Z (YYYYMMDD[HHMM[SS]][Z])",
            sanitize::quoted(&sanitize::capped(text, 30))
        )
    };
    let digits = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| digits.get(r).and_then(|s| s.parse::<u32>().ok());
    let (year, month, day) = (num(0..4), num(4..6), num(6..8));
    let (hour, min, sec) = (
        num(8..10).unwrap_or(0),
        num(10..12).unwrap_or(0),
        num(12..14).unwrap_or(0),
    );
    let date = match (year, month, day) {
        (Some(y), Some(m), Some(d)) => chrono::NaiveDate::from_ymd_opt(y as i32, m, d),
        _ => None,
    };
    date.and_then(|d| d.and_hms_opt(hour, min, sec))
        .map(|t| t.and_utc().timestamp())
        .ok_or_else(bad)
}

/// Whether `text` matches the pattern list `list` as OpenSSH's
/// `match_pattern_list` does: comma-separated patterns with `*` and `?`,
/// a `!` pattern that matches refuses at once.
fn matches_list(text: &str, list: &str) -> bool {
    let mut matched = false;
    for pattern in list.split(',').map(str::trim) {
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard(text.as_bytes(), negated.as_bytes()) => return false,
            Some(_) => {}
            None if wildcard(text.as_bytes(), pattern.as_bytes()) => matched = true,
            None => {}
        }
    }
    matched
}

/// `*` and `?` wildcards; iterative, so no pattern is slow.
fn wildcard(text: &[u8], pattern: &[u8]) -> bool {
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

/// Check `<file>.sig` against `data` (the bytes of `file`, named `name`
/// in messages) and, when given, `signers`, at `now`.
///
/// - Not signed: a FAIL with signers; without them, nothing (`None`).
/// - Not an SSH signature, another namespace, or a signature that does
///   not match the data: FAIL.
/// - Without signers, a good signature is OK and says that it was not
///   checked against any signers (anyone can sign anything).
/// - With signers, the signature's key must be on a line whose
///   `namespaces` allow [`NAMESPACE`] and whose `valid-after` and
///   `valid-before` hold `now`; the row names that line's principals and
///   the key's fingerprint.
pub fn check(
    file: &Path,
    name: &str,
    data: &[u8],
    signers: Option<&AllowedSigners>,
    now: SystemTime,
) -> Option<Outcome> {
    let sig_file = sig_path(file);
    let sig_name = format!("{name}{SUFFIX}");
    let text = match std::fs::symlink_metadata(&sig_file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let signers = signers?;
            return Some(
                Outcome::fail(format!(
                    "{name} is not signed (no {sig_name}), and {} requires a signature",
                    signers.shown
                ))
                .detail("signed", false),
            );
        }
        _ => match crate::fsutil::read_regular(&sig_file, MAX_SIG) {
            Ok(t) => t,
            Err(why) => return Some(Outcome::fail(format!("{sig_name}: {why}"))),
        },
    };
    let sig = match SshSig::from_pem(&text) {
        Ok(s) => s,
        Err(_) => {
            return Some(Outcome::fail(format!(
                "{sig_name} is not an SSH signature (-----BEGIN SSH SIGNATURE-----, as ssh-keygen -Y sign writes)"
            )));
        }
    };
    let fingerprint = Fingerprint::new(HashAlg::Sha256, sig.public_key()).to_string();
    let fail = |why: String| {
        Some(
            Outcome::fail(why)
                .detail("signed", true)
                .detail("fingerprint", fingerprint.as_str()),
        )
    };
    if sig.namespace() != NAMESPACE {
        return fail(format!(
            "{sig_name} was made for the namespace {}, not {NAMESPACE} (ssh-keygen -Y sign -n {NAMESPACE})",
            sanitize::quoted(&sanitize::capped(sig.namespace(), 40))
        ));
    }
    let public = PublicKey::from(sig.public_key().clone());
    if public.verify(NAMESPACE, data, &sig).is_err() {
        return fail(format!(
            "{sig_name} does not match {name}: {name} changed after it was signed, or the signature was not made over it (key {fingerprint})"
        ));
    }
    let Some(signers) = signers else {
        return Some(
            Outcome::ok(format!(
                "{name} is signed by key {fingerprint}; not checked against any signers (give --allowed-signers FILE to know who signed it)"
            ))
            .detail("signed", true)
            .detail("fingerprint", fingerprint.as_str())
            .detail("principal", serde_json::Value::Null),
        );
    };
    let same_key: Vec<&Entry> = signers
        .entries
        .iter()
        .filter(|e| {
            !e.cert_authority && e.key.as_ref().map(PublicKey::key_data) == Some(sig.public_key())
        })
        .collect();
    if same_key.is_empty() {
        return fail(format!(
            "{name} is signed by key {fingerprint}, which is not in {}",
            signers.shown
        ));
    }
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut refused: Vec<String> = Vec::new();
    for e in same_key {
        let at = format!("{} line {} ({})", signers.shown, e.line, e.principals);
        if let Some(ns) = &e.namespaces
            && !matches_list(NAMESPACE, ns)
        {
            refused.push(format!(
                "{at} allows the namespaces {}, not {NAMESPACE}",
                sanitize::quoted(ns)
            ));
            continue;
        }
        if let Some(after) = e.valid_after
            && now < after
        {
            refused.push(format!("{at} is valid only after {}", utc(after)));
            continue;
        }
        if let Some(before) = e.valid_before
            && now > before
        {
            refused.push(format!("{at} expired at {}", utc(before)));
            continue;
        }
        return Some(
            Outcome::ok(format!(
                "{name} is signed by {} (key {fingerprint}, {} line {})",
                sanitize::ascii(&e.principals),
                signers.shown,
                e.line
            ))
            .detail("signed", true)
            .detail("fingerprint", fingerprint.as_str())
            .detail("principal", sanitize::ascii(&e.principals))
            .detail("line", e.line),
        );
    }
    fail(format!(
        "{name} is signed by key {fingerprint}, but {}",
        refused.join("; ")
    ))
}

fn utc(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map_or_else(|| unix.to_string(), crate::clock::rfc3339_utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_lists_match_as_openssh_does() {
        assert!(matches_list("release-sentinel", "git,release-*"));
        assert!(matches_list("release-sentinel", "*"));
        assert!(!matches_list("release-sentinel", "git,file"));
        assert!(!matches_list("release-sentinel", "*,!release-sentinel"));
        assert!(matches_list("release-sentinel", "r?lease-sentinel"));
        assert!(!matches_list("release-sentinel", "release"));
        assert!(wildcard(b"a", b"a**"));
        assert!(!wildcard(b"aaaaaaaaaaaaaaaaaaaaaab", b"*a*a*a*a*a*a*a*a*c"));
    }

    #[test]
    fn times_are_read_as_ssh_keygen_writes_them() {
        assert_eq!(parse_time("19700102"), Ok(86_400));
        assert_eq!(parse_time("197001020001Z"), Ok(86_460));
        assert_eq!(parse_time("19700102000102"), Ok(86_462));
        for bad in ["2026", "20261301", "2026013", "x0260101", "20260101+"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKvrJ5+Mj1A3sihJ9azwY697AamFFkQksVNEtH5L8JQK";

    #[test]
    fn lines_with_and_without_options_parse() {
        let text = format!(
            "# team\n\nalice@example.com {KEY} laptop\n\"bob@x,carol@*\" namespaces=\"git,release-*\",valid-after=\"20260101\",valid-before=\"20270101Z\" {KEY}\n*@ci cert-authority {KEY}\n"
        );
        let s = AllowedSigners::parse(&text, "allowed").unwrap();
        assert_eq!(s.entries.len(), 3);
        assert_eq!(s.entries[0].principals, "alice@example.com");
        assert_eq!(s.entries[0].line, 3);
        assert_eq!(s.entries[1].namespaces.as_deref(), Some("git,release-*"));
        assert!(s.entries[1].valid_after.is_some() && s.entries[1].valid_before.is_some());
        assert!(s.entries[2].cert_authority);
        let err = AllowedSigners::parse(&format!("a@b frobnicate {KEY}\n"), "f").unwrap_err();
        assert!(
            err.starts_with("allowed signers f line 1: unknown option"),
            "{err}"
        );
        let err = AllowedSigners::parse("a@b ssh-ed25519 AAAA\n", "f").unwrap_err();
        assert!(err.contains("line 1: "), "{err}");
        let err =
            AllowedSigners::parse(&format!("a@b valid-after=20260101 {KEY}\n"), "f").unwrap_err();
        assert!(
            err.ends_with("the value of valid-after must be in double quotes"),
            "{err}"
        );
        assert_eq!(s.entries[1].principals, "bob@x,carol@*");
    }
}
