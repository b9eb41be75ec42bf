//! Environment parity: two environments' configurations, each read from
//! its sources (dotenv files; JSON, TOML and YAML files flattened to dotted
//! keys; the `KEY=VALUE` output of a command), compared key by key.
//!
//! The comparison names keys only one side has, keys whose values differ,
//! and keys allowed to differ (globs: hosts, replica counts). The values of
//! secret keys (declared, or with a secret-looking name) are compared by a
//! keyed hash (HMAC-SHA256 with a key made for the run and thrown away) and
//! never shown, not even hashed. Drift in a key marked critical blocks.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::config::values::Problems;
use crate::report::{CheckResult, Outcome, Phase};
use crate::text::count;

/// How long a source command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A source as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub file: Option<String>,
    pub command: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnv {
    pub sources: Vec<RawSource>,
}

/// `[parity]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub allow_differ: Option<Vec<String>>,
    pub critical: Option<Vec<String>>,
    pub sensitive: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, RawEnv>>,
}

/// Where an environment's configuration comes from.
#[derive(Debug, Clone)]
pub enum Source {
    File(String),
    Command(Vec<String>),
}

/// The validated `[parity]`.
#[derive(Debug, Clone, Default)]
pub struct Parity {
    pub allow_differ: Option<globset::GlobSet>,
    pub critical: Option<globset::GlobSet>,
    pub sensitive: Option<globset::GlobSet>,
    pub envs: BTreeMap<String, Vec<Source>>,
}

pub fn validate(raw: Raw, problems: &mut Problems) -> Parity {
    let set = |list: Option<Vec<String>>, key: &str, problems: &mut Problems| {
        list.and_then(|l| crate::config::values::globs(&l, key, None, problems))
            .map(|(_, s)| s)
    };
    let mut envs = BTreeMap::new();
    for (name, env) in raw.env.unwrap_or_default() {
        let mut sources = Vec::new();
        for (i, s) in env.sources.into_iter().enumerate() {
            let key = format!("parity.env.{name}.sources[{i}]");
            match (s.file, s.command) {
                // A source file is the repository's own: read under its
                // root, never from out of it.
                (Some(f), None) if !f.trim().is_empty() && crate::fsutil::unsafe_name(&f).is_some() => problems.push(
                    format!("{key}.file"),
                    format!(
                        "{}: {}; source files are relative to the repository root (a command can print any other)",
                        crate::sanitize::quoted(&f),
                        crate::fsutil::unsafe_name(&f).unwrap_or_default()
                    ),
                ),
                (Some(f), None) if !f.trim().is_empty() => sources.push(Source::File(f)),
                (None, Some(c)) if !c.is_empty() && !c[0].trim().is_empty() => {
                    sources.push(Source::Command(c))
                }
                _ => problems.push(key, "set exactly one of file and command"),
            }
        }
        if sources.is_empty() {
            problems.push(
                format!("parity.env.{name}.sources"),
                "no source: nothing to compare",
            );
        }
        envs.insert(name, sources);
    }
    Parity {
        allow_differ: set(raw.allow_differ, "parity.allow_differ", problems),
        critical: set(raw.critical, "parity.critical", problems),
        sensitive: set(raw.sensitive, "parity.sensitive", problems),
        envs,
    }
}

/// `KEY=VALUE` lines (dotenv, a command's output): `#` comments, `export`,
/// quotes around the value.
pub fn parse_dotenv(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("line {}: not KEY=VALUE", n + 1));
        };
        let k = k.trim();
        if !crate::config::values::is_variable_name(k) && !k.contains('.') {
            return Err(format!(
                "line {}: {} is not a key",
                n + 1,
                crate::sanitize::quoted(k)
            ));
        }
        let v = v.trim();
        // An unquoted value ends where a ` #` comment starts.
        let v = if v.starts_with(['"', '\'']) {
            v
        } else {
            v.find(" #").map_or(v, |i| v[..i].trim_end())
        };
        let v = v
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
            .unwrap_or(v);
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Flatten `v` into dotted keys, consuming it: each value moves into the
/// map as it is reached, so the document and its keys are not both held
/// whole.
fn flatten_json(prefix: &str, v: serde_json::Value, out: &mut BTreeMap<String, String>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        serde_json::Value::Object(m) => m
            .into_iter()
            .for_each(|(k, v)| flatten_json(&key(&k), v, out)),
        serde_json::Value::Array(a) => a
            .into_iter()
            .enumerate()
            .for_each(|(i, v)| flatten_json(&key(&i.to_string()), v, out)),
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), s);
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// How many nodes aliases may add to a YAML source beyond as many as the
/// source has of its own.
pub const ALIAS_ALLOWANCE: u64 = 10_000;
/// How deep a YAML source may nest.
pub const YAML_DEPTH: usize = 128;

