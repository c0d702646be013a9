//! `--format` as docker reads it, for every command that lists or shows things: `table` (the
//! command's columns), `table TEMPLATE` (a Go template's columns under docker's headers),
//! `json` (one JSON object a line), or a Go template per item. `\t` and `\n` in the text are
//! a tab and a newline, as in docker. Columns are aligned as docker's tabwriter does.

use anyhow::{anyhow, Context as _};
use gtmpl::{Func, FuncError, Template, Value};
use serde_json::Value as Json;
use std::collections::HashMap;

/// A command's table: its default columns and the header of each field.
pub struct Columns {
    /// The default template, tab-separated, without `table`.
    pub default: &'static str,
    /// Field name → column header (docker's); other fields get their name in capitals.
    pub headers: &'static [(&'static str, &'static str)],
}

impl Columns {
    /// For what has no table of its own (`inspect`): `table` lists the template's fields.
    pub const NONE: Columns = Columns {
        default: "",
        headers: &[],
    };
}

/// How items are printed.
enum Shape {
    Table(String),
    Lines(String),
    Json,
}

fn shape(format: Option<&str>, columns: &Columns) -> Shape {
    let escaped = |t: &str| t.trim().replace("\\t", "\t").replace("\\n", "\n");
    match format.map(str::trim) {
        None | Some("") | Some("table") => Shape::Table(columns.default.to_string()),
        Some("json") => Shape::Json,
        Some(f) => match f.strip_prefix("table ") {
            Some(t) => Shape::Table(escaped(t)),
            None => Shape::Lines(escaped(f)),
        },
    }
}

/// Prints `items` (each a JSON object of docker's fields) as `format` asks.
pub fn print(format: Option<&str>, items: &[Json], columns: &Columns) -> anyhow::Result<()> {
    print!("{}", render(format, items, columns)?);
    Ok(())
}

/// The text [`print`] prints.
pub fn render(format: Option<&str>, items: &[Json], columns: &Columns) -> anyhow::Result<String> {
    match shape(format, columns) {
        Shape::Json => {
            let mut out = String::new();
            for i in items {
                out.push_str(&serde_json::to_string(i)?);
                out.push('\n');
            }
            Ok(out)
        }
        Shape::Lines(t) => {
            let tmpl = parse(&t)?;
            let mut out = String::new();
            for i in items {
                out.push_str(&execute(&tmpl, i)?);
                out.push('\n');
            }
            Ok(out)
        }
        Shape::Table(t) => {
            let tmpl = parse(&t)?;
            let mut lines = vec![execute(&tmpl, &header_item(&t, columns))?];
            for i in items {
                lines.push(execute(&tmpl, i)?);
            }
            Ok(align(&lines))
        }
    }
}

/// An item whose every field is its column header: the header line is the template
/// executed on it, as docker makes it.
fn header_item(template: &str, columns: &Columns) -> Json {
    let mut m = serde_json::Map::new();
    for part in template.split("{{").skip(1) {
        let action = part.split("}}").next().unwrap_or_default();
        for word in action.split_whitespace() {
            let Some(field) = word.strip_prefix('.').and_then(|f| f.split('.').next()) else {
                continue;
            };
            if field.is_empty() {
                continue;
            }
            let header = columns
                .headers
                .iter()
                .find(|(f, _)| *f == field)
                .map_or_else(|| field.to_ascii_uppercase(), |(_, h)| h.to_string());
            m.insert(field.to_string(), Json::String(header));
        }
    }
    Json::Object(m)
}

fn parse(text: &str) -> anyhow::Result<Template> {
    let mut t = Template::default();
    t.add_funcs(&FUNCS);
    t.parse(text)
        .map_err(|e| anyhow!("--format {text:?}: {e}"))?;
    Ok(t)
}

fn execute(t: &Template, item: &Json) -> anyhow::Result<String> {
    t.render(&gtmpl::Context::from(to_template(item)))
        .context("--format")
}

/// docker's template functions beyond Go's own.
const FUNCS: [(&str, Func); 8] = [
    ("json", json),
    ("join", join),
    ("upper", |a| text_fn("upper", a, |s| s.to_uppercase())),
    ("lower", |a| text_fn("lower", a, |s| s.to_lowercase())),
    ("title", |a| text_fn("title", a, title)),
    ("split", split),
    ("truncate", truncate),
    ("pad", pad),
];

fn arg_str(name: &str, args: &[Value], i: usize) -> Result<String, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(v) => Ok(v.to_string()),
        None => Err(FuncError::AtLeastXArgs(name.into(), i + 1)),
    }
}

fn arg_usize(name: &str, args: &[Value], i: usize) -> Result<usize, FuncError> {
    arg_str(name, args, i)?
        .parse()
        .map_err(|_| FuncError::Generic(format!("{name}: argument {} is not a count", i + 1)))
}

