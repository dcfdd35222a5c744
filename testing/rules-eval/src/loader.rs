//! Reading a rules file into lists, macros and rules, ported from Falco
//! `userspace/engine/rule_loader_reader.cpp` (`reader::read`, `read_item`, `decode_val`,
//! `decode_seq`, `decode_overrides`, `read_rule_exceptions`) and
//! `rule_loader_collector.cpp` (`define_info`, `append`, `selective_replace`, `enable`,
//! `validate_exception_info`).
//!
//! What the collector keeps is exactly what Falco's keeps: a redefinition replaces the whole
//! item in place (keeping its original position, so `rule_matching: first` order follows the
//! first definition); `append`/`override: append` concatenate with a space; `override: replace`
//! swaps individual keys; each definition, append or replace takes the next value of one counter
//! shared by lists, macros and rules, which is the "visibility" that decides which lists and
//! macros another list or macro may reference.

use std::collections::{BTreeSet, HashMap};

use anyhow::{anyhow, bail, Result};

use crate::yaml::{decode_bool, load_all, Node};
use crate::{PluginVersion, Priority};

/// A list, macro or rule collection indexed by name, in first-definition order
/// (Falco's `indexed_vector`).
pub(crate) struct Indexed<T> {
    pub(crate) items: Vec<T>,
    by_name: HashMap<String, usize>,
}

impl<T> Default for Indexed<T> {
    fn default() -> Self {
        Indexed {
            items: Vec::new(),
            by_name: HashMap::new(),
        }
    }
}

impl<T> Indexed<T> {
    pub(crate) fn get(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).map(|&i| &self.items[i])
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.by_name.get(name).map(|&i| &mut self.items[i])
    }

    fn insert(&mut self, name: &str, item: T) {
        self.by_name.insert(name.to_string(), self.items.len());
        self.items.push(item);
    }
}

/// A list as collected (`rule_loader::list_info`).
pub(crate) struct ListInfo {
    pub(crate) name: String,
    pub(crate) items: Vec<String>,
    pub(crate) index: usize,
    pub(crate) visibility: usize,
    pub(crate) line: usize,
}

/// A macro as collected (`rule_loader::macro_info`).
pub(crate) struct MacroInfo {
    pub(crate) name: String,
    pub(crate) cond: String,
    pub(crate) index: usize,
    pub(crate) visibility: usize,
    pub(crate) line: usize,
}

/// An exception entry: a string or a (nested) list (`rule_exception_info::entry`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Entry {
    pub(crate) is_list: bool,
    pub(crate) item: String,
    pub(crate) items: Vec<Entry>,
}

impl Entry {
    fn is_valid(&self) -> bool {
        if self.is_list {
            !self.items.is_empty()
        } else {
            !self.item.is_empty()
        }
    }
}

/// A rule exception (`rule_loader::rule_exception_info`).
#[derive(Clone, Debug)]
pub(crate) struct ExceptionInfo {
    pub(crate) name: String,
    pub(crate) fields: Entry,
    pub(crate) comps: Entry,
    pub(crate) values: Vec<Entry>,
    pub(crate) line: usize,
}

/// A rule as collected (`rule_loader::rule_info`).
pub(crate) struct RuleInfo {
    pub(crate) name: String,
    pub(crate) desc: String,
    pub(crate) cond: String,
    pub(crate) output: String,
    pub(crate) priority: Priority,
    pub(crate) source: String,
    pub(crate) tags: BTreeSet<String>,
    pub(crate) enabled: bool,
    pub(crate) exceptions: Vec<ExceptionInfo>,
    pub(crate) line: usize,
}

/// Everything read from a rules file (`rule_loader::collector`).
#[derive(Default)]
pub(crate) struct Collector {
    pub(crate) lists: Indexed<ListInfo>,
    pub(crate) macros: Indexed<MacroInfo>,
    pub(crate) rules: Indexed<RuleInfo>,
    cur_index: usize,
    pub(crate) engine_version: Option<(u64, u64, u64)>,
    pub(crate) plugin_versions: Vec<Vec<PluginVersion>>,
    pub(crate) warnings: Vec<String>,
}

