//! Compiling collected lists, macros and rules, ported from Falco
//! `userspace/engine/rule_loader_compiler.cpp` (`compile_list_infos`, `resolve_list`,
//! `compile_macros_infos`, `build_rule_exception_infos`, `compile_rule_infos`,
//! `compile_condition`), `filter_macro_resolver.cpp` and the checks of libsinsp's
//! `sinsp_filter_compiler` (`filter.cpp`) that do not depend on the field table.
//!
//! Lists are substituted *textually* into every condition before it is parsed, exactly like
//! `resolve_list`: each occurrence of a list name bounded by blanks, `(`, `)`, `,`, `=` or the
//! ends of the text is replaced by its items joined with `, ` (items with a space are wrapped in
//! double quotes), so `x in (a, my_list)` works, `x in my_list` only works for a one-item list,
//! and a list name used as a plain value (`x = my_list`) is substituted too. List items that
//! name an earlier list are expanded first (`compile_list_infos`). Macros are resolved on the
//! parsed tree: a macro sees only the macros defined before it (its "visibility"), a rule sees
//! all of them; an unknown identifier is "Undefined macro", a cycle a "reference loop".
//! Exceptions are appended to the condition as text (`and not (...)`) before all that.

use std::collections::{BTreeSet, HashMap};

use anyhow::{anyhow, bail, Result};

use crate::loader::{at, Collector, Entry, ExceptionInfo};
use crate::output::output_fields;
use crate::parser::{parse, Check, Expr, Op, Rhs};
use crate::{FieldRef, ItemKind, LiteralUse, Rule, Usage};

/// The compiled rule set.
pub(crate) struct Compiled {
    /// Every rule in Falco's order, with its compiled condition.
    pub(crate) rules: Vec<(Rule, Expr)>,
    /// Every field of every rule's condition, output and exceptions.
    pub(crate) fields: BTreeSet<FieldRef>,
    /// Falco's unused-list and unused-macro warnings.
    pub(crate) warnings: Vec<String>,
    /// The literal values of every macro's and rule's own condition, after list substitution.
    pub(crate) literals: Vec<LiteralUse>,
}

/// `quote_item`: wraps an item holding a space in double quotes, unless already quoted.
fn quote_item(e: &str) -> String {
    if e.contains(' ') && !e.starts_with(['"', '\'']) {
        format!("\"{e}\"")
    } else {
        e.to_string()
    }
}

/// `paren_item`: wraps an item in parentheses unless it starts with one.
fn paren_item(e: &str) -> String {
    if e.starts_with('(') {
        e.to_string()
    } else {
        format!("({e})")
    }
}

