//! The Falco rules (`rules/k8s_admission_rules.yaml`, SPEC §8) against the plugin's real field
//! table and the fixtures (SPEC §9), with the test-only evaluator of `testing/rules-eval`:
//!
//! - the rules file loads without warnings and requires only the k8sadmission plugin;
//! - every `kar.*` field a condition or an output uses exists in the plugin's field table with
//!   the right argument kind, and list fields are only used with `exists`, `in`, `intersects`;
//! - every rule has a priority, `source: k8s_admission` and MITRE tactic and technique tags;
//! - no output prints ConfigMap or Secret data;
//! - no condition compares with a bare word shaped like a list name (Falco would take a misspelt
//!   list name for a value), and every list and macro is used;
//! - every rule fires under `rule_matching: all` on some fixture line of
//!   `testing/expected_alerts.yaml` (the four rules that are off by default in the run that also
//!   loads `testing/enable_off_rules.yaml`), and benign.jsonl raises nothing of priority Warning
//!   or higher;
//! - replaying every `test_files/*.jsonl` through the real `libk8sadmission.so` (one field per
//!   `extract_fields` call, as Falco does) and evaluating each event with `rule_matching: first`
//!   and `all` gives exactly `testing/expected_alerts.yaml`.
//!
//! `UPDATE_ALERTS=1 K8SADMISSION_SO=$PWD/target/release/libk8sadmission.so cargo test --test rules`
//! rewrites `testing/expected_alerts.yaml` from the verdicts; review the diff against each
//! scenario's `why` (testing/scenarios.yaml) and each rule's intent before committing it.

#[path = "common/so.rs"]
mod so;

use rules_eval::{ArgSpec, FieldSpec, Matching, Priority, Ruleset, Usage};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// The event source of the plugin, and of every rule.
const SOURCE: &str = "k8s_admission";
/// The shipped rules file.
const RULES: &str = "rules/k8s_admission_rules.yaml";
/// The tuning file that turns on the rules that are off by default.
const TUNING: &str = "testing/enable_off_rules.yaml";
/// The expected alerts, per run, file, line and matching mode.
const EXPECTED: &str = "testing/expected_alerts.yaml";
/// The plugin config of every replay: defaults, plus the pod spec of the Argo Rollout of
/// edge_cases.jsonl (a CRD no built-in kind covers).
const INIT_CONFIG: &str = r#"{"podSpecPaths":{"argoproj.io/Rollout":"/spec/template/spec"}}"#;
/// The rules configurations replayed: a name and the rules files loaded, in order.
const RUNS: &[(&str, &[&str])] = &[
    ("shipped rules", &[RULES]),
    ("default-off rules enabled", &[RULES, TUNING]),
];
/// The rules that are off by default (rules/README.md) and turned on by the tuning file.
const DEFAULT_OFF: [&str; 4] = [
    "Create Disallowed Pod",
    "Full K8s Administrative Access",
    "Untrusted Node Successfully Joined the Cluster",
    "All K8s Audit Events",
];
/// The plugin's default maxEventSize: longer lines would be skipped, not framed.
const MAX_EVENT_SIZE: usize = 8 * 1024 * 1024;

// ------------------------------------------------------------------------------------------------
// Loading
// ------------------------------------------------------------------------------------------------

