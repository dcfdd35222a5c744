//! The plugin's field table (`plugin_get_fields`) and field references such as `name[arg]`.

use std::fmt;

use anyhow::{bail, Result};
use falco_plugin_api::{
    ss_plugin_field_type_FTYPE_ABSTIME, ss_plugin_field_type_FTYPE_BOOL,
    ss_plugin_field_type_FTYPE_IPADDR, ss_plugin_field_type_FTYPE_IPNET,
    ss_plugin_field_type_FTYPE_RELTIME, ss_plugin_field_type_FTYPE_STRING,
    ss_plugin_field_type_FTYPE_UINT64,
};
use serde::{Deserialize, Serialize};

/// The argument a field accepts (`arg` of a field table entry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldArgInfo {
    /// The argument is a number (`field[3]`).
    #[serde(rename = "isIndex", default)]
    pub is_index: bool,
    /// The argument is a string key (`field[key]`).
    #[serde(rename = "isKey", default)]
    pub is_key: bool,
    /// The field cannot be used without an argument.
    #[serde(rename = "isRequired", default)]
    pub is_required: bool,
}

/// One entry of the JSON array returned by `plugin_get_fields`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldInfo {
    /// Field name, e.g. `kar.verb`.
    pub name: String,
    /// Type name: `string`, `uint64`, `bool`, `reltime`, `abstime`, `ipaddr` or `ipnet`.
    #[serde(rename = "type")]
    pub field_type: String,
    /// Whether the field extracts a list of values.
    #[serde(rename = "isList", default)]
    pub is_list: bool,
    /// The argument the field accepts, if any.
    #[serde(default)]
    pub arg: Option<FieldArgInfo>,
    /// Description.
    #[serde(default)]
    pub desc: String,
    /// Display name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// Whether the field is suggested for outputs.
    #[serde(rename = "addOutput", default)]
    pub add_output: bool,
    /// Extra properties (`hidden`, `info`, `conversation`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
}

impl FieldInfo {
    /// The `ss_plugin_field_type` code of the field's type (`None` for an unknown type name).
    pub fn type_code(&self) -> Option<u32> {
        Some(match self.field_type.as_str() {
            "uint64" => ss_plugin_field_type_FTYPE_UINT64,
            "string" => ss_plugin_field_type_FTYPE_STRING,
            "reltime" => ss_plugin_field_type_FTYPE_RELTIME,
            "abstime" => ss_plugin_field_type_FTYPE_ABSTIME,
            "bool" => ss_plugin_field_type_FTYPE_BOOL,
            "ipaddr" => ss_plugin_field_type_FTYPE_IPADDR,
            "ipnet" => ss_plugin_field_type_FTYPE_IPNET,
            _ => return None,
        })
    }

    /// True when the field cannot be extracted without an argument.
    pub fn requires_arg(&self) -> bool {
        self.arg.is_some_and(|a| a.is_required)
    }

    /// True when the field accepts an argument.
    pub fn accepts_arg(&self) -> bool {
        self.arg
            .is_some_and(|a| a.is_index || a.is_key || a.is_required)
    }

    /// True when its argument is an index (otherwise, when it accepts one, a key).
    pub fn arg_is_index(&self) -> bool {
        self.arg.is_some_and(|a| a.is_index)
    }
}

/// Parses the JSON text of `plugin_get_fields`.
pub fn parse_field_table(json: &str) -> Result<Vec<FieldInfo>> {
    Ok(serde_json::from_str(json)?)
}

/// A field reference as written in a rule: `name` or `name[arg]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// The field name (before the first `[`).
    pub name: String,
    /// The argument text (between the first `[` and the last `]`), if any.
    pub arg: Option<String>,
}

