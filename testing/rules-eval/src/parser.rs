//! The filter-condition grammar, ported from libsinsp `userspace/libsinsp/filter/parser.cpp`
//! (`parser::parse_or`, `parse_and`, `parse_not`, `parse_check`, `parse_field_remainder`,
//! `parse_condition`, `parse_*_value_or_transformer` and the `lex_*` helpers) and
//! `filter/escaping.cpp` (`unescape_str`).
//!
//! It is a recursive-descent parser over the raw bytes, with the same token regular expressions,
//! the same operator tables (in the same lexing order) and the same quirks: `and`/`or` must be
//! followed by a blank or `(`; `contains `, `startswith `, … need a literal space after them;
//! `in`, `intersects`, `pmatch` take `(v, …)` or a single identifier; `<`, `<=`, `>`, `>=` take
//! only a (hex) number literal; a bare field argument stops at the first `]`, blank or quote.
//! Field transformers (`tolower(…)`, `val(…)`, …) are recognised and rejected as unsupported.

use std::fmt;

/// A comparison operator of the condition language (libsinsp `cmpop`, `filter_compare.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `=` or `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `contains`.
    Contains,
    /// `icontains`.
    IContains,
    /// `bcontains` (byte buffers only: rejected on string fields).
    BContains,
    /// `startswith`.
    StartsWith,
    /// `bstartswith` (byte buffers only: rejected on string fields).
    BStartsWith,
    /// `endswith`.
    EndsWith,
    /// `glob`.
    Glob,
    /// `iglob`.
    IGlob,
    /// `regex` (not supported by this evaluator).
    Regex,
    /// `in`.
    In,
    /// `intersects`.
    Intersects,
    /// `pmatch`.
    PMatch,
    /// `exists`.
    Exists,
}

impl Op {
    /// The operator as written in conditions (`==` is reported as `=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::PMatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// libsinsp `str_to_cmpop` (`filter_compare.cpp`), on a trimmed operator token.
    pub(crate) fn from_token(token: &str) -> Option<Op> {
        Some(match token {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "regex" => Op::Regex,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::PMatch,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    /// True for the operators libsinsp calls list operators (`parser::supported_operators(true)`).
    pub(crate) fn is_list_op(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed condition (libsinsp `filter/ast.h`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    /// `a and b and …`.
    And(Vec<Expr>),
    /// `a or b or …`.
    Or(Vec<Expr>),
    /// `not a`.
    Not(Box<Expr>),
    /// A bare identifier: a macro reference until macros are resolved.
    Ident(String),
    /// A field check.
    Check(Check),
}

/// A field check: `field[arg] op value`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Check {
    /// The field name.
    pub(crate) field: String,
    /// The argument between `[` and `]`, unescaped if it was quoted.
    pub(crate) arg: Option<String>,
    /// The operator.
    pub(crate) op: Op,
    /// The right-hand side.
    pub(crate) rhs: Rhs,
}

/// The right-hand side of a check.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Rhs {
    /// None (`exists`).
    None,
    /// One value (`value_expr`).
    Value(Lit),
    /// A parenthesised list (`list_expr`).
    List(Vec<Lit>),
}

/// A literal value of a check, as the parser read it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Lit {
    /// The value, unescaped if it was quoted.
    pub(crate) text: String,
    /// It was a quoted string (`'…'` or `"…"`), not a bare word or number.
    pub(crate) quoted: bool,
}

/// A parse error: libsinsp's message and the byte offset where the parser stopped.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub(crate) msg: String,
    pub(crate) pos: usize,
}

const MAX_DEPTH: u32 = 1000; // rule_loader_compiler.cpp parse_condition: p.set_max_depth(1000)
const UNARY_OPS: &[&str] = &["exists"];
const NUM_OPS: &[&str] = &["<=", "<", ">=", ">"];
const STR_OPS: &[&str] = &[
    "==",
    "=",
    "!=",
    "glob ",
    "iglob ",
    "contains ",
    "icontains ",
    "bcontains ",
    "startswith ",
    "bstartswith ",
    "endswith ",
    "regex ",
];
const LIST_OPS: &[&str] = &["intersects", "in", "pmatch"];
const TRANSFORMERS: &[&str] = &[
    "val(",
    "tolower(",
    "toupper(",
    "b64(",
    "basename(",
    "len(",
    "join(",
];

/// Parses a condition into an AST (libsinsp `parser::parse`).
pub(crate) fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        s: input.as_bytes(),
        input,
        pos: 0,
        depth: 0,
        last: String::new(),
        last_quoted: false,
    };
    if input.is_empty() {
        return Err(p.err("filter input string is empty"));
    }
    let res = p.parse_or()?;
    if p.pos != p.s.len() {
        let msg = format!("unexpected token after '{}', expecting 'or', 'and'", p.last);
        return Err(p.err(&msg));
    }
    Ok(res)
}

