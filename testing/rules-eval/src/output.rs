//! The fields an output format names, following libsinsp `sinsp_evt_formatter::set_format`
//! (`eventformatter.cpp`) and `sinsp_filter_check_plugin::parse_field_name`
//! (`plugin_filtercheck.cpp`).
//!
//! A leading `*` is dropped; each `%` may be followed by a width (digits) and then a field name.
//! The plugin field parser looks at the text up to the next space: if it holds a `[`, that `[`
//! must come right after the field name and the argument runs to the first `]`. So
//! `%kar.verb:%kar.value[/x]` is rejected (the `[` of the second field is in the first field's
//! word), as Falco rejects it. Field names are matched with the filter grammar's field-name
//! pattern; Falco matches the longest *known* field name instead, which only differs for
//! misspelt names (those then fail `Ruleset::check_fields`).

/// Returns the `(field, argument)` pairs named by an output format, or Falco's error.
pub(crate) fn output_fields(fmt: &str) -> Result<Vec<(String, Option<String>)>, String> {
    if fmt.is_empty() {
        return Err("empty formatting token".into());
    }
    let f = fmt.strip_prefix('*').unwrap_or(fmt);
    let b = f.as_bytes();
    let mut out = Vec::new();
    let mut j = 0;
    while j < b.len() {
        if b[j] != b'%' {
            j += 1;
            continue;
        }
        let mut k = j + 1;
        if k == b.len() {
            return Err("invalid formatting syntax: formatting cannot end with a %".into());
        }
        while b[k].is_ascii_digit() {
            k += 1;
            if k == b.len() {
                return Err(
                    "invalid formatting syntax: formatting cannot end with a number".into(),
                );
            }
        }
        let name_len = field_name_len(&b[k..]);
        if name_len == 0 {
            return Err(format!("invalid formatting token {}", &f[k..]));
        }
        let word = f[k..].split(' ').next().unwrap_or_default();
        let name = &word[..name_len];
        let mut consumed = name_len;
        let mut arg = None;
        if let Some(arg_pos) = word.find('[') {
            if arg_pos != name_len {
                return Err(format!(
                    "invalid formatting token {word}: a '[' after '{name}' in the same word is parsed as its argument"
                ));
            }
            let rest = &word[arg_pos + 1..];
            if rest.is_empty() {
                return Err(format!(
                    "'{f}': {name} terminates with incomplete argument brackets"
                ));
            }
            let Some(arg_len) = rest.find(']') else {
                return Err(format!("'{f}': {name} has unbalanced argument brackets"));
            };
            arg = Some(rest[..arg_len].to_string());
            consumed = arg_pos + arg_len + 2;
        }
        out.push((name.to_string(), arg));
        j = k + consumed;
    }
    Ok(out)
}

/// Length of the field name at the start of `s`: `[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+`.
fn field_name_len(s: &[u8]) -> usize {
    let ident = |from: usize| -> usize {
        match s.get(from) {
            Some(c) if c.is_ascii_alphabetic() => {
                1 + s[from + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count()
            }
            _ => 0,
        }
    };
    let mut end = ident(0);
    if end == 0 {
        return 0;
    }
    let mut segments = 0;
    while s.get(end) == Some(&b'.') {
        let n = ident(end + 1);
        if n == 0 {
            break;
        }
        end += 1 + n;
        segments += 1;
    }
    if segments > 0 {
        end
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Vec<(String, Option<String>)> {
        output_fields(s).unwrap()
    }

    fn p(name: &str, arg: Option<&str>) -> (String, Option<String>) {
        (name.to_string(), arg.map(str::to_string))
    }

    #[test]
    fn fields_and_arguments() {
        assert_eq!(
            f("User %kar.user.name (groups=%kar.user.groups) made %kar.verb, image=%kar.req.pod.containers.image[0]"),
            vec![
                p("kar.user.name", None),
                p("kar.user.groups", None),
                p("kar.verb", None),
                p("kar.req.pod.containers.image", Some("0")),
            ]
        );
        assert_eq!(
            f("*app=%kar.value[/request/object/metadata/labels/app] x=%10kar.uid."),
            vec![
                p("kar.value", Some("/request/object/metadata/labels/app")),
                p("kar.uid", None)
            ]
        );
        assert_eq!(f("no fields"), vec![]);
    }

    #[test]
    fn falco_rejections() {
        assert!(output_fields("").is_err());
        assert!(output_fields("100%")
            .unwrap_err()
            .contains("cannot end with a %"));
        assert!(output_fields("x %12")
            .unwrap_err()
            .contains("cannot end with a number"));
        assert!(output_fields("x % y")
            .unwrap_err()
            .starts_with("invalid formatting token"));
        assert!(output_fields("%kar.value[/a")
            .unwrap_err()
            .contains("unbalanced"));
        assert!(output_fields("%kar.value[")
            .unwrap_err()
            .contains("incomplete"));
        assert!(output_fields("%kar.verb:%kar.value[/x]")
            .unwrap_err()
            .contains("same word"));
        // a space ends the word: this one is fine
        assert_eq!(
            f("%kar.verb %kar.value[/x]"),
            vec![p("kar.verb", None), p("kar.value", Some("/x"))]
        );
    }
}