impl FieldRef {
    /// Parses `name` or `name[arg]`. The argument runs from the first `[` to the LAST `]`,
    /// which must end the text, so it may itself contain `[`, `]`, `/`, `*`, `~`, `.`, `,`.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let Some(open) = text.find('[') else {
            if text.is_empty() {
                bail!("empty field name");
            }
            if text.contains(']') {
                bail!("field `{text}`: `]` without `[`");
            }
            return Ok(Self {
                name: text.to_owned(),
                arg: None,
            });
        };
        let name = &text[..open];
        if name.is_empty() {
            bail!("field `{text}`: empty field name");
        }
        let close = text.rfind(']').filter(|&c| c > open);
        let Some(close) = close else {
            bail!("field `{text}`: `[` without a closing `]`");
        };
        if close != text.len() - 1 {
            bail!("field `{text}`: text after the closing `]`");
        }
        let arg = &text[open + 1..close];
        if arg.is_empty() {
            bail!("field `{text}`: empty argument");
        }
        Ok(Self {
            name: name.to_owned(),
            arg: Some(arg.to_owned()),
        })
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arg {
            Some(arg) => write!(f, "{}[{arg}]", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Splits a comma-separated field list (`a,b[x,y],c`); commas inside brackets do not split.
/// Empty items are dropped.
pub fn split_field_list(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut cur = String::new();
    for c in list.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            ',' if depth == 0 => {
                let item = cur.trim();
                if !item.is_empty() {
                    out.push(item.to_owned());
                }
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    let item = cur.trim();
    if !item.is_empty() {
        out.push(item.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (String, Option<String>) {
        let r = FieldRef::parse(s).unwrap();
        (r.name, r.arg)
    }

    #[test]
    fn plain_and_indexed() {
        assert_eq!(p("kar.verb"), ("kar.verb".into(), None));
        assert_eq!(
            p("kar.req.pod.containers.name[3]"),
            ("kar.req.pod.containers.name".into(), Some("3".into()))
        );
        assert_eq!(
            p(" kar.user.extra[authentication.kubernetes.io/pod-name] "),
            (
                "kar.user.extra".into(),
                Some("authentication.kubernetes.io/pod-name".into())
            )
        );
    }

    #[test]
    fn arg_runs_to_last_bracket() {
        assert_eq!(
            p("kar.value[/request/object/metadata/annotations/a~1b]"),
            (
                "kar.value".into(),
                Some("/request/object/metadata/annotations/a~1b".into())
            )
        );
        assert_eq!(
            p("kar.value[/x[0]/y]"),
            ("kar.value".into(), Some("/x[0]/y".into()))
        );
        assert_eq!(
            p("kar.req.volume.hostpath[/var/run/*]"),
            ("kar.req.volume.hostpath".into(), Some("/var/run/*".into()))
        );
        let r = FieldRef::parse("kar.value[/a]]").unwrap();
        assert_eq!(r.arg.as_deref(), Some("/a]"));
        assert_eq!(r.to_string(), "kar.value[/a]]");
    }

    #[test]
    fn rejects_bad_refs() {
        for bad in ["", "[1]", "a[", "a[]", "a[1]x", "a]", "a]b[", "  "] {
            assert!(FieldRef::parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn splits_lists() {
        assert_eq!(
            split_field_list("a, b[x,y] ,c[/p[0],q],,"),
            vec!["a", "b[x,y]", "c[/p[0],q]"]
        );
        assert!(split_field_list("").is_empty());
    }

    #[test]
    fn parses_field_table() {
        let json = r#"[
            {"name":"kar.verb","type":"string","desc":"verb"},
            {"name":"kar.user.extra","type":"string","isList":true,
             "arg":{"isRequired":true,"isKey":true},"desc":"extra","addOutput":false},
            {"name":"kar.req.pod.containers.name","type":"string","isList":true,
             "arg":{"isIndex":true},"desc":"names","properties":["info"]}
        ]"#;
        let t = parse_field_table(json).unwrap();
        assert_eq!(t.len(), 3);
        assert!(!t[0].accepts_arg() && !t[0].requires_arg() && !t[0].is_list);
        assert_eq!(t[0].type_code(), Some(ss_plugin_field_type_FTYPE_STRING));
        assert!(t[1].requires_arg() && !t[1].arg_is_index() && t[1].is_list);
        assert!(t[2].accepts_arg() && !t[2].requires_arg() && t[2].arg_is_index());
        assert_eq!(t[2].properties, vec!["info"]);
    }
}
