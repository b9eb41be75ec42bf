//! The smoke tests' JUnit report: where it is (under the repository root,
//! or under the evidence folder when written `{out}/...`, never through a
//! link nor out of that folder) and how many of its test cases passed,
//! failed, erred or were skipped. Only `<testcase>` elements and their
//! `<failure>`, `<error>` and `<skipped>` children count: a suite's own
//! totals are not trusted, and nothing else is read.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::sanitize::quoted;

/// Test counts from a JUnit XML report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Counts {
    /// The test cases that neither failed, erred nor were skipped (each
    /// case counts once, so this never goes below zero).
    pub fn passed(&self) -> usize {
        self.tests - self.failures - self.errors - self.skipped
    }

    /// The counts as the evidence records them.
    pub fn json(&self) -> Value {
        json!({"tests": self.tests, "passed": self.passed(), "failures": self.failures, "errors": self.errors, "skipped": self.skipped})
    }
}

/// Count the test cases of a JUnit report and how they ended.
pub fn read(path: &Path) -> Result<Counts, String> {
    let shown = crate::sanitize::ascii(&path.display().to_string());
    let data = crate::fsutil::read_regular(path, 64 * 1024 * 1024).map_err(|why| {
        format!("the smoke tests wrote no readable JUnit report at {shown}: {why}")
    })?;
    let text = String::from_utf8(data).map_err(|_| format!("{shown}: not UTF-8"))?;
    let doc =
        roxmltree::Document::parse(&text).map_err(|e| format!("{shown}: not valid XML: {e}"))?;
    let mut c = Counts::default();
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        c.tests += 1;
        let has = |tag: &str| case.children().any(|n| n.has_tag_name(tag));
        if has("failure") {
            c.failures += 1;
        } else if has("error") {
            c.errors += 1;
        } else if has("skipped") {
            c.skipped += 1;
        }
    }
    Ok(c)
}

/// Where the smoke tests write their JUnit report (a previous one is
/// deleted there), from `predeploy.smoke_junit` as `written`: under
/// `root`, or under `out` (the evidence folder) when written `{out}/...`;
/// never through a link, never out of that folder, whatever `expand`
/// (which fills `{version}` and `{env}`) makes of it.
pub fn locate(
    written: &str,
    out: &Path,
    root: &Path,
    expand: impl FnOnce(&str) -> Result<String, String>,
) -> Result<PathBuf, String> {
    let (base, rel) = match written.strip_prefix("{out}/") {
        Some(rest) => (out, rest),
        None => (root, written),
    };
    let rel = expand(rel)?;
    let refused = |why: String| {
        format!(
            "predeploy.smoke_junit {}: {why}; the report is not deleted nor read",
            quoted(&rel)
        )
    };
    if let Some(why) = crate::fsutil::unsafe_name(&rel) {
        return Err(refused(why.to_string()));
    }
    if let Some(link) = crate::fsutil::linked_part(base, Path::new(&rel)) {
        return Err(refused(format!(
            "{} is a symbolic link (it could lead out of its folder)",
            link.display()
        )));
    }
    Ok(base.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_cases_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.xml");
        std::fs::write(
            &p,
            r#"<testsuites><testsuite name="s"><testcase name="a"/><testcase name="b"><failure message="x"/></testcase>
            <testcase name="c"><skipped/></testcase><testcase name="d"><error/></testcase></testsuite></testsuites>"#,
        )
        .unwrap();
        let counts = read(&p).unwrap();
        assert_eq!(
            counts,
            Counts {
                tests: 4,
                failures: 1,
                errors: 1,
                skipped: 1
            }
        );
        assert_eq!(counts.passed(), 1);
        std::fs::write(&p, "<testsuite>").unwrap();
        assert!(read(&p).unwrap_err().contains("not valid XML"));
        assert!(
            read(&dir.path().join("none.xml"))
                .unwrap_err()
                .contains("no readable JUnit report")
        );
    }
}
