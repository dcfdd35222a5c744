//! Evaluation of a compiled condition against one event, following libsinsp:
//!
//! - `sinsp_filter_check::compare_nocache` (`sinsp_filtercheck.cpp`): a field that extracts no
//!   value makes the check false before the operator is looked at, for every operator
//!   (`exists` and `!=` included); `not` then negates that false.
//! - `sinsp_filter_check_plugin::extract` (`plugin_filtercheck.cpp`): a plugin field answering
//!   zero values (`res_len == 0`) extracts nothing; string values are C strings (`strlen`).
//! - `sinsp_filter_check::compare_rhs`: on list fields only `exists`, `in` (every extracted value
//!   is in the set) and `intersects` (some value is in the set) exist; single values go to
//!   `flt_compare` or, for `in`/`intersects`/`pmatch`, to set membership / `path_prefix_search`.
//! - `flt_compare_string` (`filter_compare.cpp`): `=`/`!=` `strcmp`; `<` `<=` `>` `>=` `strcmp`
//!   order (byte-wise, so `"9" > "10"`); `contains` `strstr`; `icontains` `strcasestr`;
//!   `startswith` `strncmp`; `endswith` `sinsp_utils::endswith`; `glob`/`iglob`
//!   `fnmatch(pattern, value, 0 | FNM_CASEFOLD)`.
//! - `path_prefix_map` (`prefix_search.h`) for `pmatch`.

use std::collections::HashMap;
use std::ffi::CString;

use crate::parser::{Check, Expr, Op, Rhs};
use crate::Fields;

/// glibc's `FNM_CASEFOLD` (`1 << 4`), which the libc crate does not export for Linux.
const FNM_CASEFOLD: libc::c_int = 1 << 4;

/// Evaluates `expr`, short-circuiting `and`/`or` like `sinsp_filter::run`.
pub(crate) fn eval(expr: &Expr, fields: &mut dyn Fields) -> bool {
    match expr {
        Expr::And(children) => children.iter().all(|c| eval(c, fields)),
        Expr::Or(children) => children.iter().any(|c| eval(c, fields)),
        Expr::Not(child) => !eval(child, fields),
        Expr::Check(check) => eval_check(check, fields),
        Expr::Ident(name) => unreachable!("macro '{name}' is resolved at load time"),
    }
}

/// The value as libsinsp sees a C string: up to the first NUL.
fn c_str(s: &str) -> &str {
    s.split('\0').next().unwrap_or_default()
}

fn eval_check(check: &Check, fields: &mut dyn Fields) -> bool {
    let values = fields
        .get(&check.field, check.arg.as_deref())
        .unwrap_or_default();
    if values.is_empty() {
        return false;
    }
    let values: Vec<&str> = values.iter().map(|v| c_str(v)).collect();
    let rhs: Vec<&str> = match &check.rhs {
        Rhs::None => Vec::new(),
        Rhs::Value(v) => vec![v.text.as_str()],
        Rhs::List(l) => l.iter().map(|v| v.text.as_str()).collect(),
    };
    match check.op {
        Op::Exists => true,
        Op::In => values.iter().all(|v| rhs.contains(v)),
        Op::Intersects => values.iter().any(|v| rhs.contains(v)),
        op => {
            assert!(
                values.len() == 1,
                "field {}{} returned {} values: Falco rejects operator '{op}' on list fields \
                 (Ruleset::check_fields reports it at load time)",
                check.field,
                check
                    .arg
                    .as_ref()
                    .map(|a| format!("[{a}]"))
                    .unwrap_or_default(),
                values.len()
            );
            compare_single(op, values[0], &rhs)
        }
    }
}

fn compare_single(op: Op, v: &str, rhs: &[&str]) -> bool {
    if op == Op::PMatch {
        let mut tree = PrefixTree::default();
        for path in rhs {
            tree.add(&components(path));
        }
        return tree.matches(&components(v));
    }
    let r = rhs.first().copied().unwrap_or_default();
    match op {
        Op::Eq => v == r,
        Op::Ne => v != r,
        Op::Lt => v.as_bytes() < r.as_bytes(),
        Op::Le => v.as_bytes() <= r.as_bytes(),
        Op::Gt => v.as_bytes() > r.as_bytes(),
        Op::Ge => v.as_bytes() >= r.as_bytes(),
        Op::Contains => v.contains(r),
        Op::IContains => v.to_ascii_lowercase().contains(&r.to_ascii_lowercase()),
        Op::StartsWith => v.starts_with(r),
        Op::EndsWith => v.ends_with(r),
        Op::Glob => fnmatch(r, v, 0),
        Op::IGlob => fnmatch(r, v, FNM_CASEFOLD),
        Op::BContains
        | Op::BStartsWith
        | Op::Regex
        | Op::PMatch
        | Op::In
        | Op::Intersects
        | Op::Exists => {
            unreachable!("operator '{op}' is rejected or handled before")
        }
    }
}

/// `sinsp_utils::glob_match`: glibc `fnmatch(3)`, the very function Falco calls on Linux.
pub(crate) fn fnmatch(pattern: &str, s: &str, flags: libc::c_int) -> bool {
    let (Ok(p), Ok(s)) = (CString::new(c_str(pattern)), CString::new(c_str(s))) else {
        unreachable!("c_str removed every NUL");
    };
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call, and
    // fnmatch only reads them.
    unsafe { libc::fnmatch(p.as_ptr(), s.as_ptr(), flags) == 0 }
}