/// A YAML loader that counts what aliases add. `yaml-rust2`'s own loader
/// copies the node an alias names at each use, so ten lines of anchors
/// (the "billion laughs") expand to 9^9 nodes. Here every node carries
/// its size in nodes; an alias adds its node's size to a running count,
/// and once aliases have added more than the source's own nodes plus
/// [`ALIAS_ALLOWANCE`], the source is refused. So what is built, and the
/// keys flattened from it, stay within a bound proportional to the input.
/// Nesting deeper than [`YAML_DEPTH`] is refused too (the flattening
/// recurses). Scalars are typed as `yaml-rust2` types them.
#[derive(Default)]
struct Loader {
    docs: Vec<yaml_rust2::Yaml>,
    /// Open collections: the node, its anchor, its size so far.
    stack: Vec<(yaml_rust2::Yaml, usize, u64)>,
    /// For each open mapping, its key waiting for a value.
    keys: Vec<Option<yaml_rust2::Yaml>>,
    anchors: BTreeMap<usize, (yaml_rust2::Yaml, u64)>,
    own: u64,
    aliased: u64,
    error: Option<String>,
}

impl Loader {
    fn scalar(
        v: String,
        style: yaml_rust2::scanner::TScalarStyle,
        tag: Option<yaml_rust2::parser::Tag>,
    ) -> yaml_rust2::Yaml {
        use yaml_rust2::Yaml;
        if style != yaml_rust2::scanner::TScalarStyle::Plain {
            return Yaml::String(v);
        }
        match tag {
            Some(t) if t.handle == "tag:yaml.org,2002:" => match t.suffix.as_str() {
                "bool" => match v.as_str() {
                    "true" | "True" | "TRUE" => Yaml::Boolean(true),
                    "false" | "False" | "FALSE" => Yaml::Boolean(false),
                    _ => Yaml::BadValue,
                },
                "int" => v.parse::<i64>().map_or(Yaml::BadValue, Yaml::Integer),
                "float" => match v.parse::<f64>() {
                    Ok(_) => Yaml::Real(v),
                    Err(_) => Yaml::BadValue,
                },
                "null" => match v.as_str() {
                    "~" | "null" => Yaml::Null,
                    _ => Yaml::BadValue,
                },
                _ => Yaml::String(v),
            },
            Some(_) => Yaml::String(v),
            None => Yaml::from_str(&v),
        }
    }

    fn insert(&mut self, node: yaml_rust2::Yaml, anchor: usize, size: u64) -> Result<(), String> {
        use yaml_rust2::Yaml;
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        let Some((parent, _, parent_size)) = self.stack.last_mut() else {
            self.stack.push((node, anchor, size));
            return Ok(());
        };
        *parent_size += size;
        match parent {
            Yaml::Array(a) => a.push(node),
            Yaml::Hash(h) => match self.keys.last_mut() {
                Some(slot @ None) => *slot = Some(node),
                Some(slot) => {
                    let key = slot.take().unwrap_or(Yaml::BadValue);
                    if h.insert(key, node).is_some() {
                        return Err("a mapping holds a key twice".to_string());
                    }
                }
                None => return Err("a mapping without its keys".to_string()),
            },
            _ => return Err("a value inside a scalar".to_string()),
        }
        Ok(())
    }

