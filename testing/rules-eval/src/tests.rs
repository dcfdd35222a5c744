//! End-to-end tests: rules files loaded with [`Ruleset`] and evaluated on synthetic events.

use std::collections::HashMap;

use crate::*;

const SRC: &str = "k8s_admission";

/// An event: `field` or `field[arg]` → values.
#[derive(Default)]
struct Event(HashMap<String, Vec<String>>);

impl Fields for Event {
    fn get(&mut self, field: &str, arg: Option<&str>) -> Option<Vec<String>> {
        let key = match arg {
            Some(a) => format!("{field}[{a}]"),
            None => field.to_string(),
        };
        self.0.get(&key).cloned()
    }
}

fn event(pairs: &[(&str, &[&str])]) -> Event {
    Event(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect(),
    )
}

fn rule_yaml(name: &str, cond: &str) -> String {
    format!(
        "- rule: {name}\n  desc: d\n  condition: {cond:?}\n  output: o\n  priority: INFO\n  source: {SRC}\n"
    )
}

fn load(text: &str) -> Ruleset {
    Ruleset::from_yaml(text).unwrap_or_else(|e| panic!("{e:#}\n---\n{text}"))
}

fn load_err(text: &str) -> String {
    match Ruleset::from_yaml(text) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(e) => format!("{e:#}"),
    }
}

fn holds_with(prefix: &str, cond: &str, ev: &mut Event) -> bool {
    let rs = load(&format!("{prefix}{}", rule_yaml("r", cond)));
    !rs.evaluate(ev, Matching::All, SRC).is_empty()
}

fn holds(cond: &str, ev: &mut Event) -> bool {
    holds_with("", cond, ev)
}

const ALL_OPS: &[&str] = &[
    "kar.x = a",
    "kar.x == a",
    "kar.x != a",
    "kar.x < 1",
    "kar.x <= 1",
    "kar.x > 1",
    "kar.x >= 1",
    "kar.x contains a",
    "kar.x icontains a",
    "kar.x startswith a",
    "kar.x endswith a",
    "kar.x glob *",
    "kar.x iglob *",
    "kar.x in (a, b)",
    "kar.x intersects (a, b)",
    "kar.x pmatch (/)",
    "kar.x exists",
];

#[test]
fn missing_value_makes_every_check_false_and_not_true() {
    for empty in [event(&[]), event(&[("kar.x", &[])])] {
        let mut ev = empty;
        for cond in ALL_OPS {
            assert!(!holds(cond, &mut ev), "{cond} on ∅");
            assert!(holds(&format!("not {cond}"), &mut ev), "not {cond} on ∅");
        }
    }
}

#[test]
fn single_value_operators() {
    let cases: &[(&str, &str, bool)] = &[
        ("kar.x = a", "a", true),
        ("kar.x = a", "A", false),
        ("kar.x == a", "a", true),
        ("kar.x != a", "b", true),
        ("kar.x != a", "a", false),
        // strings compare with strcmp: "9" > "10", "10" < "9"
        ("kar.x > 10", "9", true),
        ("kar.x < 9", "10", true),
        ("kar.x >= 10", "10", true),
        ("kar.x <= 0x1", "0x1", true),
        ("kar.x contains ell", "hello", true),
        ("kar.x icontains ELL", "hello", true),
        ("kar.x contains ELL", "hello", false),
        ("kar.x startswith /etc", "/etc/passwd", true),
        ("kar.x startswith /etc", "/var/etc", false),
        ("kar.x endswith .key", "tls.key", true),
        ("kar.x glob '/etc/*'", "/etc/ssh/sshd_config", true),
        ("kar.x glob 'a?c'", "abc", true),
        ("kar.x glob 'A*'", "abc", false),
        ("kar.x iglob 'A*'", "abc", true),
        ("kar.x in (a, b)", "b", true),
        ("kar.x in (a, b)", "c", false),
        ("kar.x in (\"b c\")", "b c", true),
        ("kar.x intersects (a, b)", "a", true),
        ("kar.x in a", "a", true),
        ("kar.x in ()", "a", false),
        (
            "kar.x pmatch (/etc, /var/run)",
            "/var/run/docker.sock",
            true,
        ),
        ("kar.x pmatch (/etc)", "/etcd/data", false),
        ("kar.x exists", "anything", true),
    ];
    for (cond, value, expected) in cases {
        let mut ev = event(&[("kar.x", &[value])]);
        assert_eq!(holds(cond, &mut ev), *expected, "{cond} on {value:?}");
    }
}