/// The fields of a rule update (`rule_loader::rule_update_info`).
#[derive(Default)]
struct RuleUpdate {
    cond: Option<String>,
    output: Option<String>,
    desc: Option<String>,
    tags: Option<BTreeSet<String>>,
    exceptions: Option<Vec<ExceptionInfo>>,
    priority: Option<Priority>,
    enabled: Option<bool>,
    /// `warn_evttypes` or `skip-if-unknown-filter`, which only affect Falco's warnings.
    other: bool,
}

impl RuleUpdate {
    fn has_any_value(&self) -> bool {
        self.cond.is_some()
            || self.output.is_some()
            || self.desc.is_some()
            || self.tags.is_some()
            || self.exceptions.is_some()
            || self.priority.is_some()
            || self.enabled.is_some()
            || self.other
    }
}

const WARNING_APPEND: &str = "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
const WARNING_ENABLED: &str = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').";
const ERROR_OVERRIDE_APPEND: &str = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
const ERROR_NO_PREVIOUS_MACRO: &str =
    "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists";
const ERROR_NO_PREVIOUS_LIST: &str =
    "List uses 'append' or 'override.items: append' but no list by that name already exists";
const ERROR_NO_PREVIOUS_RULE_APPEND: &str =
    "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists";
const ERROR_NO_PREVIOUS_RULE_REPLACE: &str =
    "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists";

/// Where an error happened, for messages: `rule 'X' (line N)`.
pub(crate) fn at(kind: &str, name: &str, line: usize) -> String {
    if name.is_empty() {
        format!("{kind} (line {line})")
    } else {
        format!("{kind} '{name}' (line {line})")
    }
}

/// `decode_val_generic`: a required, non-null, non-empty scalar.
fn decode_val(item: &Node, key: &str, ctx: &str) -> Result<String> {
    decode_optional_val(item, key, ctx)?
        .ok_or_else(|| anyhow!("{ctx}: Item has no mapping for key '{key}'"))
}

/// `decode_val_generic` with `optional = true`.
fn decode_optional_val(item: &Node, key: &str, ctx: &str) -> Result<Option<String>> {
    let Some(val) = item.get(key) else {
        return Ok(None);
    };
    if val.is_null() {
        bail!("{ctx}: Mapping for key '{key}' is empty");
    }
    match val.scalar() {
        None => bail!("{ctx}: Value for '{key}' is not a scalar value"),
        Some("") => bail!("{ctx}: Value for '{key}' must be non-empty"),
        Some(s) => Ok(Some(s.to_string())),
    }
}

fn decode_optional_bool(item: &Node, key: &str, ctx: &str) -> Result<Option<bool>> {
    decode_optional_val(item, key, ctx)?
        .map(|s| {
            decode_bool(&s)
                .ok_or_else(|| anyhow!("{ctx}: Can't decode YAML scalar value for '{key}': '{s}'"))
        })
        .transpose()
}

fn decode_bool_val(item: &Node, key: &str, ctx: &str) -> Result<bool> {
    decode_optional_bool(item, key, ctx)?
        .ok_or_else(|| anyhow!("{ctx}: Item has no mapping for key '{key}'"))
}

