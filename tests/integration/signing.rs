//! Signed evidence and bundles: keys made here by the real `ssh-keygen`,
//! records and bundles signed by the tool, then checked by `ssh-keygen -Y
//! verify` (the command the README shows) and by `evidence verify` and
//! `bundle verify` with `--allowed-signers`; forgeries of every kind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::evidence::{probing_repo, verify_once_with_evidence};
use crate::harness::{Repo, SAFE, Sentinel, context, health_url, require_tool, row, toml_str};

const OPENSSH: &str = "apt-get install -y --no-install-recommends openssh-client";
const NS: &str = "release-sentinel";
const ALICE: &str = "alice@example.com";
const PASSPHRASE: &str = "correct-horse-passphrase-7731";

fn ssh_keygen() -> PathBuf {
    require_tool("ssh-keygen", OPENSSH)
}

/// A key pair made by `ssh-keygen -t TYPE` at `dir/name` (and `.pub`).
pub fn keygen(dir: &Path, name: &str, kind: &str, passphrase: &str) -> PathBuf {
    let path = dir.join(name);
    let mut cmd = Command::new(ssh_keygen());
    cmd.args(["-q", "-t", kind, "-N", passphrase, "-C", name, "-f"])
        .arg(&path);
    if kind == "ecdsa" {
        cmd.args(["-b", "256"]);
    }
    let out = cmd.output().expect("run ssh-keygen");
    assert!(out.status.success(), "{}", context(&out));
    path
}

pub fn public(key: &Path) -> String {
    let text = std::fs::read_to_string(format!("{}.pub", key.display())).expect("read .pub");
    text.trim().to_string()
}

/// `SHA256:...`, as `ssh-keygen -l` shows it.
fn fingerprint(key: &Path) -> String {
    let out = Command::new(ssh_keygen())
        .arg("-lf")
        .arg(format!("{}.pub", key.display()))
        .output()
        .expect("ssh-keygen -l");
    assert!(out.status.success(), "{}", context(&out));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string()
}

/// An allowed_signers file at `dir/name` with `lines`.
pub fn allowed(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write allowed_signers");
    path
}

/// Exactly the README's command: `ssh-keygen -Y verify -f ALLOWED -I
/// PRINCIPAL -n release-sentinel -s FILE.sig < FILE`.
pub fn ssh_verify(allowed: &Path, principal: &str, file: &Path) -> Output {
    let sig = format!("{}.sig", file.display());
    Command::new(ssh_keygen())
        .args(["-Y", "verify", "-f"])
        .arg(allowed)
        .args(["-I", principal, "-n", NS, "-s", &sig])
        .stdin(Stdio::from(
            std::fs::File::open(file).expect("open signed file"),
        ))
        .output()
        .expect("run ssh-keygen -Y verify")
}

