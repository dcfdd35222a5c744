//! # rules-eval: a test-only evaluator of Falco rules files
//!
//! CI has no Falco binary, so this crate loads a Falco rules file the way Falco 0.41 does and
//! tells which rules fire on an event whose `kar.*` field values a test supplies. It covers the
//! subset the k8sadmission rules use: `required_engine_version`, `required_plugin_versions`,
//! `list`, `macro`, `rule` (with `exceptions`, `enabled`, `append` and `override`), and
//! conditions with `and`, `or`, `not`, parentheses, `=`, `==`, `!=`, `<`, `<=`, `>`, `>=`,
//! `contains`, `icontains`, `startswith`, `endswith`, `glob`, `iglob`, `in`, `intersects`,
//! `pmatch` and `exists` on string and string-list fields. Every kar.* field is a string
//! (`PT_CHARBUF`), so the evaluator treats every field as one.
//!
//! It is a port, not an approximation: each decision below follows the named function of
//! falcosecurity/libs (`userspace/libsinsp/…`) or falcosecurity/falco (`userspace/engine/…`).
//!
//! ## Loading (falco `rule_loader_reader.cpp`, `rule_loader_collector.cpp`)
//! - YAML scalars are decoded from their raw text as yaml-cpp does (`decode_val`, booleans
//!   `y/yes/true/on`, `n/no/false/off`); every document must be a sequence of mappings; an item
//!   that is none of the known kinds is a *warning* ("Unknown top level item"), as in Falco.
//! - A rule needs `condition`, `output`, `desc`, `priority` (`falco_common::parse_priority`,
//!   case-insensitive, `info` accepted); `source` defaults to `syscall`; tags are a set.
//! - Redefining a list, macro or rule replaces it in place, keeping its first position
//!   (`define_info`). `append: true` (deprecated) and `override: {key: append}` concatenate with
//!   a space (lists: items); `override: {key: replace}` swaps keys (`selective_replace`); every key
//!   listed under `override` must be present and every overridable key present must be listed.
//!   A rule item with only `enabled` toggles an existing rule (`collector::enable`).
//!
//! ## Compiling (falco `rule_loader_compiler.cpp`, `filter_macro_resolver.cpp`)
//! - Exceptions become `(<condition>) and not (...)` text (`build_rule_exception_infos`).
//! - Lists are substituted as text before parsing (`resolve_list`): `x in (a, my_list)`; items
//!   naming an earlier list are expanded (`compile_list_infos`). An unknown name in a list is
//!   just a string, as in Falco: a misspelt list is not a load error. [`Ruleset::literal_values`]
//!   lists every literal after substitution (bare or quoted) so that tests can look for bare
//!   words shaped like list names.
//! - Macros are resolved on the parsed tree; a macro sees only macros defined before it, rules
//!   see all; unknown → "Undefined macro 'x' used in filter.", cycles → "reference loop".
//! - Every rule is compiled, enabled or not (`compile_rule_infos`), so an error in a disabled
//!   rule fails the load as it fails Falco; unused lists and macros are reported in `warnings`.
//!
//! ## Grammar (libs `filter/parser.cpp`, `filter/escaping.cpp`)
//! Precedence: `not` binds tightest, then `and`, then `or` (`parse_or` → `parse_and` →
//! `parse_not` → `parse_check`); `and`/`or` chains are n-ary, evaluated left to right with short
//! circuit; `not` applies to one check, identifier or parenthesised group. Values are quoted
//! strings (`'…'`, `"…"`, escapes `\b \f \n \r \t \\ \/` and the matching quote; `\ ` becomes a
//! backslash) or bare words without blanks, `(`, `)`, `,`, `=` or quotes. `<`, `<=`, `>`, `>=`
//! take only a number or hex literal. A field argument is a quoted string or a bare word without
//! blanks, brackets or quotes: `kar.value[/a/b]`, `kar.req.pod.containers.image[0]`,
//! `kar.req.volume.hostpath[/etc*]`.
//!
//! ## Evaluation (libs `sinsp_filtercheck.cpp`, `filter_compare.cpp`, `prefix_search.h`)
//! - A field without value (the plugin answers nothing: `sinsp_filter_check_plugin::extract`,
//!   `res_len == 0`) makes its check false whatever the operator — `!=` and `exists` included
//!   (`sinsp_filter_check::compare_nocache` returns false when `extract` fails). `not` then
//!   makes it true: `not kar.x = a` holds on ∅, `kar.x != a` does not.
//! - List fields accept only `exists`, `in` and `intersects` (`flt_is_comparable` with
//!   `is_list`, a load error in Falco: see [`Ruleset::check_fields`]). `in` holds when *every*
//!   value is in the set, `intersects` when *some* value is (`compare_rhs`). On one value both
//!   are set membership.
//! - Strings compare as C strings (`flt_compare_string`): `=`/`!=` exact; `<` … `>=` byte-wise
//!   `strcmp` order, so `"9" > "10"` and numbers are not compared numerically; `contains`
//!   (`strstr`), `icontains` (`strcasestr`, ASCII), `startswith`, `endswith`; `glob`/`iglob`
//!   call glibc `fnmatch` with no flags / `FNM_CASEFOLD` (`sinsp_utils::glob_match`): `*`
//!   crosses `/`. `pmatch` is `path_prefix_search`: component-wise path prefixes, glob
//!   components allowed.
//!
//! ## Matching (falco `falco_engine.cpp`, `indexable_ruleset.h`)
//! `falco_engine::load_rules` enables rules one by one in compile order (first-definition
//! order); all rules of a plugin source share one event-type bucket, so `rule_matching: first`
//! reports the first enabled matching rule in that order and `all` every one of them.
//!
//! ## Not covered, and known differences
//! - Field transformers (`tolower()`, `val()`, …), `regex`, `bcontains`/`bstartswith` on strings
//!   and fields on the right-hand side are rejected at load time.
//! - `skip-if-unknown-filter` and `warn_evttypes` are parsed and ignored; every source counts as
//!   known; the engine-version compatibility check and priority filtering are not applied.
//! - The field table is not known at load time: [`Ruleset::check_fields`] applies libsinsp's
//!   field checks (existence, argument kind, operators on list fields) given one.
//! - Output formats find field names with the grammar's field-name pattern where libsinsp takes
//!   the longest known field name (only misspelt names differ, and `check_fields` flags them).
//! - `pmatch` tries every glob component of a level against the same path component; libsinsp's
//!   `match_components_glob` advances its iterator on each failed glob candidate (a bug that
//!   only shows with several glob prefixes sharing a level).