fn find_from(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() || needle.is_empty() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// `resolve_list`: substitutes every delimited occurrence of the list name, in place.
fn resolve_list(cnd: &mut String, name: &str, items: &[String]) -> bool {
    const BLANKS: &[u8] = b" \t\n\r";
    const DELIMS: &[u8] = b" \t\n\r(),=";
    let n = name.as_bytes();
    let mut c = cnd.as_bytes().to_vec();
    let mut used = false;
    let mut found = find_from(&c, n, 0);
    while let Some(mut start) = found {
        let mut end = start + n.len();
        if (start == 0 || DELIMS.contains(&c[start - 1]))
            && (end >= c.len() || DELIMS.contains(&c[end]))
        {
            while start > 0 && BLANKS.contains(&c[start - 1]) {
                start -= 1;
            }
            while end < c.len() && BLANKS.contains(&c[end]) {
                end += 1;
            }
            let sub = items
                .iter()
                .map(|i| quote_item(i))
                .collect::<Vec<_>>()
                .join(", ");
            if sub.is_empty() {
                if start > 0 && c[start - 1] == b',' {
                    start -= 1;
                } else if end < c.len() && c[end] == b',' {
                    end += 1;
                }
            }
            let mut new = Vec::with_capacity(c.len() + sub.len() + 2);
            if start > 0 {
                new.extend_from_slice(&c[..start]);
                new.push(b' ');
            }
            new.extend_from_slice(sub.as_bytes());
            new.push(b' ');
            new.extend_from_slice(&c[end..]);
            c = new;
            start += sub.len() + 1;
            used = true;
        }
        found = find_from(&c, n, start + 1);
    }
    *cnd = String::from_utf8(c).expect("splices happen next to ASCII delimiters");
    used
}

/// `build_rule_exception_infos`: the condition with each exception appended as `and not (...)`.
fn build_exceptions(cond: &str, exceptions: &[ExceptionInfo], ctx: &str) -> Result<String> {
    let mut condition = format!("({cond})");
    for ex in exceptions {
        let ctx = format!("{ctx} exception '{}' (line {})", ex.name, ex.line);
        let mut icond = String::new();
        if !ex.fields.is_list {
            for val in &ex.values {
                if val.is_list {
                    bail!("{ctx}: Expected values array to contain a list of strings");
                }
                if icond.is_empty() {
                    icond = format!("({} {} (", ex.fields.item, ex.comps.item);
                } else {
                    icond.push_str(", ");
                }
                icond.push_str(&quote_item(&val.item));
            }
            if !icond.is_empty() {
                icond.push_str("))");
            }
        } else {
            icond.push('(');
            for values in &ex.values {
                if ex.fields.items.len() != values.items.len() {
                    bail!("{ctx}: Fields and values lists must have equal length");
                }
                if ex.comps.items.len() != ex.fields.items.len() {
                    bail!("{ctx}: Fields and comps lists must have equal length");
                }
                if icond != "(" {
                    icond.push_str(" or ");
                }
                icond.push('(');
                for (k, field) in ex.fields.items.iter().enumerate() {
                    if k > 0 {
                        icond.push_str(" and ");
                    }
                    let comp = &ex.comps.items[k].item;
                    let value: &Entry = &values.items[k];
                    let istr = if value.is_list {
                        let items: Vec<String> =
                            value.items.iter().map(|v| quote_item(&v.item)).collect();
                        format!("({})", items.join(", "))
                    } else if Op::from_token(comp).is_some_and(Op::is_list_op) {
                        paren_item(&value.item)
                    } else {
                        quote_item(&value.item)
                    };
                    icond.push_str(&format!(" {} {comp} {istr}", field.item));
                }
                icond.push(')');
            }
            icond.push(')');
            if icond == "()" {
                icond.clear();
            }
        }
        if !icond.is_empty() {
            condition.push_str(" and not ");
            condition.push_str(&icond);
        }
    }
    Ok(condition)
}

/// Line and column (1-based) of a byte offset, for parse errors.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..pos.min(text.len())];
    let line = 1 + before.iter().filter(|&&c| c == b'\n').count();
    let col = 1 + before.iter().rev().take_while(|&&c| c != b'\n').count();
    (line, col)
}

/// Macro resolution state (`filter_macro_resolver::visitor`).
struct MacroResolver<'a> {
    macros: &'a HashMap<String, Expr>,
    visible: &'a dyn Fn(&str) -> bool,
    path: Vec<String>,
    errors: Vec<String>,
    unknown: Vec<String>,
    resolved: BTreeSet<String>,
}

impl<'a> MacroResolver<'a> {
    /// A resolver of `macros`, seeing those for which `visible` holds.
    fn new(macros: &'a HashMap<String, Expr>, visible: &'a dyn Fn(&str) -> bool) -> Self {
        Self {
            macros,
            visible,
            path: Vec::new(),
            errors: Vec::new(),
            unknown: Vec::new(),
            resolved: BTreeSet::new(),
        }
    }

    fn resolve(&mut self, e: &Expr) -> Expr {
        match e {
            Expr::And(c) => Expr::And(c.iter().map(|x| self.resolve(x)).collect()),
            Expr::Or(c) => Expr::Or(c.iter().map(|x| self.resolve(x)).collect()),
            Expr::Not(c) => Expr::Not(Box::new(self.resolve(c))),
            Expr::Check(_) => e.clone(),
            Expr::Ident(name) => {
                let Some(body) = self.macros.get(name).filter(|_| (self.visible)(name)) else {
                    self.unknown.push(name.clone());
                    return e.clone();
                };
                if self.path.contains(name) {
                    self.errors
                        .push(format!("reference loop in macro '{name}'"));
                    self.unknown.push(name.clone());
                    return e.clone();
                }
                self.path.push(name.clone());
                let r = self.resolve(body);
                self.path.pop();
                self.resolved.insert(name.clone());
                r
            }
        }
    }

    /// Resolves `e`; the first error, else the first unknown macro, fails (`resolve_macros`).
    fn run(&mut self, e: &Expr, ctx: &str) -> Result<Expr> {
        let r = self.resolve(e);
        if let Some(err) = self.errors.first() {
            bail!("{ctx}: {err}");
        }
        if let Some(name) = self.unknown.first() {
            bail!("{ctx}: Undefined macro '{name}' used in filter.");
        }
        Ok(r)
    }
}

/// Parses a condition after list substitution (`parse_condition`).
fn parse_condition(
    cond: &str,
    lists: &mut [(String, Vec<String>, bool)],
    ctx: &str,
) -> Result<Expr> {
    let mut cond = cond.to_string();
    for (name, items, used) in lists.iter_mut() {
        if resolve_list(&mut cond, name, items) {
            *used = true;
        }
    }
    parse(&cond).map_err(|e| {
        let (line, col) = line_col(&cond, e.pos);
        anyhow!(
            "{ctx}: {} (condition line {line}, column {col}, after list expansion: {cond:?})",
            e.msg
        )
    })
}

