use super::*;

fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
    EnvSnapshot::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn file(text: &str) -> Result<Config, ConfigError> {
    parse(
        text,
        Source::File(PathBuf::from("release-sentinel.toml")),
        &env(&[("BRANCH", "release/*"), ("DEPLOY_TOKEN", "tok-123456")]),
        &Scrubber::new(),
    )
}

fn problems(text: &str) -> Vec<String> {
    match file(text) {
        Err(ConfigError::Invalid { problems, .. }) => {
            problems.iter().map(|p| p.to_string()).collect()
        }
        other => panic!("expected semantic problems, got {other:?}"),
    }
}

#[test]
fn embedded_default_is_the_seed_phase_four() {
    let c = parse(
        EMBEDDED_DEFAULT,
        Source::Embedded,
        &env(&[]),
        &Scrubber::new(),
    )
    .unwrap();
    assert_eq!(c.environments, ["dev", "stage", "prod"]);
    assert_eq!(
        c.variables.required,
        ["RS_REQUIRED_PROCESS", "RS_API_URL", "RS_DEPLOY_TOKEN"]
    );
    assert_eq!(c.secret_names(), ["RS_DEPLOY_TOKEN"]);
    let p = c.policy_for("prod");
    assert!(p.branch_allowed("main") && p.branch_allowed("master"));
    assert!(!p.branch_allowed("feature/x"));
    assert!(!p.allow_prerelease && !p.allow_dirty && !p.allow_downgrade);
}

#[test]
fn empty_file_takes_documented_defaults() {
    let c = file("").unwrap();
    assert_eq!(c.environments, ["dev", "stage", "prod"]);
    assert!(c.variables.required.is_empty());
    assert!(c.policy_for("dev").branch_allowed("main"));
}

#[test]
fn overrides_apply_to_their_environment_only() {
    let c = file(
        r#"
environments = ["dev", "prod"]
[policy]
branches = ["main"]
[policy.env.dev]
branches = ["*", "feature/**"]
allow_prerelease = true
allow_dirty = true
"#,
    )
    .unwrap();
    let dev = c.policy_for("dev");
    assert!(dev.allow_prerelease && dev.allow_dirty);
    assert!(dev.branch_allowed("topic") && dev.branch_allowed("feature/a/b"));
    let prod = c.policy_for("prod");
    assert!(!prod.allow_prerelease && !prod.allow_dirty);
    assert!(!prod.branch_allowed("topic"));
}

#[test]
fn star_stays_within_one_component() {
    let c = file("[policy]\nbranches = [\"release/*\"]\n").unwrap();
    let p = c.policy_for("prod");
    assert!(p.branch_allowed("release/1.2"));
    assert!(!p.branch_allowed("release/1.2/x"));
    assert!(!p.branch_allowed("main"));
}

#[test]
fn references_expand_from_the_environment() {
    let c = file("[policy]\nbranches = [\"${BRANCH}\", \"$${literal}\"]\n").unwrap();
    assert_eq!(c.policy_for("dev").branches, ["release/*", "${literal}"]);
}

#[test]
fn unknown_key_reports_line_and_column() {
    let err = file("environments = [\"dev\"]\n\n[policy]\nbranchez = [\"main\"]\n").unwrap_err();
    match err {
        ConfigError::Syntax {
            line,
            column,
            message,
            ..
        } => {
            assert_eq!((line, column), (4, 1), "{message}");
            assert!(message.contains("branchez"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn type_errors_do_not_echo_the_value() {
    let err = file("[policy]\nallow_dirty = \"ghp_notreallyasecretvalue\"\n").unwrap_err();
    let text = err.to_string();
    assert!(text.contains(":2:"), "{text}");
    assert!(!text.contains("ghp_notreallyasecretvalue"), "{text}");
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let p = problems(
        r#"
environments = []
[policy]
branches = ["[unclosed", "${NOT_SET_ANYWHERE}"]
[policy.env.production]
allow_dirty = true
[variables]
required = ["GOOD", "bad name", "GOOD"]
secret = ["S"]
public = ["S", "OTHER"]
"#,
    );
    let joined = p.join("\n");
    for needle in [
        "environments: the list is empty",
        "policy.branches[0]: invalid glob \"[unclosed\"",
        "policy.branches[1]: references ${NOT_SET_ANYWHERE}, which is not set",
        "policy.env.production: override for an undeclared environment \"production\"",
        "variables.required[1]: \"bad name\" is not a variable name",
        "variables.required[2]: GOOD is listed twice",
        "variables.public[0]: S is declared both secret and public",
        "variables.public[1]: OTHER is not a required variable",
    ] {
        assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
    }
    assert_eq!(p.len(), 8, "{joined}");
}

#[test]
fn literal_secrets_are_refused_without_echoing_them() {
    let text = r#"
[policy]
branches = ["main", "AKIAIOSFODNN7EXAMPLE"]
[variables]
secret = ["DEPLOY_TOKEN"]
"#;
    let err = file(text).unwrap_err().to_string();
    assert!(
        err.contains("policy.branches[1]: looks like a literal secret (aws-access-key-id)"),
        "{err}"
    );
    assert!(!err.contains("AKIAIOSFODNN7EXAMPLE"), "{err}");

    let err =
        file("[policy]\nbranches = [\"tok-123456\"]\n[variables]\nsecret = [\"DEPLOY_TOKEN\"]\n")
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("contains the value of a secret variable"),
        "{err}"
    );
    assert!(!err.contains("tok-123456"), "{err}");
}

#[test]
fn error_lists_problems_one_per_line() {
    let err = file("environments = [\"a\", \"a\"]\n[policy]\nbranches = []\n").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid config release-sentinel.toml: 2 problems\n  "),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "{text}");
}

#[test]
fn line_col_counts_from_one() {
    assert_eq!(line_col("a\nbc", 0), (1, 1));
    assert_eq!(line_col("a\nbc", 3), (2, 2));
}

#[test]
fn secret_values_are_registered_while_parsing() {
    let scrubber = Scrubber::new();
    let env = env(&[("API_TOKEN", "super-secret-value")]);
    parse(
        "[variables]\nrequired = [\"API_TOKEN\"]\n",
        Source::File("x.toml".into()),
        &env,
        &scrubber,
    )
    .unwrap();
    assert_eq!(scrubber.scrub("super-secret-value"), "***");
}