#![warn(missing_docs)]

mod compiler;
mod eval;
mod loader;
mod output;
mod parser;
#[cfg(test)]
mod tests;
mod yaml;

use std::collections::BTreeSet;
use std::fmt;

use anyhow::{bail, Result};

pub use parser::Op;

/// How many matching rules an event reports (`rule_matching` in falco.yaml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matching {
    /// Only the first matching rule, in rule order (Falco's default).
    First,
    /// Every matching rule, in rule order.
    All,
}

/// A rule priority (`falco_common::priority_type`), ordered from most to least severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// EMERGENCY.
    Emergency,
    /// ALERT.
    Alert,
    /// CRITICAL.
    Critical,
    /// ERROR.
    Error,
    /// WARNING.
    Warning,
    /// NOTICE.
    Notice,
    /// INFORMATIONAL (also written INFO).
    Informational,
    /// DEBUG.
    Debug,
}

impl Priority {
    const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// `falco_common::parse_priority`: case-insensitive, `info` accepted for `Informational`.
    pub(crate) fn parse(s: &str) -> Option<Priority> {
        if s.eq_ignore_ascii_case("info") {
            return Some(Priority::Informational);
        }
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }

    /// Falco's name for the priority (`falco_common::format_priority`).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// True if this priority is `other` or more severe (`Warning.at_least(Notice)` is true).
    pub fn at_least(self, other: Priority) -> bool {
        self <= other
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A loaded rule, after every append and override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The rule name.
    pub name: String,
    /// The description.
    pub desc: String,
    /// The condition as merged by appends and overrides (before exceptions, lists and macros).
    pub condition: String,
    /// The output format.
    pub output: String,
    /// The priority.
    pub priority: Priority,
    /// The event source (`syscall` unless the rule says otherwise).
    pub source: String,
    /// The tags.
    pub tags: BTreeSet<String>,
    /// Whether the rule is enabled.
    pub enabled: bool,
}

/// One alternative of a `required_plugin_versions` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginVersion {
    /// The plugin name.
    pub name: String,
    /// The minimum version, `x.y.z`.
    pub version: String,
}

