//! A person at a terminal: colour (`--color`, `NO_COLOR`) and the progress
//! line, checked under a real pseudo-terminal with util-linux `script`:
//! those tests fail, saying what to install, where it is missing. The slow
//! API is the harness's HTTP server on 127.0.0.1; it stops with the test.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{
    BIN, BLOCKED, POLICY_GATES, Repo, SAFE, Sentinel, Server, base_env, context, row, toml_str,
};
use crate::tools::text;

/// `s` without ANSI escape sequences (`ESC [ ... final byte`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&d) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Quote for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

// ----------------------------------------------------------------- colour

/// A repository where the gate is BLOCKED with OK, FAIL and SKIP rows
/// whose ids fit the id column.
fn colourful_repo() -> Repo {
    let repo = Repo::with_config("[[health.disk]]\npath = \"/\"\nwarn = 0\ncrit = 100\n");
    repo.write("stray.txt", "x\n");
    repo
}

#[test]
fn color_always_paints_only_the_status_cells() {
    let repo = colourful_repo();
    let never = Sentinel::new()
        .dir(&repo.path)
        .gate("prod", "v1.2.3")
        .args(["--color", "never"])
        .blocked();
    let always = Sentinel::new()
        .dir(&repo.path)
        .gate("prod", "v1.2.3")
        .args(["--color", "always"])
        .blocked();
    let painted = text(&always.stdout);
    assert!(painted.contains("\x1b["), "no colour:\n{painted}");
    assert_eq!(
        strip_ansi(&painted),
        text(&never.stdout),
        "colour changed more than the status cells"
    );
    assert!(!text(&never.stdout).contains('\x1b'));
    let mut painted_rows = 0;
    for line in painted.lines() {
        if !line.starts_with("| ") {
            assert!(!line.contains('\x1b'), "colour outside a row: {line:?}");
            continue;
        }
        // "| " + id padded to 25 + " | ", then the painted status.
        let (before, cell) = line.split_at(30);
        assert!(!before.contains('\x1b'), "colour in the id: {line:?}");
        assert!(cell.starts_with("\x1b["), "status not painted: {line:?}");
        let end = cell
            .find("\x1b[0m")
            .unwrap_or_else(|| panic!("no reset: {line:?}"));
        assert!(
            !cell[end + 4..].contains('\x1b'),
            "colour in the message: {line:?}"
        );
        painted_rows += 1;
    }
    // The policy rows, 1 health row, the final row.
    assert_eq!(painted_rows, POLICY_GATES.len() + 2, "{painted}");
}

#[test]
fn color_auto_without_a_terminal_and_no_color_have_no_escapes() {
    let repo = colourful_repo();
    for (color, no_color) in [("auto", None), ("auto", Some("1")), ("never", None)] {
        let mut s = Sentinel::new()
            .dir(&repo.path)
            .gate("prod", "v1.2.3")
            .args(["--color", color])
            .stdout_has(BLOCKED);
        if let Some(v) = no_color {
            s = s.env("NO_COLOR", v);
        }
        let out = s.blocked();
        assert!(
            !out.stdout.contains(&0x1b),
            "{color} {no_color:?}: {}",
            context(&out)
        );
        assert!(
            !out.stderr.contains(&0x1b),
            "{color} {no_color:?}: {}",
            context(&out)
        );
    }
    // Without --color at all (auto).
    let out = Sentinel::new()
        .dir(&repo.path)
        .gate("prod", "v1.2.3")
        .blocked();
    assert!(!out.stdout.contains(&0x1b), "{}", context(&out));
}

#[test]
fn machine_formats_never_have_escapes_even_with_color_always() {
    let repo = colourful_repo();
    for format in ["json", "junit", "markdown"] {
        let out = Sentinel::new()
            .dir(&repo.path)
            .gate("prod", "v1.2.3")
            .args(["--format", format, "--color", "always"])
            .blocked();
        assert!(!out.stdout.is_empty(), "{format}: {}", context(&out));
        assert!(!out.stdout.contains(&0x1b), "{format}: {}", context(&out));
    }
    let pack = Repo::with_config("[[pack.steps]]\nname = \"one\"\nrun = [\"true\"]\n");
    for format in ["json", "junit", "markdown"] {
        let out = Sentinel::dry_run(&pack)
            .args(["--format", format, "--color", "always"])
            .safe();
        assert!(
            !out.stdout.contains(&0x1b),
            "pack {format}: {}",
            context(&out)
        );
    }
    // The pack's table is painted like the gate's.
    let out = Sentinel::dry_run(&pack).args(["--color", "always"]).safe();
    let painted = text(&out.stdout);
    assert!(painted.contains("\x1b["), "{painted}");
    let plain = Sentinel::dry_run(&pack).safe();
    assert_eq!(strip_ansi(&painted), text(&plain.stdout));
}