/// `decode_seq`: a sequence of scalars.
fn decode_seq(item: &Node, key: &str, ctx: &str) -> Result<Option<Vec<String>>> {
    let Some(val) = item.get(key) else {
        return Ok(None);
    };
    let Node::Seq { items, .. } = val else {
        bail!("{ctx}: Value for '{key}' is not a sequence");
    };
    items
        .iter()
        .map(|v| {
            v.scalar()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("{ctx}: sequence value of '{key}' is not scalar"))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn decode_tags(item: &Node, ctx: &str) -> Result<Option<BTreeSet<String>>> {
    Ok(decode_seq(item, "tags", ctx)?.map(|v| v.into_iter().collect()))
}

/// `decode_overrides`: the `override` mapping, split into appended and replaced keys.
fn decode_overrides(
    item: &Node,
    appendable: &[&str],
    replaceable: &[&str],
    ctx: &str,
) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
    let mut append = BTreeSet::new();
    let mut replace = BTreeSet::new();
    let Some(val) = item.get("override") else {
        return Ok((append, replace));
    };
    let Node::Map { entries, .. } = val else {
        bail!("{ctx}: 'override' must be a mapping");
    };
    for (k, v) in entries {
        let key = k.scalar().unwrap_or_default().to_string();
        let op = v.scalar().unwrap_or_default();
        let can_append = appendable.contains(&key.as_str());
        let can_replace = replaceable.contains(&key.as_str());
        match op {
            "append" if can_append => append.insert(key),
            "append" => bail!("{ctx}: Key '{key}' cannot be appended to, use 'replace' instead"),
            "replace" if can_replace => replace.insert(key),
            "replace" => bail!("{ctx}: Key '{key}' cannot be replaced"),
            _ => {
                let allowed = [(can_append, "append "), (can_replace, "replace ")]
                    .iter()
                    .filter(|(ok, _)| *ok)
                    .map(|(_, s)| *s)
                    .collect::<String>();
                bail!("{ctx}: Invalid override operation for key '{key}': '{op}'. Allowed values are: {allowed}")
            }
        };
    }
    Ok((append, replace))
}

/// `decode_exception_info_entry`.
fn decode_entry(val: Option<&Node>, key: &str, optional: bool, ctx: &str) -> Result<Entry> {
    let Some(val) = val else {
        if optional {
            return Ok(Entry::default());
        }
        bail!("{ctx}: Item has no mapping for key '{key}'");
    };
    let mut out = Entry::default();
    match val {
        Node::Seq { items, .. } => {
            out.is_list = true;
            for v in items {
                out.items.push(decode_entry(Some(v), key, false, ctx)?);
            }
        }
        _ => {
            if let Some(s) = val.scalar() {
                if s.is_empty() {
                    bail!("{ctx}: Value for '{key}' must be non-empty");
                }
                out.item = s.to_string();
            }
        }
    }
    Ok(out)
}

/// `read_rule_exceptions`.
fn read_rule_exceptions(
    item: &Node,
    append: bool,
    ctx: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<ExceptionInfo>> {
    let mut out: Vec<ExceptionInfo> = Vec::new();
    let exs = match item.get("exceptions") {
        None => return Ok(out),
        Some(n) if n.is_null() => return Ok(out),
        Some(Node::Seq { items, .. }) => items,
        Some(_) => bail!("{ctx}: Rule exceptions must be a sequence"),
    };
    for ex in exs {
        if !matches!(ex, Node::Map { .. }) {
            bail!("{ctx}: Rule exception must be a mapping");
        }
        let name = decode_val(ex, "name", ctx)?;
        let ex_ctx = format!("{ctx} exception '{name}'");
        if out.iter().any(|e| e.name == name) {
            bail!("{ex_ctx}: Exceptions names in the same object must be unique");
        }
        let fields = decode_entry(ex.get("fields"), "fields", append, &ex_ctx)?;
        let comps = decode_entry(ex.get("comps"), "comps", true, &ex_ctx)?;
        let mut values = Vec::new();
        match ex.get("values") {
            Some(Node::Seq { items, .. }) => {
                for v in items {
                    values.push(decode_entry(Some(v), "values", false, &ex_ctx)?);
                }
            }
            Some(_) => bail!("{ex_ctx}: Rule exception values must be a sequence"),
            None if append => warnings.push(format!(
                "{ex_ctx}: Overriding/appending exception with no values"
            )),
            None => {}
        }
        out.push(ExceptionInfo {
            name,
            fields,
            comps,
            values,
            line: ex.line(),
        });
    }
    Ok(out)
}

/// `validate_exception_info` (without the field-existence check, see `Ruleset::check_fields`).
fn validate_exception_info(ex: &mut ExceptionInfo, ctx: &str) -> Result<()> {
    let ctx = format!("{ctx} exception '{}'", ex.name);
    if ex.fields.is_list {
        if !ex.comps.is_valid() {
            ex.comps.is_list = true;
            ex.comps.items = vec![
                Entry {
                    item: "=".into(),
                    ..Entry::default()
                };
                ex.fields.items.len()
            ];
        }
        if ex.fields.items.len() != ex.comps.items.len() {
            bail!("{ctx}: Fields and comps lists must have equal length");
        }
        for c in &ex.comps.items {
            if crate::parser::Op::from_token(&c.item).is_none() {
                bail!("{ctx}: '{}' is not a supported comparison operator", c.item);
            }
        }
    } else {
        if !ex.comps.is_valid() {
            ex.comps = Entry {
                item: "in".into(),
                ..Entry::default()
            };
        }
        if ex.comps.is_list {
            bail!("{ctx}: Fields and comps must both be strings");
        }
        if !matches!(ex.comps.item.as_str(), "in" | "pmatch" | "intersects") {
            bail!("{ctx}: When fields is a single value, comps must be one of (in, pmatch, intersects)");
        }
    }
    Ok(())
}

/// Three dot-separated numbers (`sinsp_version::is_valid`).
fn parse_semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.split('.').map(|p| {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u64>().ok())
            .flatten()
    });
    let r = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(r)
}