/// Supplies field values for one event.
pub trait Fields {
    /// The values of `field` (a name without argument) with `arg` (the text between `[` and
    /// `]`, if any): `None` or an empty vector when the field has no value, one element for a
    /// scalar field, the elements for a list field.
    fn get(&mut self, field: &str, arg: Option<&str>) -> Option<Vec<String>>;
}

impl<F: FnMut(&str, Option<&str>) -> Option<Vec<String>>> Fields for F {
    fn get(&mut self, field: &str, arg: Option<&str>) -> Option<Vec<String>> {
        self(field, arg)
    }
}

/// Where a field is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Usage {
    /// In a condition (macros expanded, exceptions included), with this operator.
    Condition(Op),
    /// As an exception field (Falco checks that it exists even without values).
    Exception,
    /// In an output format (`%field`, `%field[arg]`).
    Output,
}

/// A field reference of the loaded rules.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldRef {
    /// The field name, without argument.
    pub field: String,
    /// The argument as libsinsp passes it to the plugin.
    pub arg: Option<String>,
    /// Where and how it is used.
    pub usage: Usage,
}

/// The kind of item a condition belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    /// A `macro`.
    Macro,
    /// A `rule` (its condition with the exceptions appended).
    Rule,
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ItemKind::Macro => "macro",
            ItemKind::Rule => "rule",
        })
    }
}

/// A literal value a condition compares a field with, after list substitution (see
/// [`Ruleset::literal_values`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiteralUse {
    /// Whether the condition is a macro's or a rule's.
    pub kind: ItemKind,
    /// The name of the macro or rule whose own condition holds the literal.
    pub item: String,
    /// The field name, without argument.
    pub field: String,
    /// The field argument as written (unescaped if quoted), if any.
    pub arg: Option<String>,
    /// The operator.
    pub op: Op,
    /// The value, unescaped if it was quoted.
    pub value: String,
    /// The value was a quoted string in the condition text as parsed, i.e. after exceptions
    /// were appended and lists substituted. List items and exception values holding a space are
    /// quoted by that substitution (`quote_item`); other list items and exception values are
    /// bare words, and so is a misspelt list name.
    pub quoted: bool,
}

/// The shape of a field, as the plugin's field table declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field is a list (`EPF_IS_LIST`).
    pub list: bool,
    /// The argument the field takes, if any.
    pub arg: Option<ArgSpec>,
}

/// A field argument declaration (`EPF_ARG_REQUIRED`, `EPF_ARG_INDEX`, `EPF_ARG_KEY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgSpec {
    /// The argument is required (else only allowed).
    pub required: bool,
    /// The argument is an index: digits, no leading zero.
    pub index: bool,
    /// The argument is a key: any text.
    pub key: bool,
}

/// A loaded and compiled rules file.
pub struct Ruleset {
    rules: Vec<(Rule, parser::Expr)>,
    fields: BTreeSet<FieldRef>,
    warnings: Vec<String>,
    literals: Vec<LiteralUse>,
    engine_version: Option<(u64, u64, u64)>,
    plugin_versions: Vec<Vec<PluginVersion>>,
}

impl Ruleset {
    /// Loads one rules file; fails where Falco's loader fails (YAML and schema errors, invalid
    /// names or priorities, bad overrides, condition syntax, undefined macros, macro loops,
    /// invalid outputs). What Falco only warns about is in [`Ruleset::warnings`].
    pub fn from_yaml(text: &str) -> Result<Self> {
        Self::from_yaml_files(&[text])
    }

    /// Loads several rules files in order into one rule set, as `-r a.yaml -r b.yaml` does: later
    /// files may append to or override what earlier ones define. Like Falco, everything loaded so
    /// far is compiled after each file.
    pub fn from_yaml_files(texts: &[&str]) -> Result<Self> {
        let mut col = loader::Collector::default();
        let mut compiled = None;
        for text in texts {
            col.read(text)?;
            compiled = Some(compiler::compile(&col)?);
        }
        let Some(compiled) = compiled else {
            bail!("no rules file given");
        };
        let mut warnings = std::mem::take(&mut col.warnings);
        warnings.extend(compiled.warnings);
        Ok(Ruleset {
            rules: compiled.rules,
            fields: compiled.fields,
            warnings,
            literals: compiled.literals,
            engine_version: col.engine_version,
            plugin_versions: col.plugin_versions,
        })
    }