// --------------------------------------------------------------- progress

/// An HTTP server on 127.0.0.1 that answers every request with 200 after
/// `delay` (sooner if the test ends).
fn slow_server(delay: Duration) -> Server {
    Server::start(move |x| {
        x.pause(delay);
        x.ok();
    })
}

/// A repository whose only health check is the slow API.
fn slow_repo(server: &Server) -> Repo {
    Repo::with_config(&format!(
        "[[health.api]]\nname = \"slow\"\nurl = {}\ntimeout = \"5s\"\nretries = 1\n",
        toml_str(&server.url("/health"))
    ))
}

#[test]
fn no_progress_line_when_stderr_is_not_a_terminal() {
    // Long enough for a progress line to show (after 0.5 s) if it would.
    let server = slow_server(Duration::from_millis(2000));
    let repo = slow_repo(&server);
    Sentinel::new()
        .dir(&repo.path)
        .gate("prod", "v1.2.3")
        .stdout_has(row("api:slow", "OK"))
        .stdout_has(SAFE)
        .stderr_lacks("waiting for")
        .stderr_empty()
        .safe();
}

/// Fails the test unless util-linux `script` is installed: a terminal test
/// that cannot run fails, saying what to install, rather than pass without
/// having checked anything.
fn require_script() {
    let found = Command::new("script")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && text(&o.stdout).contains("util-linux"));
    let ci = if std::env::var_os("CI").is_some() {
        " (CI must run the pseudo-terminal tests)"
    } else {
        ""
    };
    assert!(
        found,
        "util-linux `script` is not installed{ci}: install bsdutils/util-linux \
         (apt-get install -y bsdutils)"
    );
}

/// Run the binary with `args` in `dir` under a pseudo-terminal (stdout and
/// stderr both on it); returns what the terminal showed and the exit code.
fn on_a_terminal(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> (String, Option<i32>) {
    let mut line = sh_quote(BIN);
    for a in args {
        line.push(' ');
        line.push_str(&sh_quote(a));
    }
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(dir)
        .env_clear()
        .envs(base_env())
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    (text(&out.stdout).replace("\r\n", "\n"), out.status.code())
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs util-linux `script` (Linux only)"
)]
fn progress_line_on_a_terminal_but_never_in_ci() {
    require_script();
    // The line shows after 0.5 s (and a 0.1 s tick): 2 s leaves it more
    // than 3x that.
    let server = slow_server(Duration::from_millis(2000));
    let repo = slow_repo(&server);
    let args = ["--env", "prod", "--version", "v1.2.3"];
    let (shown, code) = on_a_terminal(&repo.path, &args, &[]);
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        shown.contains("release-sentinel: waiting for api:slow"),
        "no progress line on a terminal:\n{shown:?}"
    );
    // The table itself is whole after the line is cleared.
    assert!(strip_ansi(&shown).contains(SAFE), "{shown:?}");

    let (shown, code) = on_a_terminal(&repo.path, &args, &[("CI", "true")]);
    assert_eq!(code, Some(0), "{shown}");
    assert!(
        !shown.contains("waiting for"),
        "a progress line in CI:\n{shown:?}"
    );
    assert!(strip_ansi(&shown).contains(SAFE), "{shown:?}");
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs util-linux `script` (Linux only)"
)]
fn color_auto_on_a_terminal_unless_no_color() {
    require_script();
    let repo = colourful_repo();
    let args = ["--env", "prod", "--version", "v1.2.3"];
    let (shown, code) = on_a_terminal(&repo.path, &args, &[]);
    assert_eq!(code, Some(1), "{shown}");
    assert!(
        shown.contains("\x1b["),
        "no colour on a terminal:\n{shown:?}"
    );
    assert!(strip_ansi(&shown).contains(BLOCKED), "{shown:?}");
    for (vars, extra) in [(&[("NO_COLOR", "1")][..], None), (&[][..], Some("never"))] {
        let mut a: Vec<&str> = args.to_vec();
        if let Some(when) = extra {
            a.extend(["--color", when]);
        }
        let (shown, code) = on_a_terminal(&repo.path, &a, vars);
        assert_eq!(code, Some(1), "{shown}");
        assert!(!shown.contains('\x1b'), "{vars:?} {extra:?}:\n{shown:?}");
        assert!(shown.contains(BLOCKED), "{shown:?}");
    }
}