/// The checks `sinsp_filter_compiler` makes that need no field table, and the field references.
fn compile_checks(e: &mut Expr, ctx: &str, fields: &mut BTreeSet<FieldRef>) -> Result<()> {
    match e {
        Expr::And(c) | Expr::Or(c) => c
            .iter_mut()
            .try_for_each(|x| compile_checks(x, ctx, fields)),
        Expr::Not(c) => compile_checks(c, ctx, fields),
        Expr::Ident(name) => bail!("{ctx}: filter error: unexpected identifier '{name}'"),
        Expr::Check(Check { field, arg, op, .. }) => {
            match op {
                // flt_is_comparable_string: every kar.* field is a string (PT_CHARBUF)
                Op::BContains | Op::BStartsWith => {
                    bail!("{ctx}: filter error: '{op}' operator not supported for string filters")
                }
                Op::Regex => bail!("{ctx}: the 'regex' operator is not supported by rules-eval"),
                _ => {}
            }
            // create_filtercheck_name + sinsp_filter_check_plugin::parse_field_name: the text
            // `field[arg]` is cut at the first space, the argument at the first ']'
            if let Some(a) = arg.take() {
                if a.contains(' ') {
                    bail!("{ctx}: filter '{field}[{a}]': {field} has unbalanced argument brackets");
                }
                let a = a.split(']').next().unwrap_or_default();
                *arg = (!a.is_empty()).then(|| a.to_string());
            }
            fields.insert(FieldRef {
                field: field.clone(),
                arg: arg.clone(),
                usage: Usage::Condition(*op),
            });
            Ok(())
        }
    }
}

/// Appends the literal values of the checks of `e` (macros not expanded) to `out`.
fn collect_literals(e: &Expr, kind: ItemKind, item: &str, out: &mut Vec<LiteralUse>) {
    match e {
        Expr::And(c) | Expr::Or(c) => c.iter().for_each(|x| collect_literals(x, kind, item, out)),
        Expr::Not(c) => collect_literals(c, kind, item, out),
        Expr::Ident(_) => {}
        Expr::Check(Check {
            field,
            arg,
            op,
            rhs,
        }) => {
            let values = match rhs {
                Rhs::None => &[][..],
                Rhs::Value(v) => std::slice::from_ref(v),
                Rhs::List(l) => &l[..],
            };
            out.extend(values.iter().map(|v| LiteralUse {
                kind,
                item: item.to_string(),
                field: field.clone(),
                arg: arg.clone(),
                op: *op,
                value: v.text.clone(),
                quoted: v.quoted,
            }));
        }
    }
}