/// `ssh-keygen -Y sign` of `file` with `key` for `namespace`, as a forger
/// (or another tool) would.
fn ssh_sign(key: &Path, namespace: &str, file: &Path) {
    let sig = PathBuf::from(format!("{}.sig", file.display()));
    let _ = std::fs::remove_file(&sig);
    let out = Command::new(ssh_keygen())
        .args(["-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(file)
        .output()
        .expect("run ssh-keygen -Y sign");
    assert!(out.status.success(), "{}", context(&out));
}

fn config() -> String {
    format!(
        "[[health.api]]\nname = \"svc\"\nurl = {}\n",
        toml_str(health_url())
    )
}

fn gate(repo: &Repo) -> Sentinel {
    Sentinel::new()
        .dir(&repo.path)
        .env("CI_FAKE_UTC", "2026-03-01T12:00:00Z")
        .gate("prod", "v1.0.0")
}

fn check(dir: &Path) -> Sentinel {
    Sentinel::new()
        .env("CI_FAKE_UTC", "2026-03-01T12:00:00Z")
        .args(["evidence", "verify"])
        .arg(dir)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn copy(src: &Path, dst: &Path) -> PathBuf {
    std::fs::create_dir_all(dst).expect("mkdir");
    for name in files_in(src) {
        std::fs::copy(src.join(&name), dst.join(&name)).expect("copy");
    }
    dst.to_path_buf()
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("list").flatten() {
            let p = e.path();
            if p.is_dir() && !p.ends_with(".git") {
                todo.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

/// The folder for keys in `repo`'s scratch space, made.
fn keys_dir(repo: &Repo) -> PathBuf {
    let keys = repo.scratch().join("keys");
    std::fs::create_dir(&keys).expect("mkdir");
    keys
}

/// A key made in [`keys_dir`] and an allowed_signers file there that
/// names `principal` for it.
struct Signer {
    keys: PathBuf,
    key: PathBuf,
    signers: PathBuf,
}

/// A [`Signer`]: key `name` of `kind` protected by `passphrase`.
fn signer(repo: &Repo, name: &str, kind: &str, passphrase: &str, principal: &str) -> Signer {
    let keys = keys_dir(repo);
    let key = keygen(&keys, name, kind, passphrase);
    let signers = allowed(
        &keys,
        "allowed_signers",
        &[format!("{principal} {}", public(&key))],
    );
    Signer { keys, key, signers }
}

/// The lines of a private key that hold its material.
fn key_lines(key: &Path) -> Vec<String> {
    std::fs::read_to_string(key)
        .expect("read key")
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_string)
        .collect()
}

#[test]
fn a_signed_record_is_accepted_by_ssh_keygen_and_by_evidence_verify() {
    let repo = Repo::with_config(&config());
    let Signer { key, signers, .. } = signer(&repo, "alice", "ed25519", "", ALICE);
    let dir = repo.scratch().join("evidence");
    gate(&repo)
        .arg("--evidence")
        .arg(&dir)
        .arg("--sign-key")
        .arg(&key)
        .stdout_has(SAFE)
        .safe();
    assert_eq!(
        files_in(&dir),
        ["SHA256SUMS", "SHA256SUMS.sig", "config.toml", "record.json"]
    );
    let sig = std::fs::read_to_string(dir.join("SHA256SUMS.sig")).expect("sig");
    assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----\n"), "{sig}");
    assert!(sig.ends_with("-----END SSH SIGNATURE-----\n"), "{sig}");

    let out = ssh_verify(&signers, ALICE, &dir.join("SHA256SUMS"));
    assert!(out.status.success(), "{}", context(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("Good \"{NS}\" signature for {ALICE}")),
        "{}",
        context(&out)
    );

    let fp = fingerprint(&key);
    check(&dir)
        .arg("--allowed-signers")
        .arg(&signers)
        .stdout_has(row("digests", "OK"))
        .stdout_has(row("verdict", "OK"))
        .stdout_has(format!(
            "| signature                 | OK   | SHA256SUMS is signed by {ALICE} (key {fp}, {} line 1) |",
            signers.display()
        ))
        .stdout_has("EVIDENCE=VERIFIED")
        .safe();
    // Without signers: checked, and said not to be checked against any.
    check(&dir)
        .stdout_has(format!(
            "| signature                 | OK   | SHA256SUMS is signed by key {fp}; not checked against any signers"
        ))
        .safe();
    // The JSON row names the principal and the fingerprint.
    let out = check(&dir)
        .arg("--allowed-signers")
        .arg(&signers)
        .args(["--format", "json"])
        .safe();
    let doc = crate::harness::json_of(&out);
    let sig_row = crate::harness::json_check(&doc, "signature");
    assert_eq!(sig_row["details"]["principal"], ALICE);
    assert_eq!(sig_row["details"]["fingerprint"], fp.as_str());

    // Signed again without a key: the old signature goes with the old
    // manifest, and an unsigned record verifies as before.
    gate(&repo).arg("--evidence").arg(&dir).safe();
    assert_eq!(files_in(&dir), ["SHA256SUMS", "config.toml", "record.json"]);
    check(&dir).stdout_lacks("signature").safe();
    check(&dir)
        .arg("--allowed-signers")
        .arg(&signers)
        .stdout_has(format!(
            "| signature                 | FAIL | SHA256SUMS is not signed (no SHA256SUMS.sig), and {} requires a signature |",
            signers.display()
        ))
        .blocked();
}

#[test]
fn a_passphrase_protected_key_from_the_environment_leaks_nowhere() {
    let repo = Repo::with_config(&config());
    let Signer { keys, key, signers } =
        signer(&repo, "locked", "ed25519", PASSPHRASE, "ci@example.com");
    let dir = repo.scratch().join("evidence");
    let planted = key_lines(&key);
    let leak_free = |mut s: Sentinel| {
        s = s.nowhere(PASSPHRASE);
        for l in &planted {
            s = s.nowhere(l.clone());
        }
        s
    };
    let report = repo.scratch().join("report.json");
    leak_free(
        gate(&repo)
            .env("RS_SIGN_KEY", &key)
            .env("RS_SIGN_PASSPHRASE", PASSPHRASE)
            .arg("--evidence")
            .arg(&dir)
            .arg("--report")
            .arg(&report)
            .args(["-vvv"]),
    )
    .safe();
    let out = ssh_verify(&signers, "ci@example.com", &dir.join("SHA256SUMS"));
    assert!(out.status.success(), "{}", context(&out));
    leak_free(check(&dir).arg("--allowed-signers").arg(&signers))
        .stdout_has("SHA256SUMS is signed by ci@example.com")
        .safe();

    // No passphrase, a wrong one: the run fails, says why, writes nothing.
    let other = repo.scratch().join("no-passphrase");
    leak_free(
        gate(&repo)
            .env("RS_SIGN_KEY", &key)
            .arg("--evidence")
            .arg(&other),
    )
    .stderr_has(format!(
        "cannot write evidence to {}: the signing key {} is protected by a passphrase: set RS_SIGN_PASSPHRASE",
        other.display(),
        key.display()
    ))
    .stdout_has("RELEASE_SENTINEL=BLOCKED")
    .blocked();
    assert!(!other.exists());
    leak_free(
        gate(&repo)
            .env("RS_SIGN_KEY", &key)
            .env("RS_SIGN_PASSPHRASE", "not-the-passphrase-1234")
            .arg("--evidence")
            .arg(&other)
            .args(["--format", "json"]),
    )
    .stdout_has("RS_SIGN_PASSPHRASE is not its passphrase")
    .nowhere("not-the-passphrase-1234")
    .blocked();

    // Nothing written holds the key or the passphrase.
    for file in all_files(&repo.scratch()) {
        if file.starts_with(&keys) {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("read")).into_owned();
        assert!(
            !text.contains(PASSPHRASE),
            "{} holds the passphrase",
            file.display()
        );
        for l in &planted {
            assert!(
                !text.contains(l.as_str()),
                "{} holds the key",
                file.display()
            );
        }
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("record.json")).expect("record"))
            .expect("json");
    assert!(
        doc["variables"].get("RS_SIGN_PASSPHRASE").is_none(),
        "{doc}"
    );
}

#[test]
fn an_ecdsa_p256_key_signs_too() {
    let repo = Repo::with_config(&config());
    let Signer { key, signers, .. } = signer(&repo, "ecdsa", "ecdsa", "", "ops@example.com");
    let dir = repo.scratch().join("evidence");
    gate(&repo)
        .arg("--evidence")
        .arg(&dir)
        .arg("--sign-key")
        .arg(&key)
        .safe();
    let out = ssh_verify(&signers, "ops@example.com", &dir.join("SHA256SUMS"));
    assert!(out.status.success(), "{}", context(&out));
    check(&dir)
        .arg("--allowed-signers")
        .arg(&signers)
        .stdout_has(row("signature", "OK"))
        .safe();
}

#[test]
fn forgeries_fail_each_with_its_reason() {
    let repo = Repo::with_config(&config());
    let Signer { keys, key, signers } = signer(&repo, "alice", "ed25519", "", ALICE);
    let mallory = keygen(&keys, "mallory", "ed25519", "");
    let sealed = repo.scratch().join("sealed");
    gate(&repo)
        .arg("--evidence")
        .arg(&sealed)
        .arg("--sign-key")
        .arg(&key)
        .safe();
    let scratch = repo.scratch();
    let fp = fingerprint(&key);
    let verify = |dir: &Path, file: &Path| {
        check(dir)
            .arg("--allowed-signers")
            .arg(file)
            .stdout_has("EVIDENCE=FAILED")
    };

    // A byte changed in each file.
    for name in ["record.json", "config.toml"] {
        let dir = copy(&sealed, &scratch.join(format!("byte-{name}")));
        let mut bytes = std::fs::read(dir.join(name)).expect("read");
        bytes[10] ^= 1;
        std::fs::write(dir.join(name), bytes).expect("write");
        verify(&dir, &signers)
            .stdout_has(format!(
                "| digests                   | FAIL | modified: {name} |"
            ))
            .blocked();
    }
    let dir = copy(&sealed, &scratch.join("byte-sums"));
    let mut bytes = std::fs::read(dir.join("SHA256SUMS")).expect("read");
    bytes[0] = if bytes[0] == b'0' { b'1' } else { b'0' };
    std::fs::write(dir.join("SHA256SUMS"), bytes).expect("write");
    verify(&dir, &signers)
        .stdout_has(format!(
            "| signature                 | FAIL | SHA256SUMS.sig does not match SHA256SUMS: SHA256SUMS changed after it was signed, or the signature was not made over it (key {fp}) |"
        ))
        .blocked();
    assert!(
        !ssh_verify(&signers, ALICE, &dir.join("SHA256SUMS"))
            .status
            .success()
    );
    let dir = copy(&sealed, &scratch.join("byte-sig"));
    let text = std::fs::read_to_string(dir.join("SHA256SUMS.sig")).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let last = lines.len() - 3;
    lines[last] = lines[last].chars().rev().collect::<String>();
    std::fs::write(dir.join("SHA256SUMS.sig"), lines.join("\n") + "\n").expect("write");
    verify(&dir, &signers)
        .stdout_has(row("signature", "FAIL"))
        .blocked();

    // The record edited and its digests re-computed by a forger: the
    // digests pass, the signature does not.
    let dir = copy(&sealed, &scratch.join("resealed"));
    let text = std::fs::read_to_string(dir.join("record.json")).expect("read");
    std::fs::write(dir.join("record.json"), text + " ").expect("write");
    let out = Command::new("sha256sum")
        .args(["config.toml", "record.json"])
        .current_dir(&dir)
        .output()
        .expect("sha256sum");
    std::fs::write(dir.join("SHA256SUMS"), out.stdout).expect("write");
    verify(&dir, &signers)
        .stdout_has(row("digests", "OK"))
        .stdout_has("| signature                 | FAIL | SHA256SUMS.sig does not match SHA256SUMS")
        .blocked();
    // ... and re-signed with the forger's own key: not an allowed signer.
    ssh_sign(&mallory, NS, &dir.join("SHA256SUMS"));
    verify(&dir, &signers)
        .stdout_has(format!(
            "| signature                 | FAIL | SHA256SUMS is signed by key {}, which is not in {} |",
            fingerprint(&mallory),
            signers.display()
        ))
        .blocked();
    assert!(
        !ssh_verify(&signers, ALICE, &dir.join("SHA256SUMS"))
            .status
            .success()
    );

    // A signature made for another namespace (git's).
    let dir = copy(&sealed, &scratch.join("namespace"));
    ssh_sign(&key, "git", &dir.join("SHA256SUMS"));
    verify(&dir, &signers)
        .stdout_has(format!(
            "| signature                 | FAIL | SHA256SUMS.sig was made for the namespace \"git\", not {NS} (ssh-keygen -Y sign -n {NS}) |"
        ))
        .blocked();

    // The key allowed only before the run's time, only after it, or only
    // for other namespaces.
    let expired = allowed(
        &keys,
        "expired",
        &[format!(
            "{ALICE} valid-before=\"20260201\" {}",
            public(&key)
        )],
    );
    verify(&sealed, &expired)
        .stdout_has(format!(
            "| signature                 | FAIL | SHA256SUMS is signed by key {fp}, but {} line 1 ({ALICE}) expired at 2026-02-01T00:00:00Z |",
            expired.display()
        ))
        .blocked();
    let future = allowed(
        &keys,
        "future",
        &[format!(
            "{ALICE} valid-after=\"202604010000Z\" {}",
            public(&key)
        )],
    );
    verify(&sealed, &future)
        .stdout_has("is valid only after 2026-04-01T00:00:00Z")
        .blocked();
    let git_only = allowed(
        &keys,
        "git-only",
        &[format!("{ALICE} namespaces=\"git\" {}", public(&key))],
    );
    verify(&sealed, &git_only)
        .stdout_has("allows the namespaces \"git\", not release-sentinel")
        .blocked();
    let out = ssh_verify(&git_only, ALICE, &sealed.join("SHA256SUMS"));
    assert!(!out.status.success(), "{}", context(&out));
    // Within its validity, for this namespace, among others: good.
    let good = allowed(
        &keys,
        "good",
        &[
            format!("# the team\nbob@example.com {}", public(&mallory)),
            format!(
                "{ALICE},*@ops.example.com namespaces=\"git,release-*\",valid-after=\"20260101\",valid-before=\"20270101Z\" {}",
                public(&key)
            ),
        ],
    );
    check(&sealed)
        .arg("--allowed-signers")
        .arg(&good)
        .stdout_has(format!(
            "SHA256SUMS is signed by {ALICE},*@ops.example.com (key {fp}, {} line 3)",
            good.display()
        ))
        .safe();
    let out = ssh_verify(&good, ALICE, &sealed.join("SHA256SUMS"));
    assert!(out.status.success(), "{}", context(&out));

    // The signature removed.
    let dir = copy(&sealed, &scratch.join("unsigned"));
    std::fs::remove_file(dir.join("SHA256SUMS.sig")).expect("rm");
    verify(&dir, &signers)
        .stdout_has("SHA256SUMS is not signed (no SHA256SUMS.sig)")
        .blocked();
}

#[test]
fn bad_keys_and_bad_signer_files_are_named() {
    let repo = Repo::with_config(&config());
    let dir = repo.scratch().join("evidence");
    let missing = repo.scratch().join("no-such-key");
    gate(&repo)
        .arg("--evidence")
        .arg(&dir)
        .arg("--sign-key")
        .arg(&missing)
        .stderr_has(format!(
            "cannot write evidence to {}: cannot read the signing key {}: no such file",
            dir.display(),
            missing.display()
        ))
        .blocked();
    let not_key = repo.outside("not-a-key", "hello\n");
    gate(&repo)
        .arg("--evidence")
        .arg(&dir)
        .arg("--sign-key")
        .arg(&not_key)
        .stderr_has(format!(
            "the signing key {} is not an OpenSSH private key",
            not_key.display()
        ))
        .blocked();
    // --sign-key means nothing without --evidence.
    gate(&repo)
        .arg("--sign-key")
        .arg(&not_key)
        .stderr_has("--evidence <DIR>")
        .blocked();
    // A signers file with an unknown option is refused, naming its line.
    gate(&repo).arg("--evidence").arg(&dir).safe();
    let bad = repo.outside("bad_signers", "# x\na@b frobnicate ssh-ed25519 AAAA\n");
    check(&dir)
        .arg("--allowed-signers")
        .arg(&bad)
        .stderr_has(format!(
            "allowed signers {} line 2: unknown option \"frobnicate\"",
            bad.display()
        ))
        .blocked();
}

#[test]
fn a_signed_bundle_is_accepted_by_ssh_keygen_and_by_bundle_verify() {
    let repo = Repo::new();
    repo.write(".gitignore", "artifacts/\n");
    repo.write("VERSION", "1.2.3\n");
    repo.config("[bundle]\nname = \"app\"\n[[bundle.files]]\npath = \"VERSION\"\ndescription = \"Version\"\n");
    let Signer { keys, key, signers } = signer(&repo, "alice", "ed25519", "", ALICE);
    let mallory = keygen(&keys, "mallory", "ed25519", "");
    Sentinel::new()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.2.3", "--sign-key"])
        .arg(&key)
        .stdout_has(row("signature", "OK"))
        .stdout_has("artifacts/release/app-v1.2.3.zip.sha256.sig")
        .safe();
    let zip = repo.path.join("artifacts/release/app-v1.2.3.zip");
    let sums = repo.path.join("artifacts/release/app-v1.2.3.zip.sha256");
    let out = ssh_verify(&signers, ALICE, &sums);
    assert!(out.status.success(), "{}", context(&out));
    let bundle_verify = || {
        Sentinel::new()
            .args(["bundle", "verify"])
            .arg(&zip)
            .arg("--allowed-signers")
            .arg(&signers)
    };
    bundle_verify()
        .stdout_has(format!(
            "| signature                 | OK   | app-v1.2.3.zip.sha256 is signed by {ALICE} (key {}",
            fingerprint(&key)
        ))
        .safe();
    // Without signers: as today, and it says it was not checked.
    Sentinel::new()
        .args(["bundle", "verify"])
        .arg(&zip)
        .stdout_has("not checked against any signers")
        .safe();
    // Re-signed by another key; then the checksum file changed.
    let saved = std::fs::read(format!("{}.sig", sums.display())).expect("sig");
    ssh_sign(&mallory, NS, &sums);
    bundle_verify()
        .stdout_has("which is not in")
        .stdout_has(row("signature", "FAIL"))
        .blocked();
    std::fs::write(format!("{}.sig", sums.display()), saved).expect("restore");
    let text = std::fs::read_to_string(&sums).expect("read");
    std::fs::write(&sums, text.replace("  app", " *app")).expect("write");
    bundle_verify()
        .stdout_has("app-v1.2.3.zip.sha256.sig does not match app-v1.2.3.zip.sha256")
        .blocked();
    std::fs::remove_file(format!("{}.sig", sums.display())).expect("rm");
    bundle_verify()
        .stdout_has("app-v1.2.3.zip.sha256 is not signed (no app-v1.2.3.zip.sha256.sig)")
        .blocked();
}

#[test]
fn two_runs_writing_one_folder_take_turns() {
    let repo = Repo::with_config(&config());
    let Signer { key, signers, .. } = signer(&repo, "alice", "ed25519", "", ALICE);
    let dir = repo.scratch().join("evidence");
    std::fs::create_dir(&dir).expect("mkdir");
    // Another run holds the folder: this one waits for it, then writes.
    let mut holder = Command::new(require_tool("flock", "apt-get install -y util-linux"))
        .arg(&dir)
        .args(["sleep", "1.5"])
        .spawn()
        .expect("flock");
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    gate(&repo)
        .arg("--evidence")
        .arg(&dir)
        .arg("--sign-key")
        .arg(&key)
        .safe();
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "the run did not wait for the lock: {:?}",
        start.elapsed()
    );
    assert!(holder.wait().expect("wait").success());

    // Two runs at once, with records that differ, several times: each
    // time one whole record, signed, is left.
    for round in 0..4 {
        let spawn = |run: &str| {
            gate(&repo)
                .env("GITHUB_RUN_ID", run)
                .arg("--evidence")
                .arg(&dir)
                .arg("--sign-key")
                .arg(&key)
                .into_command()
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let a = spawn(&format!("a{round}"));
        let b = spawn(&format!("b{round}"));
        for child in [a, b] {
            let out = child.wait_with_output().expect("wait");
            assert!(out.status.success(), "{}", context(&out));
        }
        check(&dir)
            .arg("--allowed-signers")
            .arg(&signers)
            .stdout_has(row("digests", "OK"))
            .stdout_has(row("signature", "OK"))
            .safe();
    }
}

#[test]
fn the_key_can_come_from_the_config_and_the_flag_wins() {
    let repo = Repo::new();
    let keys = keys_dir(&repo);
    let team = keygen(&keys, "team", "ed25519", "");
    let own = keygen(&keys, "own", "ed25519", "");
    repo.config(&format!(
        "{}\n[signing]\nidentity_file = \"../keys/team\"\n",
        config()
    ));
    let dir = repo.scratch().join("evidence");
    gate(&repo).arg("--evidence").arg(&dir).safe();
    check(&dir)
        .stdout_has(format!("signed by key {}", fingerprint(&team)))
        .safe();
    gate(&repo)
        .env("RS_SIGN_KEY", &own)
        .arg("--evidence")
        .arg(&dir)
        .safe();
    check(&dir)
        .stdout_has(format!("signed by key {}", fingerprint(&own)))
        .safe();
    // A key pasted into the file instead of its path is refused.
    let pasted = std::fs::read_to_string(&team).expect("key");
    repo.config(&format!(
        "{}\n[signing]\nidentity_file = {}\n",
        config(),
        toml_str(&pasted)
    ));
    let lines = key_lines(&team);
    let mut run = gate(&repo).arg("--evidence").arg(&dir);
    for l in &lines {
        run = run.nowhere(l.clone());
    }
    run.stderr_has("signing.identity_file").blocked();
}

#[test]
fn the_readme_shows_the_command_these_tests_run_and_a_config_that_loads() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    // What ssh_verify runs, with the README's names.
    for file in ["SHA256SUMS", "mm-bot-v1.2.3.zip.sha256"] {
        let command = format!(
            "ssh-keygen -Y verify -f allowed_signers -I {ALICE} -n {NS} -s {file}.sig < {file}"
        );
        assert!(readme.contains(&command), "README lacks {command}");
    }
    let start = readme
        .find("```toml\n[signing]\n")
        .expect("the [signing] block")
        + 8;
    let block = &readme[start..start + readme[start..].find("```").expect("fence")];
    let repo = Repo::with_config(block);
    Sentinel::new()
        .dir(&repo.path)
        .args(["--env", "prod", "--version", "v1.0.0", "--evidence"])
        .arg(repo.scratch().join("evidence"))
        .stderr_has(format!(
            "cannot read the signing key {}: no such file",
            repo.path.join("ci/keys/release_ed25519").display()
        ))
        .blocked();
}

#[test]
fn verify_signs_its_record_too() {
    let repo = probing_repo();
    let Signer { key, signers, .. } = signer(&repo, "alice", "ed25519", "", ALICE);
    let dir = repo.scratch().join("evidence");
    verify_once_with_evidence(&repo, &dir)
        .arg("--sign-key")
        .arg(&key)
        .safe();
    let out = ssh_verify(&signers, ALICE, &dir.join("SHA256SUMS"));
    assert!(out.status.success(), "{}", context(&out));
    check(&dir)
        .arg("--allowed-signers")
        .arg(&signers)
        .stdout_has(format!("SHA256SUMS is signed by {ALICE}"))
        .safe();
}