#[test]
fn list_values_in_needs_all_intersects_needs_one() {
    let mut ev = event(&[("kar.user.groups", &["system:masters", "dev"])]);
    assert!(holds(
        "kar.user.groups in (system:masters, dev, ops)",
        &mut ev
    ));
    assert!(!holds("kar.user.groups in (system:masters)", &mut ev));
    assert!(holds(
        "kar.user.groups intersects (system:masters)",
        &mut ev
    ));
    assert!(!holds("kar.user.groups intersects (ops)", &mut ev));
    assert!(holds("kar.user.groups exists", &mut ev));
    assert!(holds("not kar.user.groups intersects (ops)", &mut ev));
}

#[test]
#[should_panic(expected = "Falco rejects operator '=' on list fields")]
fn scalar_operator_on_several_values_panics() {
    let mut ev = event(&[("kar.user.groups", &["a", "b"])]);
    holds("kar.user.groups = a", &mut ev);
}

#[test]
fn field_arguments_reach_the_event() {
    let mut ev = event(&[
        (
            "kar.value[/request/object/metadata/labels/app]",
            &["web app"],
        ),
        ("kar.req.pod.containers.image[0]", &["nginx"]),
        ("kar.req.volume.hostpath[/etc*]", &["true"]),
    ]);
    assert!(holds(
        "kar.value[/request/object/metadata/labels/app] = \"web app\"",
        &mut ev
    ));
    assert!(holds(
        "kar.req.pod.containers.image[0] startswith ngi",
        &mut ev
    ));
    assert!(holds("kar.req.volume.hostpath[/etc*]=true", &mut ev));
    assert!(holds(
        "kar.value['/request/object/metadata/labels/app'] exists",
        &mut ev
    ));
    assert!(!holds(
        "kar.value[/request/object/metadata/name] exists",
        &mut ev
    ));
    // Falco cuts `field[arg]` at the first space: an argument with a space cannot load
    let e = load_err(&rule_yaml("r", "kar.value['/a b'] exists"));
    assert!(e.contains("unbalanced argument brackets"), "{e}");
}

#[test]
fn closures_are_field_sources() {
    let rs = load(&rule_yaml("r", "kar.verb = CREATE and kar.value[/a] = b"));
    let mut seen = Vec::new();
    let mut fields = |field: &str, arg: Option<&str>| {
        seen.push(format!("{field} {arg:?}"));
        match (field, arg) {
            ("kar.verb", None) => Some(vec!["CREATE".to_string()]),
            ("kar.value", Some("/a")) => Some(vec!["b".to_string()]),
            _ => None,
        }
    };
    assert_eq!(rs.evaluate(&mut fields, Matching::First, SRC), ["r"]);
    assert_eq!(seen, ["kar.verb None", "kar.value Some(\"/a\")"]);
}

#[test]
fn precedence_and_short_circuit() {
    let mut ev = event(&[("a.a", &["1"]), ("b.b", &["1"])]);
    // or binds loosest: a or (b and c)
    assert!(holds("a.a = 1 or b.b = 1 and c.c = 1", &mut ev));
    assert!(!holds("(a.a = 1 or b.b = 1) and c.c = 1", &mut ev));
    // not binds tightest: (not a) and b
    assert!(!holds("not a.a = 1 and b.b = 1", &mut ev));
    assert!(holds("not (a.a = 2 and b.b = 1)", &mut ev));
}

#[test]
fn macros_expand_and_see_only_earlier_macros() {
    let file = r#"
- rule: uses later macro
  desc: rules see every macro
  condition: kcreate and is_pod
  output: o
  priority: WARNING
  source: k8s_admission
- macro: kcreate
  condition: kar.verb = CREATE
- macro: is_pod
  condition: kar.target.resource = pods
- macro: pod_create
  condition: (kcreate and is_pod)
"#;
    let rs = load(file);
    let mut ev = event(&[
        ("kar.verb", &["CREATE"]),
        ("kar.target.resource", &["pods"]),
    ]);
    assert_eq!(
        rs.evaluate(&mut ev, Matching::All, SRC),
        ["uses later macro"]
    );
    assert!(rs
        .warnings()
        .iter()
        .any(|w| w.contains("'pod_create'") && w.contains("Macro not referred")));

    let e = load_err("- macro: a\n  condition: b\n- macro: b\n  condition: x.y = 1\n");
    assert!(
        e.contains("macro 'a'") && e.contains("Undefined macro 'b' used in filter."),
        "{e}"
    );

    let e = load_err(&rule_yaml("r", "kcreate and nothing_like_this"));
    assert!(
        e.contains("rule 'r'") && e.contains("Undefined macro 'kcreate'"),
        "{e}"
    );

    // an appended macro sees itself: a loop
    let e = load_err(
        "- macro: m\n  condition: x.y = 1\n- macro: m\n  condition: or m\n  override:\n    condition: append\n",
    );
    assert!(e.contains("reference loop in macro 'm'"), "{e}");

    // unused macros are still parsed and resolved
    let e = load_err("- macro: m\n  condition: x.y = = 1\n");
    assert!(
        e.contains("macro 'm'") && e.contains("expected a string value"),
        "{e}"
    );
}