/// Compiles everything the collector holds (`rule_loader::compiler::compile`).
pub(crate) fn compile(col: &Collector) -> Result<Compiled> {
    // compile_list_infos: items naming an earlier list are replaced by that list's items
    let mut lists: Vec<(String, Vec<String>, bool)> = Vec::new();
    let mut referenced = BTreeSet::new();
    for l in &col.lists.items {
        let mut items = Vec::new();
        for item in &l.items {
            match col.lists.get(item) {
                Some(r) if r.index < l.visibility => {
                    referenced.insert(r.name.clone());
                    items.extend(r.items.iter().cloned());
                }
                _ => items.push(item.clone()),
            }
        }
        lists.push((l.name.clone(), items, false));
    }
    for l in &mut lists {
        l.2 |= referenced.contains(&l.0);
    }

    // compile_macros_infos: parse every macro, then resolve each with the macros it can see
    let mut macros = HashMap::new();
    for m in &col.macros.items {
        let ctx = at("macro", &m.name, m.line);
        macros.insert(m.name.clone(), parse_condition(&m.cond, &mut lists, &ctx)?);
    }
    let mut literals = Vec::new();
    for m in &col.macros.items {
        collect_literals(&macros[&m.name], ItemKind::Macro, &m.name, &mut literals);
    }
    let mut used_macros = BTreeSet::new();
    for m in &col.macros.items {
        let ctx = at("macro", &m.name, m.line);
        let visible = |name: &str| col.macros.get(name).is_some_and(|o| o.index < m.visibility);
        let mut r = MacroResolver::new(&macros, &visible);
        r.run(&macros[&m.name], &ctx)?;
        used_macros.extend(r.resolved);
    }

    // compile_rule_infos
    let mut rules = Vec::new();
    let mut fields = BTreeSet::new();
    for r in &col.rules.items {
        let ctx = at("rule", &r.name, r.line);
        let mut condition = r.cond.clone();
        if !r.exceptions.is_empty() {
            condition = build_exceptions(&condition, &r.exceptions, &ctx)?;
        }
        for (field, arg) in output_fields(&r.output).map_err(|e| anyhow!("{ctx}: output: {e}"))? {
            let usage = Usage::Output;
            fields.insert(FieldRef { field, arg, usage });
        }
        for ex in &r.exceptions {
            let names = if ex.fields.is_list {
                ex.fields.items.iter().map(|f| f.item.clone()).collect()
            } else {
                vec![ex.fields.item.clone()]
            };
            for name in names.into_iter().filter(|f| !f.is_empty()) {
                // `field[arg]` as the plugin field parser splits it
                let (field, arg) = match name.split_once('[') {
                    Some((f, rest)) => (f.to_string(), rest.split(']').next().map(str::to_string)),
                    None => (name, None),
                };
                let usage = Usage::Exception;
                fields.insert(FieldRef { field, arg, usage });
            }
        }
        let ast = parse_condition(&condition, &mut lists, &ctx)?;
        collect_literals(&ast, ItemKind::Rule, &r.name, &mut literals);
        let visible = |_: &str| true;
        let mut resolver = MacroResolver::new(&macros, &visible);
        let mut ast = resolver.run(&ast, &ctx)?;
        used_macros.extend(resolver.resolved);
        compile_checks(&mut ast, &ctx, &mut fields)?;
        let rule = Rule {
            name: r.name.clone(),
            desc: r.desc.clone(),
            condition: r.cond.clone(),
            output: r.output.clone(),
            priority: r.priority,
            source: r.source.clone(),
            tags: r.tags.clone(),
            enabled: r.enabled,
        };
        rules.push((rule, ast));
    }

    let mut warnings = Vec::new();
    for m in col
        .macros
        .items
        .iter()
        .filter(|m| !used_macros.contains(&m.name))
    {
        let ctx = at("macro", &m.name, m.line);
        warnings.push(format!(
            "{ctx}: Macro not referred to by any other rule/macro"
        ));
    }
    for (l, (_, _, used)) in col.lists.items.iter().zip(&lists) {
        if !used {
            let ctx = at("list", &l.name, l.line);
            warnings.push(format!(
                "{ctx}: List not referred to by any other rule/macro"
            ));
        }
    }
    Ok(Compiled {
        rules,
        fields,
        warnings,
        literals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subst(cond: &str, name: &str, items: &[&str]) -> (String, bool) {
        let mut c = cond.to_string();
        let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        let used = resolve_list(&mut c, name, &items);
        (c, used)
    }

    #[test]
    fn list_substitution_is_textual() {
        assert_eq!(
            subst("x in (l)", "l", &["a", "b c"]).0,
            "x in ( a, \"b c\" )"
        );
        assert_eq!(subst("x in (a, l)", "l", &["b"]).0, "x in (a, b )");
        // bounded by delimiters only: no substitution inside longer words or dotted names
        assert_eq!(
            subst("x in (ll, l_x, a.l)", "l", &["b"]),
            ("x in (ll, l_x, a.l)".into(), false)
        );
        // an empty list takes a neighbouring comma with it
        assert_eq!(subst("x in (a, l)", "l", &[]).0, "x in (a  )");
        assert_eq!(subst("x in (l, a)", "l", &[]).0, "x in (   a)");
        // a bare value equal to a list name is substituted too
        assert_eq!(subst("x = l", "l", &["v"]).0, "x = v ");
        // the same list several times
        assert_eq!(subst("(l) or (l)", "l", &["v"]).0, "( v ) or ( v )");
    }

    #[test]
    fn exceptions_become_and_not() {
        let e = |is_list: bool, item: &str, items: Vec<Entry>| Entry {
            is_list,
            item: item.into(),
            items,
        };
        let s = |v: &str| e(false, v, vec![]);
        let single = ExceptionInfo {
            name: "a".into(),
            fields: s("kar.user.name"),
            comps: s("in"),
            values: vec![s("alice"), s("bob smith")],
            line: 1,
        };
        let multi = ExceptionInfo {
            name: "b".into(),
            fields: e(
                true,
                "",
                vec![s("kar.target.namespace"), s("kar.target.name")],
            ),
            comps: e(true, "", vec![s("="), s("in")]),
            values: vec![e(
                true,
                "",
                vec![s("kube-system"), e(true, "", vec![s("x"), s("y")])],
            )],
            line: 2,
        };
        assert_eq!(
            build_exceptions("c", &[single, multi], "r").unwrap(),
            "(c) and not (kar.user.name in (alice, \"bob smith\")) and not \
             (( kar.target.namespace = kube-system and  kar.target.name in (x, y)))"
        );
    }
}