fn full_match(name: &str, ok_first: impl Fn(u8) -> bool, ok_rest: impl Fn(u8) -> bool) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && ok_first(b[0]) && b[1..].iter().all(|c| ok_rest(*c))
}

impl Collector {
    fn next_index(&mut self) -> usize {
        self.cur_index += 1;
        self.cur_index - 1
    }

    /// `reader::read`: every document must be a sequence of mappings.
    pub(crate) fn read(&mut self, text: &str) -> Result<()> {
        for doc in load_all(text)? {
            if doc.is_null() {
                continue;
            }
            let Node::Seq { items, .. } = &doc else {
                if matches!(doc, Node::Map { .. }) {
                    bail!("Rules content is not yaml array of objects");
                }
                bail!("Rules content is not yaml");
            };
            for item in items.iter().filter(|i| !i.is_null()) {
                self.read_item(item)?;
            }
        }
        Ok(())
    }

    fn read_item(&mut self, item: &Node) -> Result<()> {
        let line = item.line();
        if !matches!(item, Node::Map { .. }) {
            bail!(
                "{}: Unexpected element type. Each element should be a yaml associative array.",
                at("item", "", line)
            );
        }
        if item.get("required_engine_version").is_some() {
            self.read_engine_version(item, line)
        } else if let Some(reqs) = item.get("required_plugin_versions") {
            self.read_plugin_versions(reqs, line)
        } else if item.get("list").is_some() {
            self.read_list(item, line)
        } else if item.get("macro").is_some() {
            self.read_macro(item, line)
        } else if item.get("rule").is_some() {
            self.read_rule(item, line)
        } else {
            self.warnings
                .push(format!("{}: Unknown top level item", at("item", "", line)));
            Ok(())
        }
    }

    fn read_engine_version(&mut self, item: &Node, line: usize) -> Result<()> {
        let ctx = at("required_engine_version", "", line);
        let ver = decode_val(item, "required_engine_version", &ctx)?;
        // reader::get_implicit_engine_version: a bare number N means 0.N.0
        let v = match ver.parse::<u32>() {
            Ok(n) => (0, u64::from(n), 0),
            Err(_) => parse_semver(&ver).ok_or_else(|| {
                anyhow!("{ctx}: Unable to parse engine version '{ver}' as a semver string. Expected \"x.y.z\" semver format.")
            })?,
        };
        if self.engine_version.is_none_or(|cur| cur < v) {
            self.engine_version = Some(v);
        }
        Ok(())
    }

    fn read_plugin_versions(&mut self, reqs: &Node, line: usize) -> Result<()> {
        let ctx = at("required_plugin_versions", "", line);
        let Node::Seq { items, .. } = reqs else {
            bail!("{ctx}: Value of required_plugin_versions must be a sequence");
        };
        for plugin in items {
            if !matches!(plugin, Node::Map { .. }) {
                bail!("{ctx}: Plugin version must be a mapping");
            }
            let mut alternatives = vec![PluginVersion {
                name: decode_val(plugin, "name", &ctx)?,
                version: decode_val(plugin, "version", &ctx)?,
            }];
            match plugin.get("alternatives") {
                None => {}
                Some(Node::Seq { items, .. }) => {
                    for alt in items {
                        if !matches!(alt, Node::Map { .. }) {
                            bail!("{ctx}: Plugin version alternative must be a mapping");
                        }
                        alternatives.push(PluginVersion {
                            name: decode_val(alt, "name", &ctx)?,
                            version: decode_val(alt, "version", &ctx)?,
                        });
                    }
                }
                Some(_) => bail!("{ctx}: Value of plugin version alternatives must be a sequence"),
            }
            let mut names = BTreeSet::new();
            for req in &alternatives {
                if parse_semver(&req.version).is_none() {
                    bail!(
                        "{ctx}: Invalid required version '{}' for plugin '{}'",
                        req.version,
                        req.name
                    );
                }
                if !names.insert(req.name.clone()) {
                    bail!(
                        "{ctx}: Defined multiple alternative version requirements for plugin '{}'",
                        req.name
                    );
                }
            }
            self.plugin_versions.push(alternatives);
        }
        Ok(())
    }