#[test]
fn lists_are_substituted_as_text() {
    let lists = r#"
- list: admins
  items: [alice, "bob smith"]
- list: privileged_users
  items: [admins, root, later]
- list: later
  items: [zed]
- list: single
  items: [carol]
- list: empty
  items: []
"#;
    let ev = |u: &str| event(&[("kar.user.name", &[u])]);
    assert!(holds_with(
        lists,
        "kar.user.name in (admins)",
        &mut ev("bob smith")
    ));
    // an item naming an earlier list is expanded...
    assert!(holds_with(
        lists,
        "kar.user.name in (privileged_users)",
        &mut ev("alice")
    ));
    assert!(holds_with(
        lists,
        "kar.user.name in (privileged_users)",
        &mut ev("root")
    ));
    // ...one naming a later list stays the word `later` in the compiled list, but the textual
    // pass substitutes `later` afterwards anyway, since lists are resolved in definition order
    assert!(holds_with(
        lists,
        "kar.user.name in (privileged_users)",
        &mut ev("zed")
    ));
    assert!(!holds_with(
        lists,
        "kar.user.name in (privileged_users)",
        &mut ev("later")
    ));
    // lists mix with literal values
    assert!(holds_with(
        lists,
        "kar.user.name in (dave, admins)",
        &mut ev("dave")
    ));
    // without parentheses only a one-item list parses
    assert!(holds_with(
        lists,
        "kar.user.name in single",
        &mut ev("carol")
    ));
    let e = load_err(&format!(
        "{lists}{}",
        rule_yaml("r", "kar.user.name in admins")
    ));
    assert!(e.contains("unexpected token"), "{e}");
    // an empty list matches nothing
    assert!(!holds_with(lists, "kar.user.name in (empty)", &mut ev("")));
    assert!(!holds_with(lists, "kar.user.name in (empty)", &mut ev("x")));
    // lists defined after the rule are substituted as well
    let after = format!("{}{lists}", rule_yaml("r", "kar.user.name in (admins)"));
    assert_eq!(
        load(&after).evaluate(&mut ev("alice"), Matching::All, SRC),
        ["r"]
    );
    // an unknown list name is just a value, exactly as in Falco
    assert!(holds("kar.user.name in (admns)", &mut ev("admns")));
    let rs = load(&format!(
        "{lists}{}",
        rule_yaml("r", "kar.user.name in (admins)")
    ));
    assert!(rs
        .warnings()
        .iter()
        .any(|w| w.contains("list 'empty'") && w.contains("List not referred")));
    assert!(!rs.warnings().iter().any(|w| w.contains("list 'admins'")));
}

#[test]
fn list_and_macro_overrides() {
    let base = r#"
- list: allowed
  items: [a]
- macro: m
  condition: kar.x = m1
"#;
    let user = |u: &str| event(&[("kar.user.name", &[u]), ("kar.x", &["m2"])]);
    let cond = "kar.user.name in (allowed) and m";
    let appended = format!(
        "{base}- list: allowed\n  items: [b]\n  override:\n    items: append\n- macro: m\n  condition: or kar.x = m2\n  override:\n    condition: append\n"
    );
    assert!(holds_with(&appended, cond, &mut user("a")));
    assert!(holds_with(&appended, cond, &mut user("b")));
    let legacy = format!("{base}- list: allowed\n  items: [b]\n  append: true\n- macro: m\n  condition: or kar.x = m2\n  append: true\n");
    assert!(holds_with(&legacy, cond, &mut user("b")));
    assert!(load(&format!("{legacy}{}", rule_yaml("r", cond)))
        .warnings()
        .iter()
        .any(|w| w.contains("'append' key is deprecated")));
    let replaced = format!(
        "{base}- list: allowed\n  items: [b]\n  override:\n    items: replace\n- macro: m\n  condition: kar.x = m2\n"
    );
    assert!(!holds_with(&replaced, cond, &mut user("a")));
    assert!(holds_with(&replaced, cond, &mut user("b")));

    let e = load_err("- list: nope\n  items: [x]\n  override:\n    items: append\n");
    assert!(e.contains("no list by that name already exists"), "{e}");
    let e = load_err("- macro: nope\n  condition: x.y = 1\n  append: true\n");
    assert!(e.contains("no macro by that name already exists"), "{e}");
    let e = load_err(&format!(
        "{base}- list: allowed\n  items: [b]\n  append: true\n  override:\n    items: append\n"
    ));
    assert!(e.contains("cannot be used together"), "{e}");
    let e = load_err(&format!(
        "{base}- list: allowed\n  items: [b]\n  override:\n    items: merge\n"
    ));
    assert!(e.contains("Invalid override operation for key 'items': 'merge'. Allowed values are: append replace"), "{e}");
}