    fn event(&mut self, ev: yaml_rust2::Event) -> Result<(), String> {
        use yaml_rust2::{Event, Yaml};
        match ev {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
            Event::DocumentEnd => match self.stack.pop() {
                None => self.docs.push(Yaml::Null),
                Some((node, _, _)) if self.stack.is_empty() => self.docs.push(node),
                Some(_) => return Err("a document ends inside a collection".to_string()),
            },
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= YAML_DEPTH {
                    return Err(format!("nested deeper than {YAML_DEPTH} levels"));
                }
                self.own += 1;
                if matches!(ev, Event::MappingStart(..)) {
                    self.keys.push(None);
                    self.stack.push((Yaml::Hash(Default::default()), anchor, 1));
                } else {
                    self.stack.push((Yaml::Array(Vec::new()), anchor, 1));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if matches!(ev, Event::MappingEnd) {
                    self.keys.pop();
                }
                let (node, anchor, size) = self
                    .stack
                    .pop()
                    .ok_or_else(|| "a collection ends that never started".to_string())?;
                self.insert(node, anchor, size)?;
            }
            Event::Scalar(v, style, anchor, tag) => {
                self.own += 1;
                self.insert(Self::scalar(v, style, tag), anchor, 1)?;
            }
            Event::Alias(id) => {
                let (node, size) = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .unwrap_or((Yaml::BadValue, 1));
                self.aliased = self.aliased.saturating_add(size);
                if self.aliased > self.own.saturating_add(ALIAS_ALLOWANCE) {
                    return Err(format!(
                        "its aliases expand to more than {} nodes, more than the {} it has of its own allow: refused (a YAML bomb?)",
                        self.own.saturating_add(ALIAS_ALLOWANCE),
                        self.own
                    ));
                }
                self.insert(node, 0, size)?;
            }
        }
        Ok(())
    }
}

impl yaml_rust2::parser::EventReceiver for Loader {
    fn on_event(&mut self, ev: yaml_rust2::Event) {
        if self.error.is_none()
            && let Err(why) = self.event(ev)
        {
            self.error = Some(why);
        }
    }
}

/// The documents of a YAML text, aliases bounded (see [`Loader`]).
fn load_yaml(text: &str) -> Result<Vec<yaml_rust2::Yaml>, String> {
    let mut loader = Loader::default();
    let mut parser = yaml_rust2::parser::Parser::new_from_str(text);
    let parsed = parser.load(&mut loader, true);
    if let Some(why) = loader.error {
        return Err(why);
    }
    parsed.map_err(|e| format!("not valid YAML: {e}"))?;
    Ok(loader.docs)
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> serde_json::Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Hash(h) => serde_json::Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Real(r) => r.clone(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => "?".to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Array(a) => serde_json::Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::String(s) => serde_json::Value::String(s.clone()),
        Yaml::Integer(i) => serde_json::Value::from(*i),
        // As JSON and TOML read them: `1.50` is 1.5.
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(
                || serde_json::Value::String(r.clone()),
                serde_json::Value::Number,
            ),
        Yaml::Boolean(b) => serde_json::Value::Bool(*b),
        _ => serde_json::Value::Null,
    }
}

/// Read one file into dotted keys, by its extension.
pub fn read_file(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let data = crate::fsutil::read_regular(path, 16 * 1024 * 1024)?;
    let text = String::from_utf8(data).map_err(|_| "not UTF-8 text".to_string())?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut out = BTreeMap::new();
    match ext.as_str() {
        "json" => {
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
            if !v.is_object() {
                return Err("the top level is not an object of keys".to_string());
            }
            flatten_json("", v, &mut out);
        }
        "toml" => {
            let v: toml::Table =
                toml::from_str(&text).map_err(|e| format!("not valid TOML: {}", e.message()))?;
            let v = serde_json::to_value(v).map_err(|e| e.to_string())?;
            flatten_json("", v, &mut out);
        }
        "yaml" | "yml" => {
            let docs = load_yaml(&text)?;
            for d in &docs {
                match d {
                    yaml_rust2::Yaml::Hash(_) => flatten_json("", yaml_to_json(d), &mut out),
                    // An empty document (`---` alone).
                    yaml_rust2::Yaml::Null => {}
                    _ => return Err("a document is not a mapping of keys".to_string()),
                }
            }
        }
        _ => out = parse_dotenv(&text)?,
    }
    Ok(out)
}