/// `path_prefix_map_ut::split_path` plus the dummy `root` component `path_prefix_map` prepends.
fn components(path: &str) -> Vec<&str> {
    std::iter::once("root")
        .chain(path.split('/').filter(|c| !c.is_empty()))
        .collect()
}

/// `path_prefix_map<bool>`: one level of path components; `None` marks a terminal prefix.
#[derive(Default)]
struct PrefixTree {
    dirs: HashMap<String, Option<Box<PrefixTree>>>,
    glob_dirs: Vec<(String, Option<Box<PrefixTree>>)>,
}

impl PrefixTree {
    fn add(&mut self, comps: &[&str]) {
        let (head, rest) = comps.split_first().expect("components start with root");
        let fresh = || {
            if rest.is_empty() {
                None
            } else {
                Some(Box::default())
            }
        };
        let entry = if head.contains(['?', '*', '[']) {
            let i = match self.glob_dirs.iter().position(|(k, _)| k == head) {
                Some(i) => i,
                None => {
                    self.glob_dirs.push((head.to_string(), fresh()));
                    self.glob_dirs.len() - 1
                }
            };
            &mut self.glob_dirs[i].1
        } else {
            self.dirs.entry(head.to_string()).or_insert_with(fresh)
        };
        match entry {
            // the new path is a prefix of the existing ones: it replaces them
            Some(_) if rest.is_empty() => *entry = None,
            // an existing shorter prefix already covers the new path
            None => {}
            Some(sub) => sub.add(rest),
        }
    }

    fn matches(&self, comps: &[&str]) -> bool {
        let Some((head, rest)) = comps.split_first() else {
            return false;
        };
        let check = |sub: &Option<Box<PrefixTree>>| match sub {
            None => true,
            Some(_) if rest.is_empty() => false,
            Some(t) => t.matches(rest),
        };
        if self.dirs.get(*head).is_some_and(check) {
            return true;
        }
        self.glob_dirs
            .iter()
            .any(|(pattern, sub)| fnmatch(pattern, head, 0) && check(sub))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(op: Op, v: &str, r: &str) -> bool {
        compare_single(op, v, &[r])
    }

    #[test]
    fn string_operators() {
        assert!(single(Op::Eq, "a", "a") && !single(Op::Eq, "a", "A"));
        assert!(single(Op::Ne, "a", "b"));
        // strcmp order, not numeric order
        assert!(single(Op::Gt, "9", "10"));
        assert!(single(Op::Lt, "10", "9"));
        assert!(single(Op::Le, "a", "a") && single(Op::Ge, "b", "a"));
        assert!(single(Op::Contains, "hello", "ell") && single(Op::Contains, "x", ""));
        assert!(single(Op::IContains, "HeLLo", "ell"));
        assert!(single(Op::StartsWith, "/etc/x", "/etc") && !single(Op::StartsWith, "/et", "/etc"));
        assert!(single(Op::EndsWith, "file.key", ".key") && !single(Op::EndsWith, "y", "key"));
    }

    #[test]
    fn glob_is_fnmatch_without_flags() {
        assert!(single(Op::Glob, "/etc/ssh/sshd", "/etc/*"));
        // without FNM_PATHNAME `*` crosses '/'
        assert!(single(Op::Glob, "a/b/c", "a*c"));
        assert!(single(Op::Glob, "abc", "a?c") && single(Op::Glob, "abc", "a[a-c]c"));
        assert!(single(Op::Glob, "a*c", "a\\*c") && !single(Op::Glob, "abc", "a\\*c"));
        assert!(!single(Op::Glob, "ABC", "abc") && single(Op::IGlob, "ABC", "a*"));
    }

    #[test]
    fn pmatch_is_component_prefix_search() {
        let pm = |v: &str, paths: &[&str]| compare_single(Op::PMatch, v, paths);
        assert!(pm("/var/run/docker", &["/var/run", "/etc"]));
        assert!(pm("/etc", &["/var/run", "/etc"]));
        assert!(!pm("/var", &["/var/run"]));
        assert!(!pm("/var/lib/x", &["/var/run"]));
        // component-wise, not string-prefix: /etcx is not under /etc
        assert!(!pm("/etcx", &["/etc"]));
        // empty components are skipped
        assert!(pm("//etc//passwd", &["/etc/"]));
        // a shorter prefix wins whatever the order of insertion
        assert!(pm("/usr/bin/x", &["/usr/lib", "/usr"]));
        assert!(pm("/usr/bin/x", &["/usr", "/usr/lib"]));
        // glob components
        assert!(pm("/home/alice/.ssh/id", &["/home/*/.ssh"]));
        assert!(!pm("/home/alice/x", &["/home/*/.ssh"]));
        // '/' matches everything
        assert!(pm("/anything", &["/"]));
    }

    #[test]
    fn nul_truncates_like_c_strings() {
        assert_eq!(c_str("ab\0cd"), "ab");
        assert!(single(Op::Eq, c_str("ab\0cd"), "ab"));
    }
}