    fn read_list(&mut self, item: &Node, line: usize) -> Result<()> {
        let name = decode_val(item, "list", &at("list", "", line))?;
        let ctx = at("list", &name, line);
        // RGX_BARESTR: [^()"'[:space:]=,]+
        let bare = |c: u8| {
            !matches!(c, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !c.is_ascii_whitespace()
        };
        if !full_match(&name, bare, bare) {
            bail!("{ctx}: List has an invalid name. List names must match a regular expression: ([^()\"'[:space:]=,]+)");
        }
        let items = decode_seq(item, "items", &ctx)?
            .ok_or_else(|| anyhow!("{ctx}: Item has no mapping for key 'items'"))?;
        let mut append = decode_optional_bool(item, "append", &ctx)?.unwrap_or(false);
        if append {
            self.warnings.push(format!("{ctx}: {WARNING_APPEND}"));
        }
        let (ov_append, ov_replace) = decode_overrides(item, &["items"], &["items"], &ctx)?;
        if append && !(ov_append.is_empty() && ov_replace.is_empty()) {
            bail!("{ctx}: {ERROR_OVERRIDE_APPEND}");
        }
        append |= ov_append.contains("items");
        let id = self.next_index();
        if append {
            let prev = self
                .lists
                .get_mut(&name)
                .ok_or_else(|| anyhow!("{ctx}: {ERROR_NO_PREVIOUS_LIST}"))?;
            prev.items.extend(items);
            prev.visibility = id;
        } else {
            let info = ListInfo {
                name: name.clone(),
                items,
                index: id,
                visibility: id,
                line,
            };
            match self.lists.get_mut(&name) {
                Some(prev) => {
                    *prev = ListInfo {
                        index: prev.index,
                        ..info
                    }
                }
                None => self.lists.insert(&name, info),
            }
        }
        Ok(())
    }

    fn read_macro(&mut self, item: &Node, line: usize) -> Result<()> {
        let name = decode_val(item, "macro", &at("macro", "", line))?;
        let ctx = at("macro", &name, line);
        if !full_match(
            &name,
            |c| c.is_ascii_alphabetic(),
            |c| c.is_ascii_alphanumeric() || c == b'_',
        ) {
            bail!("{ctx}: Macro has an invalid name. Macro names must match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)");
        }
        let cond = decode_val(item, "condition", &ctx)?;
        let mut append = decode_optional_bool(item, "append", &ctx)?.unwrap_or(false);
        if append {
            self.warnings.push(format!("{ctx}: {WARNING_APPEND}"));
        }
        let (ov_append, ov_replace) = decode_overrides(item, &["condition"], &["condition"], &ctx)?;
        if append && !(ov_append.is_empty() && ov_replace.is_empty()) {
            bail!("{ctx}: {ERROR_OVERRIDE_APPEND}");
        }
        append |= ov_append.contains("condition");
        let id = self.next_index();
        if append {
            let prev = self
                .macros
                .get_mut(&name)
                .ok_or_else(|| anyhow!("{ctx}: {ERROR_NO_PREVIOUS_MACRO}"))?;
            prev.cond.push(' ');
            prev.cond.push_str(&cond);
            prev.visibility = id;
        } else {
            let info = MacroInfo {
                name: name.clone(),
                cond,
                index: id,
                visibility: id,
                line,
            };
            match self.macros.get_mut(&name) {
                Some(prev) => {
                    *prev = MacroInfo {
                        index: prev.index,
                        ..info
                    }
                }
                None => self.macros.insert(&name, info),
            }
        }
        Ok(())
    }

    fn read_rule(&mut self, item: &Node, line: usize) -> Result<()> {
        let name = decode_val(item, "rule", &at("rule", "", line))?;
        let ctx = at("rule", &name, line);
        let has_append_flag = decode_optional_bool(item, "append", &ctx)?.unwrap_or(false);
        if has_append_flag {
            self.warnings.push(format!("{ctx}: {WARNING_APPEND}"));
        }
        const APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
        const REPLACEABLE: &[&str] = &[
            "condition",
            "output",
            "desc",
            "priority",
            "tags",
            "exceptions",
            "enabled",
            "warn_evttypes",
            "skip-if-unknown-filter",
        ];
        let (ov_append, ov_replace) = decode_overrides(item, APPENDABLE, REPLACEABLE, &ctx)?;
        let has_overrides = !ov_append.is_empty() || !ov_replace.is_empty();
        if has_append_flag && has_overrides {
            bail!("{ctx}: {ERROR_OVERRIDE_APPEND}");
        }
        if has_overrides {
            let mut expected: BTreeSet<&str> = APPENDABLE
                .iter()
                .chain(REPLACEABLE)
                .copied()
                .filter(|k| item.get(k).is_some())
                .collect();
            for (ops, kind, is_append) in [
                (&ov_append, "append", true),
                (&ov_replace, "replace", false),
            ] {
                if ops.is_empty() {
                    continue;
                }
                let mut up = RuleUpdate::default();
                let mut wants = |key: &str| -> Result<bool> {
                    if !ops.contains(key) {
                        return Ok(false);
                    }
                    if !expected.remove(key) {
                        bail!("{ctx}: An {kind} override for '{key}' was specified but '{key}' is not defined");
                    }
                    Ok(true)
                };
                if wants("condition")? {
                    up.cond = Some(decode_val(item, "condition", &ctx)?);
                }
                if wants("exceptions")? {
                    up.exceptions =
                        Some(read_rule_exceptions(item, true, &ctx, &mut self.warnings)?);
                }
                if wants("output")? {
                    up.output = Some(decode_val(item, "output", &ctx)?);
                }
                if wants("desc")? {
                    up.desc = Some(decode_val(item, "desc", &ctx)?);
                }
                if wants("tags")? {
                    up.tags = decode_tags(item, &ctx)?;
                }
                if wants("priority")? {
                    let p = decode_val(item, "priority", &ctx)?;
                    up.priority = Some(
                        Priority::parse(&p).ok_or_else(|| anyhow!("{ctx}: Invalid priority"))?,
                    );
                }
                if wants("enabled")? {
                    up.enabled = Some(decode_bool_val(item, "enabled", &ctx)?);
                }
                for key in ["warn_evttypes", "skip-if-unknown-filter"] {
                    if wants(key)? {
                        decode_bool_val(item, key, &ctx)?;
                        up.other = true;
                    }
                }
                if is_append {
                    self.append_rule(&name, up, &ctx)?;
                } else {
                    self.replace_rule(&name, up, &ctx)?;
                }
            }
            if let Some(key) = expected.first() {
                bail!("{ctx}: Unexpected key '{key}': no corresponding entry under 'override' is defined.");
            }
            return Ok(());
        }
        if has_append_flag {
            let mut up = RuleUpdate::default();
            if item.get("condition").is_some() {
                up.cond = Some(decode_val(item, "condition", &ctx)?);
            }
            if item.get("exceptions").is_some() {
                up.exceptions = Some(read_rule_exceptions(item, true, &ctx, &mut self.warnings)?);
            }
            return self.append_rule(&name, up, &ctx);
        }
        if ["condition", "output", "desc", "priority"]
            .iter()
            .all(|k| item.get(k).is_none())
        {
            // a rule item with only `enabled` toggles an existing rule (deprecated)
            let enabled = decode_bool_val(item, "enabled", &ctx)?;
            self.warnings.push(format!("{ctx}: {WARNING_ENABLED}"));
            let prev = self.rules.get_mut(&name).ok_or_else(|| {
                anyhow!("{ctx}: Rule has 'enabled' key but no rule by that name already exists")
            })?;
            prev.enabled = enabled;
            return Ok(());
        }
        let cond = decode_val(item, "condition", &ctx)?;
        let output = decode_val(item, "output", &ctx)?.trim().to_string();
        let desc = decode_val(item, "desc", &ctx)?;
        let priority = decode_val(item, "priority", &ctx)?;
        let priority =
            Priority::parse(&priority).ok_or_else(|| anyhow!("{ctx}: Invalid priority"))?;
        let source = decode_optional_val(item, "source", &ctx)?.unwrap_or_else(|| "syscall".into());
        let enabled = decode_optional_bool(item, "enabled", &ctx)?.unwrap_or(true);
        decode_optional_bool(item, "warn_evttypes", &ctx)?;
        decode_optional_bool(item, "skip-if-unknown-filter", &ctx)?;
        let tags = decode_tags(item, &ctx)?.unwrap_or_default();
        let mut exceptions = read_rule_exceptions(item, false, &ctx, &mut self.warnings)?;
        // collector::define(rule_info)
        if self.rules.get(&name).is_some_and(|p| p.source != source) {
            bail!("{ctx}: Rule has been re-defined with a different source");
        }
        for ex in &mut exceptions {
            if !ex.fields.is_valid() {
                bail!("{ctx}: Rule exception item must have fields property with a list of fields");
            }
            validate_exception_info(ex, &ctx)?;
        }
        let info = RuleInfo {
            name: name.clone(),
            desc,
            cond,
            output,
            priority,
            source,
            tags,
            enabled,
            exceptions,
            line,
        };
        self.next_index();
        match self.rules.get_mut(&name) {
            Some(prev) => *prev = info,
            None => self.rules.insert(&name, info),
        }
        Ok(())
    }

    /// `collector::append(rule_update_info)`.
    fn append_rule(&mut self, name: &str, up: RuleUpdate, ctx: &str) -> Result<()> {
        let prev = self
            .rules
            .get_mut(name)
            .ok_or_else(|| anyhow!("{ctx}: {ERROR_NO_PREVIOUS_RULE_APPEND}"))?;
        if !up.has_any_value() {
            bail!("{ctx}: Appended rule must have exceptions or condition property");
        }
        for (dst, src) in [
            (&mut prev.cond, up.cond),
            (&mut prev.output, up.output),
            (&mut prev.desc, up.desc),
        ] {
            if let Some(s) = src.filter(|s| !s.is_empty()) {
                dst.push(' ');
                dst.push_str(&s);
            }
        }
        if let Some(tags) = up.tags {
            prev.tags.extend(tags);
        }
        for mut ex in up.exceptions.unwrap_or_default() {
            match prev.exceptions.iter_mut().find(|e| e.name == ex.name) {
                None => {
                    if !ex.fields.is_valid() {
                        bail!(
                            "{ctx}: Rule exception must have fields property with a list of fields"
                        );
                    }
                    if ex.values.is_empty() {
                        bail!(
                            "{ctx}: Rule exception must have values property with a list of values"
                        );
                    }
                    validate_exception_info(&mut ex, ctx)?;
                    prev.exceptions.push(ex);
                }
                Some(prev_ex) => {
                    if ex.fields.is_valid() {
                        bail!("{ctx}: Can not append exception fields to existing exception, only values");
                    }
                    if ex.comps.is_valid() {
                        bail!("{ctx}: Can not append exception comps to existing exception, only values");
                    }
                    prev_ex.values.extend(ex.values);
                }
            }
        }
        self.next_index();
        Ok(())
    }

    /// `collector::selective_replace`.
    fn replace_rule(&mut self, name: &str, up: RuleUpdate, ctx: &str) -> Result<()> {
        let prev = self
            .rules
            .get_mut(name)
            .ok_or_else(|| anyhow!("{ctx}: {ERROR_NO_PREVIOUS_RULE_REPLACE}"))?;
        if !up.has_any_value() {
            bail!("{ctx}: The rule must have at least one field that can be replaced");
        }
        if let Some(v) = up.cond {
            prev.cond = v;
        }
        if let Some(v) = up.output {
            prev.output = v;
        }
        if let Some(v) = up.desc {
            prev.desc = v;
        }
        if let Some(v) = up.tags {
            prev.tags = v;
        }
        if let Some(v) = up.exceptions {
            prev.exceptions = v;
        }
        if let Some(v) = up.priority {
            prev.priority = v;
        }
        if let Some(v) = up.enabled {
            prev.enabled = v;
        }
        self.next_index();
        Ok(())
    }
}
