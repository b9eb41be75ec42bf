//! Times from outside (`SOURCE_DATE_EPOCH`, a commit's time) that no
//! arithmetic can hold are refused by name, never a panic or a wrapped
//! date.

use crate::harness::{Repo, Sentinel, json_check, json_of};

/// A repository with one file to bundle.
fn bundle_repo() -> Repo {
    let repo = Repo::with_config(
        "[bundle]\nname = \"app\"\n[[bundle.files]]\npath = \"VERSION\"\ndescription = \"Version\"\n",
    );
    repo.write("VERSION", "1.2.3\n");
    repo.commit_all("version");
    repo
}

#[test]
fn a_source_date_epoch_no_zip_can_hold_is_refused_by_name() {
    let repo = bundle_repo();
    for bad in [
        "18446744073709551615",
        "9223372036854775808",
        "253402300800",
        "4354819200",
    ] {
        Sentinel::new()
            .dir(&repo.path)
            .env("SOURCE_DATE_EPOCH", bad)
            .args(["bundle", "--version", "v1.2.3", "--out", "out"])
            .stderr_has(format!("SOURCE_DATE_EPOCH \"{bad}\": out of range"))
            .stderr_lacks("internal error")
            .stderr_lacks("overflow")
            .stdout("")
            .blocked();
        assert!(!repo.path.join("out").exists(), "{bad}: something written");
    }
    // The last second a zip holds is fine.
    let doc = json_of(
        &Sentinel::new()
            .dir(&repo.path)
            .env("SOURCE_DATE_EPOCH", "4354819199")
            .args(["bundle", "--version", "v1.2.3", "--out", "out"])
            .args(["--format", "json"])
            .safe(),
    );
    assert_eq!(
        json_check(&doc, "bundle")["details"]["created_at"],
        "2107-12-31T23:59:59Z",
        "{doc:#}"
    );
}

#[test]
fn a_commit_time_no_zip_can_hold_is_refused_by_name() {
    let repo = bundle_repo();
    // git's date parser stops at 2099: a commit object dated in 2200,
    // written as git would, made HEAD.
    let tree = repo.git(["rev-parse", "HEAD^{tree}"]);
    let parent = repo.head();
    let object = format!(
        "tree {}\nparent {}\nauthor T <t@example.invalid> 7258118400 +0000\n\
         committer T <t@example.invalid> 7258118400 +0000\n\nfuture\n",
        tree.trim(),
        parent.trim()
    );
    let object_file = repo.scratch().join("commit.txt");
    std::fs::write(&object_file, object).expect("write the commit object");
    let id = repo.git([
        "hash-object".as_ref(),
        "-t".as_ref(),
        "commit".as_ref(),
        "-w".as_ref(),
        object_file.as_os_str(),
    ]);
    repo.git(["update-ref", "HEAD", id.trim()]);
    Sentinel::new()
        .dir(&repo.path)
        .args(["bundle", "--version", "v1.2.3", "--out", "out"])
        .stderr_has("HEAD's commit time (7258118400 unix seconds) is after 2107")
        .stdout("")
        .blocked();
    assert!(!repo.path.join("out").exists());
}