/// An environment's keys, from all its sources in order (a later source
/// wins); or why a source could not be read.
pub fn load(
    sources: &[Source],
    root: &Path,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<BTreeMap<String, String>, String> {
    let mut all = BTreeMap::new();
    for s in sources {
        let part = match s {
            Source::File(f) => read_file(&root.join(f)).map_err(|why| format!("{f}: {why}"))?,
            Source::Command(argv) => {
                let ran = crate::runner::run(argv, &[], COMMAND_TIMEOUT, root, stop);
                if let Some(why) = ran.end.failure(COMMAND_TIMEOUT) {
                    return Err(format!("{}: {why}", argv.join(" ")));
                }
                if ran.stdout.cut() {
                    return Err(format!(
                        "{}: more output than is kept (8 KiB)",
                        argv.join(" ")
                    ));
                }
                parse_dotenv(&ran.stdout.text())
                    .map_err(|why| format!("{}: {why}", argv.join(" ")))?
            }
        };
        all.extend(part);
    }
    Ok(all)
}

/// The comparison.
#[derive(Debug, Default)]
pub struct Drift {
    pub only_source: Vec<String>,
    pub only_target: Vec<String>,
    /// Keys whose values differ (not allowed to): with both values, or
    /// `None` for a secret.
    pub differ: Vec<(String, Option<(String, String)>)>,
    pub allowed: Vec<String>,
    /// Keys with drift that are critical.
    pub critical: Vec<String>,
    pub secrets: usize,
    pub same: usize,
}

impl Parity {
    /// Whether `key`'s value is a secret (declared, or by its name).
    pub fn is_secret(&self, key: &str) -> bool {
        let last = key.rsplit('.').next().unwrap_or(key);
        self.sensitive.as_ref().is_some_and(|s| s.is_match(key))
            || crate::secrets::is_secret_like_name(last)
    }

    /// Compare `source` with `target`.
    pub fn compare(
        &self,
        source: &BTreeMap<String, String>,
        target: &BTreeMap<String, String>,
    ) -> Drift {
        // A key for this comparison only: equal values hash equal, and
        // nothing of the value leaves it.
        let key: Vec<u8> = (0..32).map(|_| fastrand::u8(..)).collect();
        let digest = |v: &str| {
            let mut mac = match Hmac::<Sha256>::new_from_slice(&key) {
                Ok(m) => m,
                Err(_) => return Vec::new(),
            };
            mac.update(v.as_bytes());
            mac.finalize().into_bytes().to_vec()
        };
        let mut d = Drift::default();
        let is_critical = |k: &str| self.critical.as_ref().is_some_and(|c| c.is_match(k));
        let allowed = |k: &str| self.allow_differ.as_ref().is_some_and(|a| a.is_match(k));
        for (k, v) in source {
            match target.get(k) {
                None => {
                    d.only_source.push(k.clone());
                    if is_critical(k) {
                        d.critical.push(k.clone());
                    }
                }
                Some(w) => {
                    let secret = self.is_secret(k);
                    if secret {
                        d.secrets += 1;
                    }
                    let equal = if secret {
                        digest(v) == digest(w)
                    } else {
                        v == w
                    };
                    if equal {
                        d.same += 1;
                    } else if allowed(k) {
                        d.allowed.push(k.clone());
                    } else {
                        d.differ
                            .push((k.clone(), (!secret).then(|| (v.clone(), w.clone()))));
                        if is_critical(k) {
                            d.critical.push(k.clone());
                        }
                    }
                }
            }
        }
        for k in target.keys().filter(|k| !source.contains_key(*k)) {
            d.only_target.push(k.clone());
            if is_critical(k) {
                d.critical.push(k.clone());
            }
        }
        d
    }
}

/// The parity report.
pub static KIND: crate::report::Kind = crate::report::Kind {
    name: "parity",
    title: "ENVIRONMENT PARITY",
    heading: "Environment parity",
    final_id: "parity",
    marker: "PARITY",
    words: ["PASS", "DRIFT", "DRIFT"],
    rule: crate::report::Rule::NoFailure {
        fail: crate::exit::Verdict::Blocked,
    },
    ..crate::report::Kind::CHECKS
};

/// The rows comparing `source` with `target` (both configured).
pub fn compare(
    p: &Parity,
    root: &Path,
    source: &str,
    target: &str,
    scrubber: &crate::secrets::Scrubber,
) -> Vec<CheckResult> {
    let start = Instant::now();
    let row =
        |id: &str, outcome: Outcome| CheckResult::new(id, Phase::Pack, outcome, start.elapsed());
    let mut sides = Vec::new();
    for name in [source, target] {
        let Some(sources) = p.envs.get(name) else {
            let known: Vec<String> = p.envs.keys().cloned().collect();
            return vec![row(
                "parity",
                Outcome::fail(format!(
                    "no [parity.env.{}] sources; configured: {}",
                    crate::sanitize::ascii(name),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )),
            )];
        };
        match load(sources, root, &crate::interrupt::flag()) {
            Ok(keys) => sides.push(keys),
            Err(why) => {
                return vec![row(
                    "parity",
                    Outcome::fail(format!("{name}: cannot read a source: {why}")),
                )];
            }
        }
    }
    // Nothing to compare is no pass (a command that printed nothing, a
    // file of comments).
    for (name, keys) in [source, target].into_iter().zip(&sides) {
        if keys.is_empty() {
            return vec![row(
                "parity",
                Outcome::fail(format!(
                    "{name}: its sources gave no key: nothing to compare"
                )),
            )];
        }
    }
    // Secret values never show; mask them wherever else they appear.
    for keys in &sides {
        for (k, v) in keys {
            if p.is_secret(k) {
                scrubber.add(v);
            }
        }
    }
    let drift = p.compare(&sides[0], &sides[1]);
    rows(&drift, source, target, start)
}

/// At most this many keys get a row of their own (critical ones first,
/// then drift, then keys allowed to differ); the rest are counted in one
/// more row, and every key is named in the summary's details. A row
/// costs far more than a key: 200,000 rows for 200,000 one-sided keys
/// took hundreds of MiB.
pub const KEY_ROWS: usize = 200;

/// How a key differs.
enum How<'a> {
    OnlySource,
    OnlyTarget,
    Differ(&'a Option<(String, String)>),
    Allowed,
}

fn rows(d: &Drift, source: &str, target: &str, start: Instant) -> Vec<CheckResult> {
    let row =
        |id: &str, outcome: Outcome| CheckResult::new(id, Phase::Pack, outcome, start.elapsed());
    let critical: std::collections::BTreeSet<&str> =
        d.critical.iter().map(String::as_str).collect();
    let grade = |key: &str, message: String| {
        if critical.contains(key) {
            Outcome::fail(format!("{message} (critical)")).detail("critical", true)
        } else {
            Outcome::warn(message).detail("critical", false)
        }
    };
    let mut keys: Vec<(&str, How)> = Vec::new();
    keys.extend(d.only_source.iter().map(|k| (k.as_str(), How::OnlySource)));
    keys.extend(d.only_target.iter().map(|k| (k.as_str(), How::OnlyTarget)));
    keys.extend(d.differ.iter().map(|(k, v)| (k.as_str(), How::Differ(v))));
    keys.extend(d.allowed.iter().map(|k| (k.as_str(), How::Allowed)));
    // Which keys get a row: critical drift first, then drift, then keys
    // allowed to differ; by name within each.
    let rank = |(k, how): &(&str, How)| match how {
        How::Allowed => 2,
        _ if critical.contains(k) => 0,
        _ => 1,
    };
    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.0.cmp(b.0)));
    let rest = keys.split_off(keys.len().min(KEY_ROWS));
    let mut out = Vec::with_capacity(keys.len() + 2);
    for (k, how) in keys {
        out.push(match how {
            How::OnlySource => row(
                k,
                grade(k, format!("only in {source}")).detail("drift", "only_source"),
            ),
            How::OnlyTarget => row(
                k,
                grade(k, format!("only in {target}")).detail("drift", "only_target"),
            ),
            How::Differ(values) => {
                let message = match values {
                    Some((a, b)) => format!(
                        "differs: {} in {source}, {} in {target}",
                        crate::sanitize::quoted(a),
                        crate::sanitize::quoted(b)
                    ),
                    None => {
                        "differs (a secret: compared by keyed hash, values not shown)".to_string()
                    }
                };
                row(k, grade(k, message).detail("drift", "differ"))
            }
            How::Allowed => row(
                k,
                Outcome::ok("differs, allowed (parity.allow_differ)").detail("drift", "allowed"),
            ),
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    if !rest.is_empty() {
        let drifting = rest
            .iter()
            .filter(|(_, how)| !matches!(how, How::Allowed))
            .count();
        let critical_left = rest.iter().filter(|(k, _)| critical.contains(k)).count();
        let message = format!(
            "{} more beyond the first {KEY_ROWS} shown: {drifting} drifted ({critical_left} critical), {} allowed to differ; the summary's details name every key",
            count(rest.len(), "key"),
            rest.len() - drifting
        );
        out.push(row(
            "more_keys",
            if critical_left > 0 {
                Outcome::fail(message)
            } else if drifting > 0 {
                Outcome::warn(message)
            } else {
                Outcome::ok(message)
            },
        ));
    }
    let drifted = d.only_source.len() + d.only_target.len() + d.differ.len();
    let summary = format!(
        "{source} vs {target}: {}, {} the same, {drifted} drifted ({} critical), {} allowed to differ; {} compared by keyed hash",
        count(d.same + d.allowed.len() + drifted, "key"),
        d.same,
        d.critical.len(),
        d.allowed.len(),
        count(d.secrets, "secret value")
    );
    let outcome = if !d.critical.is_empty() {
        Outcome::fail(summary)
    } else if drifted > 0 {
        Outcome::warn(summary)
    } else {
        Outcome::ok(summary)
    };
    out.push(row(
        "summary",
        outcome
            .detail("source", source)
            .detail("target", target)
            .detail("same", d.same)
            .detail("only_source", d.only_source.clone())
            .detail("only_target", d.only_target.clone())
            .detail(
                "differ",
                d.differ.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            )
            .detail("allowed", d.allowed.clone())
            .detail("critical", d.critical.clone()),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dotenv_lines() {
        let m =
            parse_dotenv("# c\nexport A=1 # one\nB = \"two # words\"\nC='x'\nD=a#b\n\n").unwrap();
        assert_eq!(
            m,
            map(&[("A", "1"), ("B", "two # words"), ("C", "x"), ("D", "a#b")])
        );
        assert!(parse_dotenv("oops").unwrap_err().contains("line 1"));
    }

    #[test]
    fn drift_names_keys_and_hides_secrets() {
        let mut problems = Problems::default();
        let p = validate(
            Raw {
                allow_differ: Some(vec!["*.host".into()]),
                critical: Some(vec!["DB_*".into()]),
                sensitive: None,
                env: None,
            },
            &mut problems,
        );
        let src = map(&[
            ("DB_URL", "a"),
            ("api.host", "s"),
            ("DB_PASSWORD", "p1"),
            ("ONLY_S", "1"),
            ("SAME", "x"),
        ]);
        let tgt = map(&[
            ("DB_URL", "b"),
            ("api.host", "p"),
            ("DB_PASSWORD", "p2"),
            ("ONLY_T", "1"),
            ("SAME", "x"),
        ]);
        let d = p.compare(&src, &tgt);
        assert_eq!(d.only_source, ["ONLY_S"]);
        assert_eq!(d.only_target, ["ONLY_T"]);
        assert_eq!(d.allowed, ["api.host"]);
        assert_eq!(d.differ.len(), 2);
        let secret = d.differ.iter().find(|(k, _)| k == "DB_PASSWORD").unwrap();
        assert_eq!(secret.1, None);
        assert_eq!(d.critical, ["DB_PASSWORD", "DB_URL"]);
        assert_eq!(d.same, 1);
    }

    #[test]
    fn files_flatten_to_dotted_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"{"db":{"host":"h","port":5432},"list":[1,2],"ratio":1.5}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            "db:\n  host: h\n  port: 5432\nlist: [1, 2]\nratio: 1.50\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("c.toml"),
            "list = [1, 2]\nratio = 1.5\n[db]\nhost = \"h\"\nport = 5432\n",
        )
        .unwrap();
        let want = map(&[
            ("db.host", "h"),
            ("db.port", "5432"),
            ("list.0", "1"),
            ("list.1", "2"),
            ("ratio", "1.5"),
        ]);
        for f in ["a.json", "b.yaml", "c.toml"] {
            assert_eq!(read_file(&dir.path().join(f)).unwrap(), want, "{f}");
        }
        std::fs::write(dir.path().join("bad.json"), "{").unwrap();
        assert!(
            read_file(&dir.path().join("bad.json"))
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