fn three_rules() -> String {
    let mut s = String::new();
    for (name, cond) in [
        (
            "specific",
            "kar.verb = CREATE and kar.target.resource = pods",
        ),
        ("disabled", "kar.verb = CREATE"),
        ("generic", "kar.verb = CREATE"),
    ] {
        s.push_str(&rule_yaml(name, cond));
    }
    s.push_str("- rule: disabled\n  enabled: false\n  override:\n    enabled: replace\n");
    s
}

#[test]
fn rule_matching_first_and_all_follow_rule_order() {
    let rs = load(&three_rules());
    let mut ev = event(&[
        ("kar.verb", &["CREATE"]),
        ("kar.target.resource", &["pods"]),
    ]);
    assert_eq!(rs.evaluate(&mut ev, Matching::First, SRC), ["specific"]);
    assert_eq!(
        rs.evaluate(&mut ev, Matching::All, SRC),
        ["specific", "generic"]
    );
    let mut ev = event(&[
        ("kar.verb", &["CREATE"]),
        ("kar.target.resource", &["secrets"]),
    ]);
    assert_eq!(rs.evaluate(&mut ev, Matching::First, SRC), ["generic"]);
    // other sources see nothing
    assert!(rs.evaluate(&mut ev, Matching::All, "syscall").is_empty());
    let names: Vec<_> = rs.rules().map(|r| (r.name.as_str(), r.enabled)).collect();
    assert_eq!(
        names,
        [("specific", true), ("disabled", false), ("generic", true)]
    );
}

#[test]
fn enabled_false_redefinition_and_standalone_enabled() {
    let mut ev = event(&[("kar.verb", &["CREATE"])]);
    // the deprecated standalone `enabled` re-enables a rule
    let reenabled = format!("{}- rule: disabled\n  enabled: true\n", three_rules());
    let rs = load(&reenabled);
    assert_eq!(
        rs.evaluate(&mut ev, Matching::All, SRC),
        ["disabled", "generic"]
    );
    assert!(rs
        .warnings()
        .iter()
        .any(|w| w.contains("standalone 'enabled'")));
    // `enabled: false` in the definition itself
    let off =
        rule_yaml("r", "kar.verb = CREATE").replace("  source:", "  enabled: false\n  source:");
    assert!(load(&off).evaluate(&mut ev, Matching::All, SRC).is_empty());
    // a redefinition replaces everything (enabled again) but keeps the first position
    let redefined = format!(
        "{}{}",
        three_rules(),
        rule_yaml("specific", "kar.verb = CREATE")
    );
    let rs = load(&redefined);
    assert_eq!(
        rs.evaluate(&mut ev, Matching::All, SRC),
        ["specific", "generic"]
    );
    assert_eq!(rs.rules().next().unwrap().condition, "kar.verb = CREATE");
    let e = load_err("- rule: ghost\n  enabled: false\n");
    assert!(e.contains("no rule by that name already exists"), "{e}");
    let e = load_err(&format!(
        "{}- rule: specific\n  desc: d\n  condition: c.c = 1\n  output: o\n  priority: INFO\n",
        three_rules()
    ));
    assert!(e.contains("re-defined with a different source"), "{e}");
}