fn read(path: &str) -> String {
    let full = so::root().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The rules files of a run, loaded in order.
fn load(files: &[&str]) -> Ruleset {
    let texts: Vec<String> = files.iter().map(|f| read(f)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    Ruleset::from_yaml_files(&refs).unwrap_or_else(|e| panic!("loading {files:?}: {e:#}"))
}

fn runs() -> Vec<(&'static str, Ruleset)> {
    RUNS.iter()
        .map(|(name, files)| (*name, load(files)))
        .collect()
}

/// The plugin's field table (`k8sadmission::fields::FIELDS`, as the plugin serialises it for
/// Falco): name → shape.
fn field_table() -> BTreeMap<String, FieldSpec> {
    let table = serde_json::to_value(k8sadmission::fields::FIELDS).unwrap();
    let mut out = BTreeMap::new();
    for f in table.as_array().expect("the field table is a list") {
        let name = f["name"].as_str().expect("a field name").to_string();
        assert_eq!(f["type"], "string", "{name}: every kar.* field is a string");
        let arg = match &f["arg"] {
            serde_json::Value::Null => None,
            a => Some(ArgSpec {
                required: a["isRequired"] == true,
                index: a["isIndex"] == true,
                key: a["isKey"] == true,
            }),
        };
        let spec = FieldSpec {
            list: f["isList"].as_bool().expect("isList"),
            arg,
        };
        assert!(out.insert(name.clone(), spec).is_none(), "{name} twice");
    }
    out
}

// ------------------------------------------------------------------------------------------------
// Static checks of the rules
// ------------------------------------------------------------------------------------------------

#[test]
fn rules_files_load_without_warnings_and_require_only_k8sadmission() {
    for (name, rules) in runs() {
        assert!(
            rules.warnings().is_empty(),
            "{name}: warnings: {:#?}",
            rules.warnings()
        );
        let engine = rules.required_engine_version();
        assert!(engine.is_some(), "{name}: no required_engine_version");
        let plugins = rules.required_plugin_versions();
        assert!(!plugins.is_empty(), "{name}: no required_plugin_versions");
        for alternatives in plugins {
            assert!(!alternatives.is_empty());
            for p in alternatives {
                assert_eq!(p.name, "k8sadmission", "{name}: requires {p:?}");
                assert!(
                    p.version.split('.').count() == 3
                        && p.version.split('.').all(|n| n.parse::<u64>().is_ok()),
                    "{name}: version {:?}",
                    p.version
                );
            }
        }
    }
    // Redefining a rule replaces it in place: every `- rule:` item of the shipped file must be
    // a rule of its own.
    let text = read(RULES);
    let items = text.lines().filter(|l| l.starts_with("- rule:")).count();
    let rules = load(&[RULES]);
    assert_eq!(
        rules.rules().count(),
        items,
        "two rules of {RULES} share a name"
    );
    // The tuning file turns rules on through their macros; it defines no rule.
    assert!(
        !read(TUNING).lines().any(|l| l.starts_with("- rule:")),
        "{TUNING} defines a rule"
    );
}

#[test]
fn every_field_the_rules_use_exists_with_the_right_argument() {
    let table = field_table();
    for (name, rules) in runs() {
        let used = rules.fields_used();
        assert!(!used.is_empty());
        for f in &used {
            let valid = f.field.starts_with("kar.")
                && f.field[4..].split('.').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
            assert!(valid, "{name}: invalid field name {:?}", f.field);
            assert!(
                table.contains_key(&f.field),
                "{name}: {} is not a field of the plugin",
                f.field
            );
        }
        if let Err(e) = rules.check_fields(|field| table.get(field).copied()) {
            panic!("{name}: {e:#}");
        }
    }
}

/// `T` and four digits, optionally `.` and three: a MITRE ATT&CK technique.
fn is_technique(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix('T') else {
        return false;
    };
    let (id, sub) = rest.split_once('.').unwrap_or((rest, "000"));
    id.len() == 4
        && id.bytes().all(|b| b.is_ascii_digit())
        && sub.len() == 3
        && sub.bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn every_rule_has_priority_source_and_mitre_tags() {
    // The loader refuses a rule without a valid priority, so loading proves it has one.
    let rules = load(&[RULES]);
    assert!(rules.rules().count() > 0);
    let mut problems = Vec::new();
    for r in rules.rules() {
        if r.source != SOURCE {
            problems.push(format!("{}: source {:?}", r.name, r.source));
        }
        if !r.tags.iter().any(|t| t.starts_with("mitre_")) {
            problems.push(format!("{}: no mitre_* tag in {:?}", r.name, r.tags));
        }
        if !r.tags.iter().any(|t| is_technique(t)) {
            problems.push(format!("{}: no T#### tag in {:?}", r.name, r.tags));
        }
        if r.desc.trim().is_empty() || r.output.trim().is_empty() {
            problems.push(format!("{}: empty desc or output", r.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Fields whose value is ConfigMap data or the whole payload (Secret data included when
/// redaction is off).
const DATA_FIELDS: &[&str] = &[
    "kar.obj",
    "kar.req.configmap.obj",
    "kar.req.configmap.data",
    "kar.req.configmap.binary_data",
];

/// Where an object keeps data an output must not print.
const DATA_MEMBERS: &[&str] = &[
    "data",
    "stringData",
    "binaryData",
    "kubectl.kubernetes.io/last-applied-configuration",
];

/// True if `kar.value[pointer]` can print ConfigMap or Secret data: the pointer goes into a
/// data member (at any depth) or names a value that contains one (`/request/object`, ...).
fn pointer_reaches_data(pointer: &str) -> bool {
    if pointer.is_empty() {
        return true; // the whole review
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return false; // not a JSON pointer: the field has no value
    };
    let parts: Vec<String> = rest
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    if parts.iter().any(|p| DATA_MEMBERS.contains(&p.as_str())) {
        return true;
    }
    // An ancestor of request.(object|oldObject).(data|stringData|binaryData) or of the
    // last-applied annotation.
    let containers: [&[&str]; 4] = [
        &["request", "object"],
        &["request", "oldObject"],
        &["request", "object", "metadata", "annotations"],
        &["request", "oldObject", "metadata", "annotations"],
    ];
    containers
        .iter()
        .any(|c| parts.len() <= c.len() && parts.iter().zip(c.iter()).all(|(p, c)| p == c))
}

#[test]
fn pointer_reaches_data_knows_the_data_paths() {
    for p in [
        "",
        "/request",
        "/request/object",
        "/request/oldObject/data",
        "/request/object/data/password",
        "/request/object/stringData",
        "/request/object/binaryData/key",
        "/request/object/metadata",
        "/request/object/metadata/annotations",
        "/request/oldObject/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
    ] {
        assert!(pointer_reaches_data(p), "{p}");
    }
    for p in [
        "/request/object/spec/schedule",
        "/request/object/spec/audiences",
        "/request/object/metadata/name",
        "/request/object/metadata/labels",
        "/request/object/metadata/annotations/kubernetes.io~1config.mirror",
        "/request/userInfo",
    ] {
        assert!(!pointer_reaches_data(p), "{p}");
    }
}

#[test]
fn no_output_prints_configmap_or_secret_data() {
    let mut problems = Vec::new();
    for (name, rules) in runs() {
        for f in rules.fields_used() {
            if f.usage != Usage::Output {
                continue;
            }
            if DATA_FIELDS.contains(&f.field.as_str()) {
                problems.push(format!("{name}: an output prints {}", f.field));
            }
            if f.field == "kar.value" && pointer_reaches_data(f.arg.as_deref().unwrap_or("")) {
                problems.push(format!(
                    "{name}: an output prints kar.value[{}]",
                    f.arg.unwrap_or_default()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Unquoted literals of the rules that look like a list name (see [`is_list_shaped`]) but are
/// values the rules mean to compare with. Empty: no condition of the rules compares with such a
/// word.
const LIST_SHAPED_VALUES: &[&str] = &[];

/// Lowercase ASCII letters, digits and `_`, with at least one `_`: the shape of every list name
/// of the rules (`k8s_audit_privileged_images`).
fn is_list_shaped(value: &str) -> bool {
    value.contains('_')
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The unquoted literals of every condition (macros and rules, exceptions included, after list
/// substitution) that look like a list name and are not in [`LIST_SHAPED_VALUES`]: Falco
/// substitutes list names as text, so a misspelt or undefined list name stays in the condition
/// as a literal value instead of failing the load.
fn list_shaped_literals(rules: &Ruleset) -> Vec<String> {
    rules
        .literal_values()
        .into_iter()
        .filter(|l| {
            !l.quoted && is_list_shaped(&l.value) && !LIST_SHAPED_VALUES.contains(&l.value.as_str())
        })
        .map(|l| format!("{} '{}': {} {} {}", l.kind, l.item, l.field, l.op, l.value))
        .collect()
}

/// Falco's warnings about lists and macros that nothing refers to.
fn unused_lists_and_macros(rules: &Ruleset) -> Vec<String> {
    rules
        .warnings()
        .iter()
        .filter(|w| w.contains("not referred to by any other rule/macro"))
        .cloned()
        .collect()
}

#[test]
fn every_list_used_is_defined() {
    for (name, rules) in runs() {
        let literals = rules.literal_values();
        assert!(
            literals.iter().any(|l| !l.quoted) && literals.iter().any(|l| l.quoted),
            "{name}: the rules compare with no bare or no quoted literal"
        );
        let suspicious = list_shaped_literals(&rules);
        assert!(
            suspicious.is_empty(),
            "{name}: bare literals shaped like list names, most likely undefined or misspelt \
             lists (define the list, fix the name, or add a real value to LIST_SHAPED_VALUES):\n{}",
            suspicious.join("\n")
        );
        let unused = unused_lists_and_macros(&rules);
        assert!(
            unused.is_empty(),
            "{name}: lists or macros no rule or macro uses (Falco warns about them; a misspelt \
             reference leaves its list unused):\n{}",
            unused.join("\n")
        );
    }

    // The check catches a misspelt list name in a macro, a rule and an exception value, and the
    // list it meant is then unused.
    let misspelt = format!(
        r#"
- list: trusted_images
  items: [nginx, "my image"]
- list: admin_users
  items: [alice]
- macro: trusted_pod
  condition: kar.req.pod.containers.image.repository in (trusted_imags)
- rule: R
  desc: d
  condition: >
    kar.uid exists and not trusted_pod
    and not kar.user.name in (admin_user, bob)
    and kar.verb = CREATE and kar.target.name = 'quoted_name'
  output: o
  priority: WARNING
  source: {SOURCE}
  exceptions:
    - name: admins
      fields: kar.user.name
      values: [admin_usrs]
"#
    );
    let rules = Ruleset::from_yaml(&misspelt).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        list_shaped_literals(&rules),
        [
            "macro 'trusted_pod': kar.req.pod.containers.image.repository in trusted_imags",
            "rule 'R': kar.user.name in admin_user",
            "rule 'R': kar.user.name in admin_usrs",
        ]
    );
    let unused = unused_lists_and_macros(&rules);
    assert_eq!(unused.len(), 2, "{unused:#?}");
    assert!(unused[0].contains("list 'trusted_images'"), "{unused:#?}");
    assert!(unused[1].contains("list 'admin_users'"), "{unused:#?}");
    // With the names fixed, nothing is reported.
    let fixed = misspelt
        .replace("trusted_imags", "trusted_images")
        .replace("admin_user,", "admin_users,")
        .replace("admin_usrs", "admin_users");
    let rules = Ruleset::from_yaml(&fixed).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(list_shaped_literals(&rules).is_empty());
    assert!(unused_lists_and_macros(&rules).is_empty());
}

// ------------------------------------------------------------------------------------------------
// testing/expected_alerts.yaml: model, writer and reader
// ------------------------------------------------------------------------------------------------

/// The rules that fire on one line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Verdict {
    /// With `rule_matching: first`.
    first: Vec<String>,
    /// With `rule_matching: all`.
    all: Vec<String>,
}

/// Physical line number → verdict; lines on which nothing fires are left out.
type FileAlerts = BTreeMap<usize, Verdict>;

/// One rules configuration and what it reports on every fixture file.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    name: String,
    rules_files: Vec<String>,
    files: BTreeMap<String, FileAlerts>,
}

#[derive(Debug, PartialEq, Eq)]
struct Expected {
    init_config: String,
    runs: Vec<Run>,
}

const HEADER: &str = "\
# What real Falco (nodriver engine, only the k8sadmission plugin, falco.yaml's default
# `priority: debug`) must report when each fixture file test_files/<file> is replayed
# (open_params: that file), for each rules configuration (`runs`, rules files loaded in order).
#
# - Keys under a file are physical line numbers (1-based, every `\\n`-terminated line counts,
#   blank and malformed ones too). Lines on which no rule fires in either mode are left out; a
#   file on which nothing fires is `{}`. The comment after a line is its evt.plugininfo.
# - first: the rule reported with `rule_matching: first` (Falco's default); all: every matching
#   rule, in rule order, with `rule_matching: all`.
# - init_config: the plugin config of every replay: all defaults, plus podSpecPaths for the
#   argoproj.io/Rollout of edge_cases.jsonl (line 7), a CRD whose pod spec no built-in kind
#   finds. No other fixture line has a kind that podSpecPaths changes.
# - `default-off rules enabled` also loads testing/enable_off_rules.yaml, a tuning file that
#   turns on the four rules that are off by default (rules/README.md).
#
# Generated, not hand-written:
#   UPDATE_ALERTS=1 K8SADMISSION_SO=$PWD/target/release/libk8sadmission.so cargo test --test rules
# replays every fixture through the real libk8sadmission.so and evaluates the rules with
# testing/rules-eval; the same test (in `make test`) fails when the verdicts differ from this
# file. Review the diff. tests/rules.rs reads this layout only (block mappings, flow lists,
# single-quoted or plain scalars, comments).
";

/// A YAML scalar: plain when YAML reads it back as the same string, else single-quoted.
fn scalar(s: &str) -> String {
    let special_start = s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`~ ".contains(c));
    let special = s.contains(|c: char| ",[]{}#'\"\t\n".contains(c))
        || s.contains(": ")
        || s.ends_with(':')
        || s.ends_with(' ');
    let lower = s.to_ascii_lowercase();
    let typed = ["true", "false", "yes", "no", "on", "off", "null", "y", "n"]
        .contains(&lower.as_str())
        || s.parse::<f64>().is_ok()
        || s.starts_with(|c: char| c.is_ascii_digit());
    if s.is_empty() || special_start || special || typed {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_string()
    }
}

fn flow_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| scalar(s)).collect();
    format!("[{}]", items.join(", "))
}

/// Renders the expected file; `info` gives the comment of a (file, line).
fn render(expected: &Expected, info: &BTreeMap<(String, usize), String>) -> String {
    let mut out = String::from(HEADER);
    writeln!(out, "init_config: {}", scalar(&expected.init_config)).unwrap();
    out.push_str("runs:\n");
    for run in &expected.runs {
        writeln!(out, "  - name: {}", scalar(&run.name)).unwrap();
        writeln!(out, "    rules_files: {}", flow_list(&run.rules_files)).unwrap();
        out.push_str("    files:\n");
        for (file, lines) in &run.files {
            if lines.is_empty() {
                writeln!(out, "      {}: {{}}", scalar(file)).unwrap();
                continue;
            }
            writeln!(out, "      {}:", scalar(file)).unwrap();
            for (n, v) in lines {
                write!(
                    out,
                    "        {n}: {{first: {}, all: {}}}",
                    flow_list(&v.first),
                    flow_list(&v.all)
                )
                .unwrap();
                if let Some(c) = info.get(&(file.clone(), *n)) {
                    write!(out, "  # {}", c.replace('\n', " ")).unwrap();
                }
                out.push('\n');
            }
        }
    }
    out
}

/// A cursor over one line of flow YAML.
struct Flow<'a> {
    s: &'a str,
}

impl Flow<'_> {
    fn ws(&mut self) {
        self.s = self.s.trim_start_matches(' ');
    }

    fn eat(&mut self, token: &str) -> Result<(), String> {
        self.ws();
        match self.s.strip_prefix(token) {
            Some(rest) => {
                self.s = rest;
                Ok(())
            }
            None => Err(format!("expected `{token}` at `{}`", self.s)),
        }
    }

    /// A scalar: single-quoted, or plain up to `stop` characters.
    fn scalar(&mut self, stop: &str) -> Result<String, String> {
        self.ws();
        if let Some(rest) = self.s.strip_prefix('\'') {
            let mut out = String::new();
            let mut chars = rest.char_indices();
            while let Some((i, c)) = chars.next() {
                if c != '\'' {
                    out.push(c);
                } else if rest[i + 1..].starts_with('\'') {
                    out.push('\'');
                    chars.next();
                } else {
                    self.s = &rest[i + 1..];
                    return Ok(out);
                }
            }
            return Err("unterminated quoted scalar".into());
        }
        if self.s.starts_with(|c: char| "\"&*!|>%@`{[".contains(c)) {
            return Err(format!("unsupported scalar at `{}`", self.s));
        }
        let end = self
            .s
            .find(|c: char| stop.contains(c))
            .unwrap_or(self.s.len());
        let value = self.s[..end].trim_end();
        self.s = &self.s[end..];
        if value.is_empty() {
            return Err("empty scalar".into());
        }
        Ok(value.to_string())
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        self.eat("[")?;
        let mut items = Vec::new();
        self.ws();
        if let Some(rest) = self.s.strip_prefix(']') {
            self.s = rest;
            return Ok(items);
        }
        loop {
            items.push(self.scalar(",]")?);
            self.ws();
            if let Some(rest) = self.s.strip_prefix(',') {
                self.s = rest;
            } else {
                self.eat("]")?;
                return Ok(items);
            }
        }
    }

    fn end(&mut self) -> Result<(), String> {
        self.ws();
        if self.s.is_empty() {
            Ok(())
        } else {
            Err(format!("unexpected `{}`", self.s))
        }
    }
}

/// The line without its comment (a `#` at the start or after a blank, outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '#' if !quoted && (prev == ' ' || prev == '\t') => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

/// `key: rest` with a plain or quoted key.
fn key_value(content: &str) -> Result<(String, &str), String> {
    let mut f = Flow { s: content };
    let key = f.scalar(":")?;
    f.eat(":")?;
    Ok((key, f.s.trim()))
}

fn parse_expected(text: &str) -> Result<Expected, String> {
    let mut init_config = None;
    let mut runs: Vec<Run> = Vec::new();
    let mut in_runs = false;
    let mut file: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let at = |e: String| format!("{EXPECTED}:{}: {e}", i + 1);
        let line = strip_comment(raw).trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = &line[indent..];
        match indent {
            0 => {
                let (key, rest) = key_value(content).map_err(at)?;
                match key.as_str() {
                    "init_config" => {
                        let mut f = Flow { s: rest };
                        init_config = Some(f.scalar("").map_err(at)?);
                    }
                    "runs" if rest.is_empty() => in_runs = true,
                    _ => return Err(at(format!("unexpected `{content}`"))),
                }
            }
            2 if in_runs => {
                let rest = content
                    .strip_prefix("- ")
                    .ok_or_else(|| at("expected `- name: ...`".into()))?;
                let (key, value) = key_value(rest).map_err(at)?;
                if key != "name" {
                    return Err(at("a run starts with `name:`".into()));
                }
                let mut f = Flow { s: value };
                runs.push(Run {
                    name: f.scalar("").map_err(at)?,
                    rules_files: Vec::new(),
                    files: BTreeMap::new(),
                });
                file = None;
            }
            4 if !runs.is_empty() => {
                let run = runs.last_mut().unwrap();
                let (key, rest) = key_value(content).map_err(at)?;
                match (key.as_str(), rest) {
                    ("rules_files", _) => {
                        let mut f = Flow { s: rest };
                        run.rules_files = f.list().map_err(at)?;
                        f.end().map_err(at)?;
                    }
                    ("files", "" | "{}") => {}
                    _ => return Err(at(format!("unexpected `{content}`"))),
                }
            }
            6 if !runs.is_empty() => {
                let run = runs.last_mut().unwrap();
                let (key, rest) = key_value(content).map_err(at)?;
                if !matches!(rest, "" | "{}") {
                    return Err(at(format!("expected `{key}:` or `{key}: {{}}`")));
                }
                if run.files.insert(key.clone(), BTreeMap::new()).is_some() {
                    return Err(at(format!("{key} twice")));
                }
                file = (rest.is_empty()).then_some(key);
            }
            8 if file.is_some() => {
                let run = runs.last_mut().unwrap();
                let lines = run.files.get_mut(file.as_ref().unwrap()).unwrap();
                let (key, rest) = key_value(content).map_err(at)?;
                let n: usize = key
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| at(format!("`{key}` is not a line number")))?;
                let mut f = Flow { s: rest };
                f.eat("{").map_err(at)?;
                f.eat("first").map_err(at)?;
                f.eat(":").map_err(at)?;
                let first = f.list().map_err(at)?;
                f.eat(",").map_err(at)?;
                f.eat("all").map_err(at)?;
                f.eat(":").map_err(at)?;
                let all = f.list().map_err(at)?;
                f.eat("}").map_err(at)?;
                f.end().map_err(at)?;
                if lines.insert(n, Verdict { first, all }).is_some() {
                    return Err(at(format!("line {n} twice")));
                }
            }
            _ => return Err(at(format!("unexpected `{line}`"))),
        }
    }
    Ok(Expected {
        init_config: init_config.ok_or("no init_config")?,
        runs,
    })
}

fn expected() -> Expected {
    parse_expected(&read(EXPECTED)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_expected_file_reader_reads_what_the_writer_writes() {
    let mut lines = BTreeMap::new();
    lines.insert(
        3,
        Verdict {
            first: vec!["Attach/Exec Pod".into()],
            all: vec![
                "Attach/Exec Pod".into(),
                "a, b: 'c' # d".into(),
                "true".into(),
                "port-forward".into(),
            ],
        },
    );
    let mut files = BTreeMap::new();
    files.insert("a.jsonl".to_string(), lines);
    files.insert("b.jsonl".to_string(), BTreeMap::new());
    let e = Expected {
        init_config: r#"{"a":"b"}"#.into(),
        runs: vec![Run {
            name: "x: y".into(),
            rules_files: vec!["r.yaml".into(), "t.yaml".into()],
            files,
        }],
    };
    let mut info = BTreeMap::new();
    info.insert(("a.jsonl".to_string(), 3), "CONNECT pods # x".to_string());
    let text = render(&e, &info);
    assert_eq!(parse_expected(&text).unwrap(), e, "{text}");
    assert!(parse_expected("runs:\n  - name: x\n    oops: 1\n").is_err());
}

// ------------------------------------------------------------------------------------------------
// Checks of the expected alerts
// ------------------------------------------------------------------------------------------------

#[test]
fn the_expected_alerts_name_known_rules_consistently() {
    let expected = expected();
    let rulesets = runs();
    let mut problems = Vec::new();
    for run in &expected.runs {
        let Some((_, rules)) = rulesets.iter().find(|(n, _)| *n == run.name) else {
            problems.push(format!("unknown run {:?}", run.name));
            continue;
        };
        for (file, lines) in &run.files {
            for (n, v) in lines {
                let at = format!("{}: {file}:{n}", run.name);
                for name in v.first.iter().chain(&v.all) {
                    match rules.rule(name) {
                        None => problems.push(format!("{at}: no rule {name:?}")),
                        Some(r) if !r.enabled => {
                            problems.push(format!("{at}: {name:?} is disabled"))
                        }
                        Some(_) => {}
                    }
                }
                // Falco reports, with `first`, the first rule (in rule order) that `all` reports.
                if v.first.as_slice() != &v.all[..v.all.len().min(1)] {
                    problems.push(format!("{at}: first {:?} but all {:?}", v.first, v.all));
                }
                let order: Vec<&str> = rules
                    .rules()
                    .map(|r| r.name.as_str())
                    .filter(|n| v.all.iter().any(|a| a == n))
                    .collect();
                if order != v.all.iter().map(String::as_str).collect::<Vec<_>>() {
                    problems.push(format!("{at}: all {:?} is not in rule order", v.all));
                }
                if v.all.is_empty() {
                    problems.push(format!("{at}: nothing fires: leave the line out"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The rules that fire under `all` in a run, each with the first line that fires it.
fn coverage(run: &Run) -> BTreeMap<&str, String> {
    let mut out = BTreeMap::new();
    for (file, lines) in &run.files {
        for (n, v) in lines {
            for r in &v.all {
                out.entry(r.as_str())
                    .or_insert_with(|| format!("{file}:{n}"));
            }
        }
    }
    out
}

#[test]
fn every_rule_fires_on_some_fixture_line() {
    let expected = expected();
    let rules = load(&[RULES]);
    let find = |name: &str| {
        expected
            .runs
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{EXPECTED} has no run {name:?}"))
    };
    let shipped = coverage(find(RUNS[0].0));
    let enabled = coverage(find(RUNS[1].0));
    let mut problems = Vec::new();
    for r in rules.rules() {
        let off = DEFAULT_OFF.contains(&r.name.as_str());
        if !enabled.contains_key(r.name.as_str()) {
            problems.push(format!("{:?} fires on no fixture line", r.name));
        }
        match (off, shipped.get(r.name.as_str())) {
            (false, None) => problems.push(format!(
                "{:?} fires on no line with the shipped rules",
                r.name
            )),
            (true, Some(at)) => problems.push(format!(
                "{:?} is off by default but fires on {at} with the shipped rules",
                r.name
            )),
            _ => {}
        }
    }
    for name in DEFAULT_OFF {
        assert!(rules.rule(name).is_some(), "no rule {name:?}");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn benign_fixture_raises_nothing_of_warning_or_higher() {
    let expected = expected();
    let mut problems = Vec::new();
    for (name, rules) in runs() {
        let run = expected
            .runs
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{EXPECTED} has no run {name:?}"));
        let benign = run
            .files
            .get("benign.jsonl")
            .unwrap_or_else(|| panic!("{name}: no benign.jsonl"));
        for (n, v) in benign {
            for r in v.first.iter().chain(&v.all) {
                let Some(rule) = rules.rule(r) else { continue };
                // The tuning file turns on Full K8s Administrative Access, which reports every
                // request of the admin users, and benign.jsonl uses kubernetes-admin on purpose
                // (testing/scenarios.yaml). Its other rules must stay quiet there.
                let admin = name != RUNS[0].0 && r == "Full K8s Administrative Access";
                if rule.priority.at_least(Priority::Warning) && !admin {
                    problems.push(format!("{name}: benign.jsonl:{n}: {r} ({})", rule.priority));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ------------------------------------------------------------------------------------------------
// Replay through the real shared library
// ------------------------------------------------------------------------------------------------

/// The plugin's framing rule (SPEC §2) applied to a file: the physical line number (1-based)
/// and bytes (without `\n` and a trailing `\r`) of every line that becomes an event.
fn framed_lines(bytes: &[u8]) -> Vec<(usize, &[u8])> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if bytes.ends_with(b"\n") {
        lines.pop(); // after the last newline: no line
    }
    let mut out = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(first) = line.iter().position(|b| !b.is_ascii_whitespace()) else {
            continue; // blank
        };
        let last = line.iter().rposition(|b| !b.is_ascii_whitespace()).unwrap();
        assert!(
            line.len() <= MAX_EVENT_SIZE,
            "line {} is over maxEventSize",
            i + 1
        );
        if line[first] == b'{' && line[last] == b'}' && std::str::from_utf8(line).is_ok() {
            out.push((i + 1, line));
        }
    }
    out
}

#[test]
fn framing_counts_physical_lines() {
    let text = b"{\"a\":1}\n\n  \nnot json\r\n {\"b\":2}\t\r\n{\"c\":\xff}\n[1]\n{\"d\":3}";
    let got: Vec<usize> = framed_lines(text).iter().map(|(n, _)| *n).collect();
    assert_eq!(got, [1, 5, 8]);
    assert_eq!(framed_lines(text)[1].1, b" {\"b\":2}\t");
    assert_eq!(framed_lines(b"{}\n").len(), 1);
}

/// The `*.jsonl` files of test_files/, sorted.
fn fixture_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(so::root().join("test_files"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

/// What the rules report on every fixture file, per run, and the evt.plugininfo of each line.
struct Observed {
    runs: Vec<BTreeMap<String, FileAlerts>>,
    info: BTreeMap<(String, usize), String>,
}

/// Replays every fixture through the shared library and evaluates every run on every event;
/// the field values come from the plugin, one field per call, cached per event.
fn observe(rulesets: &[(&str, Ruleset)]) -> Observed {
    let mut observed = Observed {
        runs: vec![BTreeMap::new(); rulesets.len()],
        info: BTreeMap::new(),
    };
    for file in fixture_files() {
        let mut plugin = so::init(INIT_CONFIG);
        let events = so::replay(&mut plugin, &so::test_file(&file));
        let bytes = std::fs::read(so::root().join("test_files").join(&file)).unwrap();
        let lines = framed_lines(&bytes);
        assert_eq!(
            events.len(),
            lines.len(),
            "{file}: the plugin made {} events of {} framed lines",
            events.len(),
            lines.len()
        );
        for run in &mut observed.runs {
            run.insert(file.clone(), BTreeMap::new());
        }
        for (ev, (n, line)) in events.iter().zip(lines) {
            check_payload(&file, n, ev.payload(), line);
            let mut cache: HashMap<String, Option<Vec<String>>> = HashMap::new();
            {
                let mut fields = |field: &str, arg: Option<&str>| -> Option<Vec<String>> {
                    let name = match arg {
                        Some(a) => format!("{field}[{a}]"),
                        None => field.to_string(),
                    };
                    if let Some(v) = cache.get(&name) {
                        return v.clone();
                    }
                    let v = plugin
                        .extract(ev, &name)
                        .unwrap_or_else(|e| panic!("{file}:{n}: {name}: {e:#}"));
                    cache.insert(name, v.clone());
                    v
                };
                for ((_, rules), run) in rulesets.iter().zip(&mut observed.runs) {
                    let first = rules.evaluate(&mut fields, Matching::First, SOURCE);
                    let all = rules.evaluate(&mut fields, Matching::All, SOURCE);
                    if !first.is_empty() || !all.is_empty() {
                        run.get_mut(&file)
                            .unwrap()
                            .insert(n, Verdict { first, all });
                    }
                }
            }
            if let Some(s) = plugin.event_to_string(ev) {
                observed.info.insert((file.clone(), n), s);
            }
        }
    }
    observed
}

/// The event's payload is the framed line, except for Secrets, which the plugin redacts and
/// re-serialises (redactSecrets is on by default): then the request uid must match.
fn check_payload(file: &str, n: usize, payload: &[u8], line: &[u8]) {
    if payload == line {
        return;
    }
    let parse = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).ok();
    let (Some(got), Some(want)) = (parse(payload), parse(line)) else {
        panic!("{file}:{n}: the event is not this line");
    };
    assert_eq!(
        want.pointer("/request/kind/kind").and_then(|v| v.as_str()),
        Some("Secret"),
        "{file}:{n}: the event's payload differs from the line"
    );
    assert!(got.pointer("/request/uid").is_some());
    assert_eq!(
        got.pointer("/request/uid"),
        want.pointer("/request/uid"),
        "{file}:{n}: the event is not this line"
    );
}

#[test]
fn replaying_every_fixture_gives_the_expected_alerts() {
    let _g = so::serial();
    let rulesets = runs();
    let observed = observe(&rulesets);
    let got = Expected {
        init_config: INIT_CONFIG.to_string(),
        runs: RUNS
            .iter()
            .zip(observed.runs)
            .map(|((name, files), alerts)| Run {
                name: name.to_string(),
                rules_files: files.iter().map(|f| f.to_string()).collect(),
                files: alerts,
            })
            .collect(),
    };
    if std::env::var_os("UPDATE_ALERTS").is_some() {
        std::fs::write(so::root().join(EXPECTED), render(&got, &observed.info)).unwrap();
        return;
    }
    let want = expected();
    assert_eq!(
        want.init_config, got.init_config,
        "{EXPECTED}: init_config differs from the one the test uses"
    );
    let names = |e: &Expected| {
        e.runs
            .iter()
            .map(|r| (r.name.clone(), r.rules_files.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&want), names(&got), "{EXPECTED}: runs differ");
    let mut report = String::new();
    for (w, g) in want.runs.iter().zip(&got.runs) {
        let mut problems = Vec::new();
        let files: BTreeSet<&String> = w.files.keys().chain(g.files.keys()).collect();
        for file in files {
            let (Some(wl), Some(gl)) = (w.files.get(file), g.files.get(file)) else {
                problems.push(format!(
                    "{file}: {}",
                    if g.files.contains_key(file) {
                        "missing from the expected file"
                    } else {
                        "no such fixture"
                    }
                ));
                continue;
            };
            let lines: BTreeSet<&usize> = wl.keys().chain(gl.keys()).collect();
            let none = Verdict::default();
            for n in lines {
                let (wv, gv) = (wl.get(n).unwrap_or(&none), gl.get(n).unwrap_or(&none));
                for (mode, wm, gm) in [("first", &wv.first, &gv.first), ("all", &wv.all, &gv.all)] {
                    if wm != gm {
                        problems.push(format!(
                            "{file}:{n} {mode}: got [{}] want [{}]",
                            gm.join(", "),
                            wm.join(", ")
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            writeln!(report, "run {:?}:\n  {}", w.name, problems.join("\n  ")).unwrap();
        }
    }
    assert!(
        report.is_empty(),
        "the rules report other alerts than {EXPECTED} (UPDATE_ALERTS=1 rewrites it):\n{report}"
    );
}

// ------------------------------------------------------------------------------------------------
// The README's rules table, generated from the rules file and the expected alerts
// ------------------------------------------------------------------------------------------------

const README_BEGIN: &str = "<!-- rules:begin (generated by `make readme`) -->\n";
const README_END: &str = "<!-- rules:end -->";

/// The first sentence of a description, on one line.
fn first_sentence(desc: &str) -> String {
    let flat = desc.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = flat
        .match_indices(". ")
        .map(|(i, _)| i)
        .find(|&i| flat[i + 2..].chars().next().is_some_and(char::is_uppercase));
    match end {
        Some(i) => flat[..=i].to_string(),
        None => flat,
    }
}

/// The first line that fires each rule under `all`, scenario files before the captures.
fn showcase(run: &Run) -> BTreeMap<&str, String> {
    const CAPTURES: [&str; 3] = [
        "kube_audit_rest_sample.jsonl",
        "edge_cases.jsonl",
        "malformed_lines.jsonl",
    ];
    let mut files: Vec<_> = run.files.iter().collect();
    files.sort_by_key(|(name, _)| (CAPTURES.contains(&name.as_str()), name.as_str()));
    let mut out = BTreeMap::new();
    for (file, lines) in files {
        for (n, v) in lines {
            for r in &v.all {
                out.entry(r.as_str())
                    .or_insert_with(|| format!("{file}:{n}"));
            }
        }
    }
    out
}

fn rules_table() -> String {
    let expected = expected();
    let shipped = showcase(&expected.runs[0]);
    let enabled = showcase(&expected.runs[1]);
    let mut out = String::from(
        "| Rule | Priority | Detects | Shown by (`test_files/`) |\n|---|---|---|---|\n",
    );
    for r in load(&[RULES]).rules() {
        let shown = match shipped.get(r.name.as_str()) {
            Some(at) => format!("`{at}`"),
            None => format!(
                "`{}` (off by default)",
                enabled.get(r.name.as_str()).map_or("-", String::as_str)
            ),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {shown} |\n",
            r.name,
            r.priority,
            first_sentence(&r.desc).replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn readme_rules_table_matches_the_rules() {
    let path = so::root().join("README.md");
    let readme = read("README.md");
    let start = readme
        .find(README_BEGIN)
        .expect("README has the rules:begin marker")
        + README_BEGIN.len();
    let end = readme
        .find(README_END)
        .expect("README has the rules:end marker");
    let want = rules_table();
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(
            &path,
            format!("{}{}{}", &readme[..start], want, &readme[end..]),
        )
        .unwrap();
        return;
    }
    assert!(
        readme[start..end] == want,
        "the README rules table differs from the rules: run `make readme`"
    );
}