struct Parser<'a> {
    s: &'a [u8],
    input: &'a str,
    pos: usize,
    depth: u32,
    last: String,
    /// The last token was a quoted string (`lex_quoted_str`).
    last_quoted: bool,
}

fn is_posix_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

type Res<T> = Result<T, ParseError>;

impl Parser<'_> {
    fn err(&self, msg: &str) -> ParseError {
        ParseError {
            msg: msg.to_string(),
            pos: self.pos,
        }
    }

    fn peek(&self, off: usize) -> Option<u8> {
        self.s.get(self.pos + off).copied()
    }

    fn guard<T>(&mut self, f: impl FnOnce(&mut Self) -> Res<T>) -> Res<T> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return Err(self.err(&format!("exceeded max depth limit of {MAX_DEPTH}")));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn take(&mut self, len: usize) -> bool {
        self.last = self.input[self.pos..self.pos + len].to_string();
        self.last_quoted = false;
        self.pos += len;
        true
    }

    /// The last token as a literal value.
    fn lit(&self) -> Lit {
        Lit {
            text: self.last.clone(),
            quoted: self.last_quoted,
        }
    }

    // ---- lexers -------------------------------------------------------------------------

    fn lex_blank(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(0), Some(b' ' | b'\t' | b'\x08' | b'\r' | b'\n')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn lex_str(&mut self, lit: &str) -> bool {
        self.s[self.pos..].starts_with(lit.as_bytes()) && self.take(lit.len())
    }

    fn lex_str_list(&mut self, list: &[&str]) -> bool {
        list.iter().any(|l| self.lex_str(l))
    }

    fn at_transformer(&self) -> bool {
        TRANSFORMERS
            .iter()
            .any(|t| self.s[self.pos..].starts_with(t.as_bytes()))
    }

    fn ident_len(&self, from: usize) -> usize {
        let s = &self.s[from..];
        if !s.first().is_some_and(u8::is_ascii_alphabetic) {
            return 0;
        }
        1 + s[1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count()
    }

    /// `not[[:space:]]+`
    fn lex_not_blank(&mut self) -> bool {
        if !self.s[self.pos..].starts_with(b"not") {
            return false;
        }
        let n = self.s[self.pos + 3..]
            .iter()
            .take_while(|c| is_posix_space(**c))
            .count();
        n > 0 && self.take(3 + n)
    }

    /// `[a-zA-Z]+[a-zA-Z0-9_]*`
    fn lex_identifier(&mut self) -> bool {
        let n = self.ident_len(self.pos);
        n > 0 && self.take(n)
    }

    /// `[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+`
    fn lex_field_name(&mut self) -> bool {
        let mut end = self.pos + self.ident_len(self.pos);
        if end == self.pos {
            return false;
        }
        let mut segments = 0;
        while self.s.get(end) == Some(&b'.') {
            let n = self.ident_len(end + 1);
            if n == 0 {
                break;
            }
            end += 1 + n;
            segments += 1;
        }
        segments > 0 && self.take(end - self.pos)
    }

    fn lex_class(&mut self, excluded: impl Fn(u8) -> bool) -> bool {
        let n = self.s[self.pos..]
            .iter()
            .take_while(|c| !excluded(**c))
            .count();
        n > 0 && self.take(n)
    }

    /// `[^][\"'[:space:]]+`
    fn lex_field_arg_bare_str(&mut self) -> bool {
        self.lex_class(|c| matches!(c, b'[' | b']' | b'"' | b'\'') || is_posix_space(c))
    }

    /// `[^()\"'[:space:]=,]+`
    fn lex_bare_str(&mut self) -> bool {
        self.lex_class(|c| {
            matches!(c, b'(' | b')' | b'"' | b'\'' | b'=' | b',') || is_posix_space(c)
        })
    }

    /// `0[xX][0-9a-fA-F]+`
    fn lex_hex_num(&mut self) -> bool {
        let s = &self.s[self.pos..];
        if s.len() < 3 || s[0] != b'0' || !matches!(s[1], b'x' | b'X') {
            return false;
        }
        let n = s[2..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        n > 0 && self.take(2 + n)
    }

    /// `[+\-]?[0-9]+[\.]?[0-9]*([eE][+\-][0-9]+)?`
    fn lex_num(&mut self) -> bool {
        let s = &self.s[self.pos..];
        let digits = |from: usize| {
            s[from.min(s.len())..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count()
        };
        let mut i = usize::from(matches!(s.first(), Some(b'+' | b'-')));
        let n = digits(i);
        if n == 0 {
            return false;
        }
        i += n;
        if s.get(i) == Some(&b'.') {
            i += 1;
        }
        i += digits(i);
        if matches!(s.get(i), Some(b'e' | b'E')) && matches!(s.get(i + 1), Some(b'+' | b'-')) {
            let e = digits(i + 2);
            if e > 0 {
                i += 2 + e;
            }
        }
        self.take(i)
    }

    /// `parser::lex_quoted_str`: scans to the first unescaped delimiter, then `unescape_str`.
    fn lex_quoted_str(&mut self) -> Res<bool> {
        let Some(delim @ (b'\'' | b'"')) = self.peek(0) else {
            return Ok(false);
        };
        let mut prev = b'\\';
        let mut i = self.pos;
        while i < self.s.len() {
            let c = self.s[i];
            if c == delim && prev != b'\\' {
                let token = &self.input[self.pos..=i];
                self.pos = i + 1;
                self.last = unescape_str(token).map_err(|m| self.err(&m))?;
                self.last_quoted = true;
                return Ok(true);
            }
            prev = c;
            i += 1;
        }
        Ok(false)
    }

    // ---- grammar ------------------------------------------------------------------------

    fn parse_or(&mut self) -> Res<Expr> {
        self.guard(|p| {
            p.lex_blank();
            let mut children = vec![p.parse_and()?];
            p.lex_blank();
            while p.lex_str("or") {
                let child = if !p.lex_blank() {
                    if p.lex_str("(") {
                        p.parse_embedded_remainder()?
                    } else {
                        return Err(p.err("expected blank or '(' after 'or'"));
                    }
                } else {
                    p.parse_and()?
                };
                children.push(child);
                p.lex_blank();
            }
            Ok(if children.len() > 1 {
                Expr::Or(children)
            } else {
                children.remove(0)
            })
        })
    }

    fn parse_and(&mut self) -> Res<Expr> {
        self.guard(|p| {
            p.lex_blank();
            let mut children = vec![p.parse_not()?];
            p.lex_blank();
            while p.lex_str("and") {
                let child = if !p.lex_blank() {
                    if p.lex_str("(") {
                        p.parse_embedded_remainder()?
                    } else {
                        return Err(p.err("expected blank or '(' after 'and'"));
                    }
                } else {
                    p.parse_not()?
                };
                children.push(child);
                p.lex_blank();
            }
            Ok(if children.len() > 1 {
                Expr::And(children)
            } else {
                children.remove(0)
            })
        })
    }

    fn parse_not(&mut self) -> Res<Expr> {
        self.guard(|p| {
            let mut is_not = false;
            p.lex_blank();
            while p.lex_not_blank() {
                is_not = !is_not;
            }
            let child = if p.lex_str("not(") {
                is_not = !is_not;
                p.parse_embedded_remainder()?
            } else {
                p.parse_check()?
            };
            Ok(if is_not {
                Expr::Not(Box::new(child))
            } else {
                child
            })
        })
    }

    fn parse_embedded_remainder(&mut self) -> Res<Expr> {
        self.guard(|p| {
            p.lex_blank();
            let child = p.parse_or()?;
            p.lex_blank();
            if !p.lex_str(")") {
                return Err(p.err("expected a ')' token"));
            }
            Ok(child)
        })
    }

    fn unsupported_transformer(&self) -> ParseError {
        self.err("field transformers (val(), tolower(), toupper(), b64(), basename(), len(), join()) are not supported by rules-eval")
    }

    fn parse_check(&mut self) -> Res<Expr> {
        self.guard(|p| {
            p.lex_blank();
            if p.lex_str("(") {
                return p.parse_embedded_remainder();
            }
            if p.lex_field_name() {
                let field = p.last.clone();
                let arg = p.parse_field_remainder()?;
                return p.parse_condition(field, arg);
            }
            if p.at_transformer() {
                return Err(p.unsupported_transformer());
            }
            if p.lex_identifier() {
                return Ok(Expr::Ident(p.last.clone()));
            }
            Err(p.err("expected a '(' token, a field check, or an identifier"))
        })
    }

    fn parse_field_remainder(&mut self) -> Res<Option<String>> {
        self.guard(|p| {
            if !p.lex_str("[") {
                return Ok(None);
            }
            if !p.lex_quoted_str()? && !p.lex_field_arg_bare_str() {
                return Err(
                    p.err("expected a valid field argument: a quoted string or a bare string")
                );
            }
            let arg = p.last.clone();
            if !p.lex_str("]") {
                return Err(p.err("expected a ']' token"));
            }
            Ok(Some(arg))
        })
    }

    fn parse_condition(&mut self, field: String, arg: Option<String>) -> Res<Expr> {
        self.guard(|p| {
            p.lex_blank();
            let (token, rhs) = if p.lex_str_list(UNARY_OPS) {
                (p.last.clone(), Rhs::None)
            } else {
                p.lex_blank();
                if p.lex_str_list(NUM_OPS) {
                    (p.last.clone(), p.parse_num_value()?)
                } else if p.lex_str_list(STR_OPS) {
                    (p.last.clone(), p.parse_str_value(false)?)
                } else if p.lex_str_list(LIST_OPS) {
                    (p.last.clone(), p.parse_list_value()?)
                } else {
                    let all: Vec<String> = UNARY_OPS
                        .iter()
                        .chain(NUM_OPS)
                        .chain(STR_OPS)
                        .chain(LIST_OPS)
                        .map(|o| format!("'{}'", o.trim()))
                        .collect();
                    let msg = format!("expected a valid check operator: one of {}", all.join(", "));
                    return Err(p.err(&msg));
                }
            };
            let op =
                Op::from_token(token.trim()).expect("operator tables only hold known operators");
            Ok(Expr::Check(Check {
                field,
                arg,
                op,
                rhs,
            }))
        })
    }

    fn parse_num_value(&mut self) -> Res<Rhs> {
        self.guard(|p| {
            p.lex_blank();
            if p.at_transformer() {
                return Err(p.unsupported_transformer());
            }
            if p.lex_hex_num() || p.lex_num() {
                return Ok(Rhs::Value(p.lit()));
            }
            Err(p.err("expected a number value or a field with a valid transformer"))
        })
    }

    fn parse_str_value(&mut self, no_transformer: bool) -> Res<Rhs> {
        self.guard(|p| {
            p.lex_blank();
            if !no_transformer && p.at_transformer() {
                return Err(p.unsupported_transformer());
            }
            if p.lex_quoted_str()? || p.lex_bare_str() {
                return Ok(Rhs::Value(p.lit()));
            }
            Err(p.err(if no_transformer {
                "expected a string value"
            } else {
                "expected a string value or a field with a valid transformer"
            }))
        })
    }

    fn parse_list_value(&mut self) -> Res<Rhs> {
        self.guard(|p| {
            p.lex_blank();
            if p.lex_str("(") {
                let mut values = Vec::new();
                p.lex_blank();
                // parse_list_value_or_transformer: a failing head means an empty list
                if let Ok(Rhs::Value(v)) = p.parse_str_value(true) {
                    values.push(v);
                    p.lex_blank();
                    while p.lex_str(",") {
                        if let Rhs::Value(v) = p.parse_str_value(true)? {
                            values.push(v);
                        }
                        p.lex_blank();
                    }
                }
                if !p.lex_str(")") {
                    return Err(p.err("expected a ')' token"));
                }
                return Ok(Rhs::List(values));
            }
            if p.at_transformer() {
                return Err(p.unsupported_transformer());
            }
            if p.lex_identifier() {
                return Ok(Rhs::Value(p.lit()));
            }
            Err(p.err("expected a list, an identifier, or a field with a valid transformer"))
        })
    }
}

/// libsinsp `unescape_str` (`filter/escaping.cpp`) on a token that still has its quotes.
fn unescape_str(token: &str) -> Result<String, String> {
    let delim = token.chars().next().unwrap_or('"');
    let inner = &token[1..token.len() - 1];
    let mut res = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if !escaped {
            if c == '\\' {
                escaped = true;
            } else {
                res.push(c);
            }
            continue;
        }
        match c {
            'b' => res.push('\x08'),
            'f' => res.push('\x0c'),
            'n' => res.push('\n'),
            'r' => res.push('\r'),
            't' => res.push('\t'),
            // escaping.cpp: `case ' ':` falls through to `case '\\':` (kept for old rules)
            ' ' | '\\' => res.push('\\'),
            '/' => res.push('/'),
            '"' | '\'' if c != delim => {
                return Err(if c == '"' {
                    "invalid \\\" escape in '-quoted string".to_string()
                } else {
                    "invalid \\' escape in \"-quoted string".to_string()
                })
            }
            '"' | '\'' => res.push(c),
            _ => return Err(format!("unsupported string escape sequence: \\{c}")),
        }
        escaped = false;
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chk(field: &str, op: Op, rhs: Rhs) -> Expr {
        Expr::Check(Check {
            field: field.into(),
            arg: None,
            op,
            rhs,
        })
    }

    fn bare(v: &str) -> Lit {
        Lit {
            text: v.into(),
            quoted: false,
        }
    }

    fn quoted(v: &str) -> Lit {
        Lit {
            text: v.into(),
            quoted: true,
        }
    }

    /// A bare (unquoted) value.
    fn val(v: &str) -> Rhs {
        Rhs::Value(bare(v))
    }

    /// A quoted value.
    fn qval(v: &str) -> Rhs {
        Rhs::Value(quoted(v))
    }

    fn id(s: &str) -> Expr {
        Expr::Ident(s.into())
    }

    fn err(input: &str) -> String {
        parse(input).expect_err(input).msg
    }

    #[test]
    fn precedence_not_over_and_over_or() {
        // a or b and not c  ==  a or (b and (not c))
        assert_eq!(
            parse("a or b and not c").unwrap(),
            Expr::Or(vec![
                id("a"),
                Expr::And(vec![id("b"), Expr::Not(Box::new(id("c")))])
            ])
        );
        // not binds to the check only: not a and b == (not a) and b
        assert_eq!(
            parse("not a and b").unwrap(),
            Expr::And(vec![Expr::Not(Box::new(id("a"))), id("b")])
        );
        // chains are flat (n-ary), parentheses group
        assert_eq!(
            parse("(a or b) and c and d").unwrap(),
            Expr::And(vec![Expr::Or(vec![id("a"), id("b")]), id("c"), id("d")])
        );
        // double negation cancels out, `not(` needs no blank
        assert_eq!(parse("not not a").unwrap(), id("a"));
        assert_eq!(parse("not(a)").unwrap(), Expr::Not(Box::new(id("a"))));
        assert_eq!(
            parse("a and(b or c)").unwrap(),
            Expr::And(vec![id("a"), Expr::Or(vec![id("b"), id("c")])])
        );
    }

    #[test]
    fn keywords_need_blanks() {
        assert_eq!(err("a andb"), "expected blank or '(' after 'and'");
        assert_eq!(err("a orb"), "expected blank or '(' after 'or'");
        // `notx` is an identifier, not a negation
        assert_eq!(parse("notx").unwrap(), id("notx"));
        assert_eq!(
            err("a b"),
            "unexpected token after 'a', expecting 'or', 'and'"
        );
        assert_eq!(err(""), "filter input string is empty");
        assert_eq!(err("(a"), "expected a ')' token");
        assert_eq!(err("a and"), "expected blank or '(' after 'and'");
        assert_eq!(
            err("a and "),
            "expected a '(' token, a field check, or an identifier"
        );
    }

    #[test]
    fn operators_and_values() {
        assert_eq!(
            parse("kar.verb=CREATE").unwrap(),
            chk("kar.verb", Op::Eq, val("CREATE"))
        );
        assert_eq!(
            parse("kar.verb == CREATE").unwrap(),
            chk("kar.verb", Op::Eq, val("CREATE"))
        );
        assert_eq!(
            parse("kar.verb!=x").unwrap(),
            chk("kar.verb", Op::Ne, val("x"))
        );
        assert_eq!(
            parse("a.b exists").unwrap(),
            chk("a.b", Op::Exists, Rhs::None)
        );
        assert_eq!(parse("a.b <= 10").unwrap(), chk("a.b", Op::Le, val("10")));
        assert_eq!(parse("a.b>0x1F").unwrap(), chk("a.b", Op::Gt, val("0x1F")));
        assert_eq!(
            parse("a.b < -1.5e+3").unwrap(),
            chk("a.b", Op::Lt, val("-1.5e+3"))
        );
        assert_eq!(
            parse("a.b startswith /etc").unwrap(),
            chk("a.b", Op::StartsWith, val("/etc"))
        );
        assert_eq!(
            parse("a.b glob 'x*'").unwrap(),
            chk("a.b", Op::Glob, qval("x*"))
        );
        // numeric operators only take numbers
        assert!(err("a.b < abc").starts_with("expected a number value"));
        // word operators need a literal space after them
        assert!(err("a.b contains\tx").starts_with("expected a valid check operator"));
        assert!(
            err("a.b foo x").starts_with("expected a valid check operator: one of 'exists', '<='")
        );
        // a bare value stops at blanks, parentheses, commas, quotes and '='
        assert_eq!(
            parse("a.b = x) ").map_err(|e| e.msg).unwrap_err(),
            "unexpected token after 'x', expecting 'or', 'and'"
        );
        assert_eq!(
            parse("a.b=system:admin").unwrap(),
            chk("a.b", Op::Eq, val("system:admin"))
        );
    }

    #[test]
    fn lists() {
        let l = |v: &[&str]| Rhs::List(v.iter().map(|s| bare(s)).collect());
        assert_eq!(
            parse("a.b in (x, 'y z',\"w\")").unwrap(),
            chk(
                "a.b",
                Op::In,
                Rhs::List(vec![bare("x"), quoted("y z"), quoted("w")])
            )
        );
        assert_eq!(parse("a.b in()").unwrap(), chk("a.b", Op::In, l(&[])));
        assert_eq!(
            parse("a.b intersects (x)").unwrap(),
            chk("a.b", Op::Intersects, l(&["x"]))
        );
        assert_eq!(
            parse("a.b pmatch (/etc, /usr)").unwrap(),
            chk("a.b", Op::PMatch, l(&["/etc", "/usr"]))
        );
        // a single identifier is accepted as a one-value set
        assert_eq!(parse("a.b in foo").unwrap(), chk("a.b", Op::In, val("foo")));
        // `intersects` is lexed before `in`
        assert_eq!(
            parse("a.b intersects(x)").unwrap(),
            chk("a.b", Op::Intersects, l(&["x"]))
        );
        assert_eq!(err("a.b in (x,)"), "expected a string value");
        assert_eq!(err("a.b in (x y)"), "expected a ')' token");
        assert!(err("a.b in 'x'").starts_with("expected a list, an identifier"));
    }

    #[test]
    fn escapes() {
        assert_eq!(
            parse(r#"a.b = "x\"y""#).unwrap(),
            chk("a.b", Op::Eq, qval("x\"y"))
        );
        assert_eq!(
            parse(r"a.b = 'x\'y'").unwrap(),
            chk("a.b", Op::Eq, qval("x'y"))
        );
        assert_eq!(
            parse(r#"a.b = "t\tn\nb\\s\/""#).unwrap(),
            chk("a.b", Op::Eq, qval("t\tn\nb\\s/"))
        );
        // `\ ` becomes a single backslash (escaping.cpp fall-through)
        assert_eq!(
            parse(r#"a.b = "x\ y""#).unwrap(),
            chk("a.b", Op::Eq, qval("x\\y"))
        );
        assert_eq!(
            err(r#"a.b = 'x\"y'"#),
            "invalid \\\" escape in '-quoted string"
        );
        assert_eq!(
            err(r#"a.b = "x\'y""#),
            "invalid \\' escape in \"-quoted string"
        );
        assert_eq!(
            err(r#"a.b = "x\qy""#),
            "unsupported string escape sequence: \\q"
        );
        // an unterminated quote is not a string; the bare-string lexer refuses quotes
        assert!(err(r#"a.b = "abc"#).starts_with("expected a string value"));
    }

    #[test]
    fn field_arguments() {
        let with_arg = |f: &str, a: &str, op: Op, rhs: Rhs| {
            Expr::Check(Check {
                field: f.into(),
                arg: Some(a.into()),
                op,
                rhs,
            })
        };
        assert_eq!(
            parse("kar.value[/request/object/metadata/name] = x").unwrap(),
            with_arg(
                "kar.value",
                "/request/object/metadata/name",
                Op::Eq,
                val("x")
            )
        );
        assert_eq!(
            parse("kar.req.pod.containers.image[0] startswith docker.io/").unwrap(),
            with_arg(
                "kar.req.pod.containers.image",
                "0",
                Op::StartsWith,
                val("docker.io/")
            )
        );
        assert_eq!(
            parse("kar.req.volume.hostpath[/etc*]=true").unwrap(),
            with_arg("kar.req.volume.hostpath", "/etc*", Op::Eq, val("true"))
        );
        assert_eq!(
            parse("kar.value['/a b'] exists").unwrap(),
            with_arg("kar.value", "/a b", Op::Exists, Rhs::None)
        );
        // a bare argument stops at the first ']' (no nesting)
        assert_eq!(err("kar.value[/a[0]] exists"), "expected a ']' token");
        assert_eq!(
            err("kar.value[] exists"),
            "expected a valid field argument: a quoted string or a bare string"
        );
        // a name needs a dot to be a field; a trailing dot is left over
        assert_eq!(parse("kar").unwrap(), id("kar"));
        assert!(err("kar. = x").starts_with("unexpected token after 'kar'"));
    }

    #[test]
    fn transformers_are_rejected() {
        assert!(err("tolower(a.b) = x").contains("not supported by rules-eval"));
        assert!(err("a.b = val(c.d)").contains("not supported by rules-eval"));
    }

    #[test]
    fn depth_is_limited() {
        let deep = format!("{}a{}", "(".repeat(400), ")".repeat(400));
        assert!(err(&deep).starts_with("exceeded max depth limit"));
        let ok = format!("{}a{}", "(".repeat(50), ")".repeat(50));
        assert_eq!(parse(&ok).unwrap(), id("a"));
    }
}