#[test]
fn rule_overrides() {
    let base = format!("{}  tags: [k8s]\n", rule_yaml("r", "kar.verb = CREATE"));
    let ovr = format!(
        "{base}- rule: r\n  condition: and kar.target.resource = pods\n  output: (more)\n  tags: [extra]\n  priority: CRITICAL\n  desc: new\n  override:\n    condition: append\n    output: append\n    tags: append\n    priority: replace\n    desc: replace\n"
    );
    let rs = load(&ovr);
    let r = rs.rule("r").unwrap();
    assert_eq!(
        r.condition,
        "kar.verb = CREATE and kar.target.resource = pods"
    );
    assert_eq!(r.output, "o (more)");
    assert_eq!(r.desc, "new");
    assert_eq!(r.priority, Priority::Critical);
    assert_eq!(r.tags.iter().collect::<Vec<_>>(), ["extra", "k8s"]);
    let mut pods = event(&[
        ("kar.verb", &["CREATE"]),
        ("kar.target.resource", &["pods"]),
    ]);
    let mut secrets = event(&[
        ("kar.verb", &["CREATE"]),
        ("kar.target.resource", &["secrets"]),
    ]);
    assert_eq!(rs.evaluate(&mut pods, Matching::All, SRC), ["r"]);
    assert!(rs.evaluate(&mut secrets, Matching::All, SRC).is_empty());
    // legacy append on a rule
    let legacy =
        format!("{base}- rule: r\n  condition: and kar.target.resource = pods\n  append: true\n");
    assert!(load(&legacy)
        .evaluate(&mut secrets, Matching::All, SRC)
        .is_empty());
    // replace condition
    let repl = format!(
        "{base}- rule: r\n  condition: kar.verb = DELETE\n  override:\n    condition: replace\n"
    );
    assert!(load(&repl)
        .evaluate(&mut pods, Matching::All, SRC)
        .is_empty());

    let e = load_err(&format!(
        "{base}- rule: r\n  override:\n    condition: append\n"
    ));
    assert!(
        e.contains(
            "An append override for 'condition' was specified but 'condition' is not defined"
        ),
        "{e}"
    );
    let e = load_err(&format!(
        "{base}- rule: r\n  condition: x.y = 1\n  output: o\n  override:\n    condition: append\n"
    ));
    assert!(e.contains("Unexpected key 'output'"), "{e}");
    let e = load_err(&format!(
        "{base}- rule: r\n  priority: INFO\n  override:\n    priority: append\n"
    ));
    assert!(
        e.contains("Key 'priority' cannot be appended to, use 'replace' instead"),
        "{e}"
    );
    let e = load_err("- rule: ghost\n  condition: x.y = 1\n  override:\n    condition: append\n");
    assert!(e.contains("no rule by that name already exists"), "{e}");
    let e = load_err("- rule: ghost\n  condition: x.y = 1\n  override:\n    condition: replace\n");
    assert!(
        e.contains("An 'override.<key>: replace' to a rule was requested"),
        "{e}"
    );
}

#[test]
fn exceptions() {
    let file = format!(
        "{}  exceptions:\n    - name: admins\n      fields: kar.user.name\n      values: [alice, \"bob smith\"]\n    - name: system_ns\n      fields: [kar.target.namespace, kar.target.name]\n      comps: [=, startswith]\n      values:\n        - [kube-system, coredns]\n    - name: no_values\n      fields: [kar.uid]\n",
        rule_yaml("r", "kar.verb = CREATE")
    );
    let rs = load(&file);
    let ev = |user: &str, ns: &str, name: &str| {
        event(&[
            ("kar.verb", &["CREATE"]),
            ("kar.user.name", &[user]),
            ("kar.target.namespace", &[ns]),
            ("kar.target.name", &[name]),
        ])
    };
    let fires = |rs: &Ruleset, ev: &mut Event| !rs.evaluate(ev, Matching::All, SRC).is_empty();
    assert!(fires(&rs, &mut ev("eve", "default", "x")));
    assert!(!fires(&rs, &mut ev("alice", "default", "x")));
    assert!(!fires(&rs, &mut ev("bob smith", "default", "x")));
    assert!(!fires(&rs, &mut ev("eve", "kube-system", "coredns-abc")));
    assert!(fires(&rs, &mut ev("eve", "kube-system", "etcd")));
    // values appended to an existing exception
    let more = format!(
        "{file}- rule: r\n  exceptions:\n    - name: admins\n      values: [eve]\n  override:\n    exceptions: append\n"
    );
    assert!(!fires(&load(&more), &mut ev("eve", "default", "x")));
    let fields = load(&file).fields_used();
    assert!(fields.contains(&FieldRef {
        field: "kar.uid".into(),
        arg: None,
        usage: Usage::Exception
    }));
    assert!(fields.contains(&FieldRef {
        field: "kar.target.name".into(),
        arg: None,
        usage: Usage::Condition(Op::StartsWith)
    }));

    let dup = format!(
        "{}  exceptions:\n    - name: a\n      fields: kar.x\n    - name: a\n      fields: kar.y\n",
        rule_yaml("r", "kar.verb = CREATE")
    );
    assert!(load_err(&dup).contains("Exceptions names in the same object must be unique"));
    let bad_comp = format!(
        "{}  exceptions:\n    - name: a\n      fields: kar.x\n      comps: =\n",
        rule_yaml("r", "kar.verb = CREATE")
    );
    assert!(load_err(&bad_comp).contains("comps must be one of (in, pmatch, intersects)"));
}