fn text_fn(name: &str, args: &[Value], f: fn(&str) -> String) -> Result<Value, FuncError> {
    Ok(Value::String(f(&arg_str(name, args, 0)?)))
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    out
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    let v = args
        .first()
        .ok_or_else(|| FuncError::ExactlyXArgs("json".into(), 1))?;
    serde_json::to_string(&from_template(v))
        .map(Value::String)
        .map_err(|e| FuncError::Generic(e.to_string()))
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = arg_str("join", args, 1)?;
    match args.first() {
        Some(Value::Array(items)) => Ok(Value::String(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect::<Vec<_>>()
                .join(&sep),
        )),
        Some(Value::String(s)) => Ok(Value::String(s.clone())),
        _ => Err(FuncError::Generic(
            "join: want a list and a separator".into(),
        )),
    }
}

fn split(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str("split", args, 0)?;
    let sep = arg_str("split", args, 1)?;
    Ok(Value::Array(
        s.split(sep.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect(),
    ))
}

fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str("truncate", args, 0)?;
    let n = arg_usize("truncate", args, 1)?;
    Ok(Value::String(s.chars().take(n).collect()))
}

fn pad(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str("pad", args, 0)?;
    let left = arg_usize("pad", args, 1)?;
    let right = arg_usize("pad", args, 2)?;
    Ok(Value::String(format!(
        "{}{s}{}",
        " ".repeat(left),
        " ".repeat(right)
    )))
}

/// JSON as the template engine holds it.
pub fn to_template(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Value::from(u),
            (_, Some(i), _) => Value::from(i),
            (_, _, f) => Value::from(f.unwrap_or_default()),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(to_template).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), to_template(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

fn from_template(v: &Value) -> Json {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => serde_json::from_str(&n.to_string()).unwrap_or(Json::Null),
        Value::Array(a) => Json::Array(a.iter().map(from_template).collect()),
        Value::Object(m) | Value::Map(m) => {
            // Sorted keys, as Go's encoder writes a map.
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Json::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), from_template(&m[k])))
                    .collect(),
            )
        }
    }
}

/// Lines of tab-separated cells in columns, as docker's tabwriter (minimum width 10,
/// padding 3) lays them out; a cell that ends its line is not padded.
fn align(lines: &[String]) -> String {
    const MIN: usize = 10;
    const PAD: usize = 3;
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            let w = (c.chars().count() + PAD).max(MIN);
            match widths.get_mut(i) {
                Some(old) => *old = (*old).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                out.push_str(&format!("{c:<w$}", w = widths[i]));
            } else {
                out.push_str(c);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COLS: Columns = Columns {
        default: "{{.ID}}\t{{.Names}}",
        headers: &[("ID", "CONTAINER ID"), ("Names", "NAMES")],
    };

    fn items() -> Vec<Json> {
        vec![
            json!({"ID": "abc", "Names": "web", "Labels": {"a": "1"}, "List": ["x", "y"], "N": 3}),
            json!({"ID": "defghijklmnop", "Names": "db", "Labels": {}, "List": [], "N": 4}),
        ]
    }

    fn r(f: &str) -> String {
        render(Some(f), &items(), &COLS).unwrap()
    }

    #[test]
    fn tables_align_under_dockers_headers() {
        assert_eq!(
            render(None, &items(), &COLS).unwrap(),
            "CONTAINER ID    NAMES\nabc             web\ndefghijklmnop   db\n"
        );
        assert_eq!(
            r("table {{.Names}}\\t{{.N}}"),
            "NAMES     N\nweb       3\ndb        4\n"
        );
    }

    #[test]
    fn templates_and_functions() {
        assert_eq!(r("{{.ID}}: {{.Names}}"), "abc: web\ndefghijklmnop: db\n");
        assert_eq!(r("{{upper .Names}}|{{lower \"A\"}}"), "WEB|a\nDB|a\n");
        assert_eq!(r("{{join .List \",\"}}"), "x,y\n\n");
        assert_eq!(r("{{index .Labels \"a\"}}"), "1\n<no value>\n");
        assert_eq!(r("{{json .Labels}}"), "{\"a\":\"1\"}\n{}\n");
        assert_eq!(
            r("{{if eq .N 3}}three{{else}}other{{end}}"),
            "three\nother\n"
        );
        assert_eq!(r("{{range .List}}[{{.}}]{{end}}"), "[x][y]\n\n");
        assert_eq!(
            r("{{truncate .ID 2}} {{title \"ab cd\"}}"),
            "ab Ab Cd\nde Ab Cd\n"
        );
        assert_eq!(r("{{len (split \"a:b:c\" \":\")}}"), "3\n3\n");
        assert_eq!(r("json").lines().count(), 2);
        let first: Json = serde_json::from_str(r("json").lines().next().unwrap()).unwrap();
        assert_eq!(first["ID"], "abc");
        assert_eq!(
            r("{{json .}}").lines().next().unwrap(),
            serde_json::to_string(&items()[0]).unwrap()
        );
    }

    #[test]
    fn a_bad_template_is_one_error() {
        let e = render(Some("{{.ID"), &items(), &COLS)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--format"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