    /// Every rule, enabled or not, in Falco's matching order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|(r, _)| r)
    }

    /// The rule of that name.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules().find(|r| r.name == name)
    }

    /// Every field reference of every rule — conditions with macros expanded, exceptions and
    /// outputs — sorted and without duplicates. Disabled rules are included because Falco
    /// compiles them too: a bad field in a disabled rule fails the load.
    pub fn fields_used(&self) -> Vec<FieldRef> {
        self.fields.iter().cloned().collect()
    }

    /// Checks every field reference against the plugin's field table, as libsinsp does when it
    /// compiles the rules: the field exists, its argument is allowed / required / a valid index,
    /// and a list field is only used with `exists`, `in` and `intersects`
    /// (`flt_is_comparable`). Returns every problem found.
    pub fn check_fields(&self, spec: impl Fn(&str) -> Option<FieldSpec>) -> Result<()> {
        let mut problems = Vec::new();
        for f in &self.fields {
            let name = match &f.arg {
                Some(a) => format!("{}[{a}]", f.field),
                None => f.field.clone(),
            };
            let Some(s) = spec(&f.field) else {
                problems.push(format!("{name}: nonexistent field"));
                continue;
            };
            match (&f.arg, s.arg) {
                (Some(a), None) => problems.push(format!(
                    "{name}: {} does not allow nor require an argument but one is provided: {a}",
                    f.field
                )),
                (None, Some(arg)) if arg.required => problems.push(format!(
                    "{name}: {} requires an argument but none provided",
                    f.field
                )),
                (Some(a), Some(arg)) if arg.index => {
                    let problem = if a.is_empty() || (a.len() > 1 && a.starts_with('0')) {
                        Some("has an invalid index argument starting with 0")
                    } else if !a.bytes().all(|b| b.is_ascii_digit()) {
                        Some("has an invalid index argument not composed only by digits")
                    } else if a.parse::<u64>().is_err() {
                        Some("has an invalid index argument not representable on 64 bit")
                    } else {
                        None
                    };
                    if let Some(p) = problem {
                        problems.push(format!("{name}: {} {p}: {a}", f.field));
                    }
                }
                _ => {}
            }
            if let Usage::Condition(op) = f.usage {
                if s.list && !matches!(op, Op::Exists | Op::In | Op::Intersects) {
                    problems.push(format!(
                        "{name}: filter error: '{op}' operator not supported list filters"
                    ));
                }
            }
        }
        if !problems.is_empty() {
            bail!("{}", problems.join("\n"));
        }
        Ok(())
    }

    /// Every literal value the conditions compare a field with, after list substitution: first
    /// the macros', then the rules' (exceptions included), each in definition order and then in
    /// condition order, one entry per value (a `(a, b)` set gives two). Each literal is reported
    /// under the macro or rule whose own condition holds it, macros not expanded; disabled rules
    /// and unused macros are included.
    ///
    /// Falco substitutes list names as text, so a misspelt or undefined list name is not an
    /// error: it stays in the condition as a bare literal (`x in (my_lsit)` compares with the
    /// string `my_lsit`). Bare literals that look like list names are how to find them.
    pub fn literal_values(&self) -> Vec<LiteralUse> {
        self.literals.clone()
    }

    /// What Falco would print as warnings: unknown top-level items, deprecated keys, unused
    /// lists and macros.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The highest `required_engine_version`, as `x.y.z` (a bare number N is `0.N.0`).
    pub fn required_engine_version(&self) -> Option<String> {
        self.engine_version.map(|(a, b, c)| format!("{a}.{b}.{c}"))
    }

    /// Every `required_plugin_versions` entry, each with its alternatives.
    pub fn required_plugin_versions(&self) -> &[Vec<PluginVersion>] {
        &self.plugin_versions
    }

    /// The names of the enabled rules of `source` whose condition holds for the event, in rule
    /// order; with [`Matching::First`] at most one.
    ///
    /// # Panics
    /// If a field answers several values to an operator other than `exists`, `in` and
    /// `intersects`: Falco rejects such a rule at load time (see [`Ruleset::check_fields`]).
    pub fn evaluate(
        &self,
        fields: &mut dyn Fields,
        matching: Matching,
        source: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (rule, cond) in &self.rules {
            if !rule.enabled || rule.source != source || !eval::eval(cond, fields) {
                continue;
            }
            out.push(rule.name.clone());
            if matching == Matching::First {
                break;
            }
        }
        out
    }
}