#[test]
fn load_errors_and_warnings() {
    assert!(load_err("- rule: [").contains("YAML parse error"));
    assert!(load_err("rule: x\n").contains("not yaml array of objects"));
    assert!(
        load_err("- just a string\n").contains("Each element should be a yaml associative array")
    );
    let no_output = "- rule: r\n  desc: d\n  condition: a.b = 1\n  priority: INFO\n";
    assert!(load_err(no_output).contains("rule 'r' (line 1): Item has no mapping for key 'output'"));
    let bad_prio = rule_yaml("r", "a.b = 1").replace("INFO", "LOUD");
    assert!(load_err(&bad_prio).contains("Invalid priority"));
    assert!(load_err("- macro: 1bad\n  condition: a.b = 1\n").contains("Macro has an invalid name"));
    assert!(load_err("- list: 'bad name'\n  items: []\n").contains("List has an invalid name"));
    let e = load_err(&rule_yaml("r", "kar.x bcontains 0a"));
    assert!(
        e.contains("'bcontains' operator not supported for string filters"),
        "{e}"
    );
    assert!(load_err(&rule_yaml("r", "kar.x regex 'a.*'")).contains("not supported by rules-eval"));
    let e = load_err(&rule_yaml("r", "kar.x = a and ("));
    assert!(
        e.contains("rule 'r'") && e.contains("expected a '(' token"),
        "{e}"
    );
    let out = rule_yaml("r", "kar.x = a").replace("output: o", "output: 100%");
    assert!(load_err(&out).contains("output: invalid formatting syntax"));
    // a disabled rule is compiled too
    let off = rule_yaml("r", "kar.x ==").replace("  source:", "  enabled: false\n  source:");
    assert!(load_err(&off).contains("expected a string value"));
    // Falco only warns about unknown items
    let rs = load(&format!("- foo: bar\n{}", rule_yaml("r", "kar.x = a")));
    assert!(rs
        .warnings()
        .iter()
        .any(|w| w.contains("Unknown top level item")));
    // `enabled` values follow yaml-cpp
    let yes = rule_yaml("r", "kar.x = a").replace("  source:", "  enabled: no\n  source:");
    assert!(!load(&yes).rule("r").unwrap().enabled);
    let bad = rule_yaml("r", "kar.x = a").replace("  source:", "  enabled: maybe\n  source:");
    assert!(load_err(&bad).contains("Can't decode YAML scalar value"));
}

#[test]
fn fields_used_and_checked_against_a_field_table() {
    let file = format!(
        "{}{}",
        rule_yaml(
            "a",
            "kar.user.groups intersects (system:masters) and kar.value[/request/uid] exists"
        ),
        rule_yaml(
            "b",
            "kar.req.pod.containers.image[0] startswith x and kar.user.groups = y"
        )
        .replace(
            "output: o",
            "output: \"%kar.user.name %kar.value[/request/name] %kar.nope\""
        )
        .replace("  source:", "  enabled: false\n  source:")
    );
    let rs = load(&file);
    let used: Vec<String> = rs
        .fields_used()
        .iter()
        .map(|f| {
            format!(
                "{}{} {:?}",
                f.field,
                f.arg.as_ref().map(|a| format!("[{a}]")).unwrap_or_default(),
                f.usage
            )
        })
        .collect();
    assert_eq!(
        used,
        [
            "kar.nope Output",
            "kar.req.pod.containers.image[0] Condition(StartsWith)",
            "kar.user.groups Condition(Eq)",
            "kar.user.groups Condition(Intersects)",
            "kar.user.name Output",
            "kar.value[/request/name] Output",
            "kar.value[/request/uid] Condition(Exists)",
        ]
    );
    let spec = |name: &str| -> Option<FieldSpec> {
        let key = |required| {
            Some(ArgSpec {
                required,
                index: false,
                key: true,
            })
        };
        let index = Some(ArgSpec {
            required: false,
            index: true,
            key: false,
        });
        Some(match name {
            "kar.user.name" => FieldSpec {
                list: false,
                arg: None,
            },
            "kar.user.groups" => FieldSpec {
                list: true,
                arg: None,
            },
            "kar.value" => FieldSpec {
                list: false,
                arg: key(true),
            },
            "kar.req.pod.containers.image" => FieldSpec {
                list: true,
                arg: index,
            },
            _ => return None,
        })
    };
    let e = format!("{:#}", rs.check_fields(spec).unwrap_err());
    assert_eq!(
        e,
        "kar.nope: nonexistent field\n\
         kar.req.pod.containers.image[0]: filter error: 'startswith' operator not supported list filters\n\
         kar.user.groups: filter error: '=' operator not supported list filters"
    );
    // argument kinds
    let args = rule_yaml(
        "r",
        "kar.value exists and kar.user.name[x] exists and kar.req.pod.containers.image[01] in (a)",
    );
    let e = format!("{:#}", load(&args).check_fields(spec).unwrap_err());
    assert!(
        e.contains("kar.value: kar.value requires an argument but none provided"),
        "{e}"
    );
    assert!(
        e.contains("does not allow nor require an argument but one is provided: x"),
        "{e}"
    );
    assert!(
        e.contains("has an invalid index argument starting with 0: 01"),
        "{e}"
    );
    assert!(
        load(&rule_yaml("r", "kar.req.pod.containers.image[1] in (a)"))
            .check_fields(spec)
            .is_ok()
    );
    // a list field stays a list with an index argument: pmatch and startswith are refused
    let e = load(&rule_yaml(
        "r",
        "kar.req.pod.containers.image[0] pmatch (/x)",
    ))
    .check_fields(spec)
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("'pmatch' operator not supported list filters"),
        "{e:#}"
    );
    // exception fields are checked for existence, arguments split as the plugin does
    let ex = format!(
        "{}  exceptions:\n    - name: e\n      fields:\n        - kar.value[/a]\n        - kar.missing\n",
        rule_yaml("r", "kar.user.name = a")
    );
    let e = load(&ex).check_fields(spec).unwrap_err();
    assert_eq!(format!("{e:#}"), "kar.missing: nonexistent field");
}

/// A small rules file in the style of the k8sadmission rules.
const K8S_RULES: &str = r#"
- required_engine_version: 0.50.0
- required_plugin_versions:
    - name: k8sadmission
      version: 0.1.0
- list: allowed_privileged_images
  items: []
- list: sensitive_paths
  items: [/etc, /var/run/docker.sock, /proc]
- macro: kcreate
  condition: kar.verb = CREATE
- macro: kmodify
  condition: kar.verb in (CREATE, UPDATE)
- macro: not_dry_run
  condition: not kar.dry_run = true
- macro: pod_spec
  condition: kar.req.pod.spec_path exists
- rule: Create Privileged Pod
  desc: a privileged container
  condition: >
    kmodify and not_dry_run and pod_spec
    and kar.req.pod.containers.privileged intersects (true)
    and not kar.req.pod.containers.image.repository in (allowed_privileged_images)
  output: Privileged pod (user=%kar.user.name pod=%kar.target.name image=%kar.req.pod.containers.image)
  priority: WARNING
  source: k8s_admission
  tags: [k8s, privileged]
- rule: Create Sensitive Mount Pod
  desc: a hostPath under a sensitive path
  condition: kmodify and not_dry_run and pod_spec and kar.req.pod.volumes.hostpath intersects (sensitive_paths)
  output: Sensitive mount (user=%kar.user.name paths=%kar.req.pod.volumes.hostpath)
  priority: WARNING
  source: k8s_admission
- rule: K8s Pod Created
  desc: any pod
  condition: kcreate and not_dry_run and kar.target.resource = pods
  output: Pod created (user=%kar.user.name pod=%kar.target.name)
  priority: INFO
  source: k8s_admission
"#;

#[test]
fn whole_file() {
    let rs = load(K8S_RULES);
    assert_eq!(rs.required_engine_version().as_deref(), Some("0.50.0"));
    assert_eq!(
        rs.required_plugin_versions(),
        [vec![PluginVersion {
            name: "k8sadmission".into(),
            version: "0.1.0".into()
        }]]
    );
    assert!(rs.warnings().is_empty(), "{:?}", rs.warnings());
    assert_eq!(
        rs.rule("Create Privileged Pod").unwrap().priority,
        Priority::Warning
    );
    assert!(
        Priority::Warning.at_least(Priority::Notice)
            && !Priority::Informational.at_least(Priority::Warning)
    );

    let pod = |extra: &[(&str, &[&str])]| {
        let mut base: Vec<(&str, &[&str])> = vec![
            ("kar.verb", &["CREATE"]),
            ("kar.target.resource", &["pods"]),
            ("kar.req.pod.spec_path", &["/request/object/spec"]),
            (
                "kar.req.pod.containers.image.repository",
                &["nginx", "busybox"],
            ),
        ];
        base.extend_from_slice(extra);
        event(&base)
    };
    let mut privileged = pod(&[("kar.req.pod.containers.privileged", &["false", "true"])]);
    assert_eq!(
        rs.evaluate(&mut privileged, Matching::First, SRC),
        ["Create Privileged Pod"]
    );
    assert_eq!(
        rs.evaluate(&mut privileged, Matching::All, SRC),
        ["Create Privileged Pod", "K8s Pod Created"]
    );
    let mut mount = pod(&[(
        "kar.req.pod.volumes.hostpath",
        &["/data", "/var/run/docker.sock"],
    )]);
    assert_eq!(
        rs.evaluate(&mut mount, Matching::All, SRC),
        ["Create Sensitive Mount Pod", "K8s Pod Created"]
    );
    let mut benign = pod(&[("kar.req.pod.volumes.hostpath", &["/data"])]);
    assert_eq!(
        rs.evaluate(&mut benign, Matching::All, SRC),
        ["K8s Pod Created"]
    );
    let mut dry = pod(&[
        ("kar.dry_run", &["true"]),
        ("kar.req.pod.containers.privileged", &["true"]),
    ]);
    assert!(rs.evaluate(&mut dry, Matching::All, SRC).is_empty());

    // a local rules file allows the image and disables the info rule
    let local = r#"
- list: allowed_privileged_images
  items: [nginx, busybox]
  override:
    items: append
- rule: K8s Pod Created
  enabled: false
  override:
    enabled: replace
"#;
    let rs = Ruleset::from_yaml_files(&[K8S_RULES, local]).unwrap();
    assert!(rs.evaluate(&mut privileged, Matching::All, SRC).is_empty());
    assert_eq!(
        rs.evaluate(&mut mount, Matching::All, SRC),
        ["Create Sensitive Mount Pod"]
    );
}

#[test]
fn engine_and_plugin_versions() {
    let rs = load("- required_engine_version: 26\n- required_engine_version: 0.9.1\n");
    assert_eq!(rs.required_engine_version().as_deref(), Some("0.26.0"));
    assert!(
        load_err("- required_engine_version: latest\n").contains("Unable to parse engine version")
    );
    let e = load_err("- required_plugin_versions:\n    - name: k8sadmission\n      version: one\n");
    assert!(e.contains("Invalid required version 'one'"), "{e}");
    let alt = "- required_plugin_versions:\n    - name: a\n      version: 1.0.0\n      alternatives:\n        - name: b\n          version: 2.0.0\n";
    assert_eq!(load(alt).required_plugin_versions()[0].len(), 2);
}

#[test]
fn literal_values_show_misspelt_list_names() {
    let text = format!(
        r#"
- list: privileged_images
  items: [nginx, "my image"]
- list: admins
  items: [alice]
- macro: privileged
  condition: kar.image in (privileged_imagse) and kar.name = 'quoted_word'
- macro: unused_macro
  condition: kar.x startswith some_prefix
{}  exceptions:
    - name: admins
      fields: kar.user.name
      values: [admins, bob_smith]
"#,
        rule_yaml(
            "r",
            "privileged and kar.image in (privileged_images, other) and kar.n >= 10"
        )
    );
    let rs = load(&text);
    let lit = |kind, item: &str, field: &str, op, value: &str, quoted| LiteralUse {
        kind,
        item: item.into(),
        field: field.into(),
        arg: None,
        op,
        value: value.into(),
        quoted,
    };
    use ItemKind::{Macro, Rule};
    assert_eq!(
        rs.literal_values(),
        [
            // the misspelt list name stays a bare value, exactly as Falco keeps it
            lit(
                Macro,
                "privileged",
                "kar.image",
                Op::In,
                "privileged_imagse",
                false
            ),
            lit(Macro, "privileged", "kar.name", Op::Eq, "quoted_word", true),
            // unused macros are reported too
            lit(
                Macro,
                "unused_macro",
                "kar.x",
                Op::StartsWith,
                "some_prefix",
                false
            ),
            // the rule's own literals, macros not expanded; list items with a space are quoted
            // by the substitution
            lit(Rule, "r", "kar.image", Op::In, "nginx", false),
            lit(Rule, "r", "kar.image", Op::In, "my image", true),
            lit(Rule, "r", "kar.image", Op::In, "other", false),
            lit(Rule, "r", "kar.n", Op::Ge, "10", false),
            // exception values are substituted too: `admins` is a list there
            lit(Rule, "r", "kar.user.name", Op::In, "alice", false),
            lit(Rule, "r", "kar.user.name", Op::In, "bob_smith", false),
        ]
    );
    // a list used only in exception values counts as used; an unused macro is a warning
    assert!(
        !rs.warnings().iter().any(|w| w.contains("list '")),
        "{:?}",
        rs.warnings()
    );
    assert!(rs
        .warnings()
        .iter()
        .any(|w| w.contains("macro 'unused_macro'") && w.contains("Macro not referred to")));
    // a field argument is reported as written
    let rs = load(&rule_yaml("r", "kar.value[/a/b] = x"));
    assert_eq!(rs.literal_values()[0].arg.as_deref(), Some("/a/b"));
}
