//! Variable substitution as the Dockerfile reference defines it: `$NAME`, `${NAME}`,
//! `${NAME:-default}`, `${NAME-default}`, `${NAME:+alternative}`, `${NAME+alternative}`,
//! `${NAME:?message}`; nothing inside single quotes; the escape character keeps the next
//! character as it is. What is substituted stays one word: its spaces, quotes and
//! backslashes are escaped, so the word reader that runs next keeps it whole.

/// Expands `s`; `var` gives a variable's value (None when it is not set).
pub fn expand(
    s: &str,
    escape: char,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if quote == Some('\'') {
            if c == '\'' {
                quote = None;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == escape {
            out.push(c);
            if let Some(n) = chars.get(i + 1) {
                out.push(*n);
            }
            i += 2;
            continue;
        }
        match c {
            '\'' | '"' if quote.is_none() => quote = Some(c),
            '"' if quote == Some('"') => quote = None,
            '$' => {
                let (value, used) = variable(&chars[i + 1..], escape, var)?;
                if used == 0 {
                    out.push('$');
                } else {
                    push_literal(&mut out, &value, quote == Some('"'));
                }
                i += 1 + used;
                continue;
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

/// Expands the variables of a heredoc's body: quotes mean nothing there, `\$` is a `$`,
/// and values go in as they are.
pub fn expand_text(s: &str, var: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if chars.get(i + 1) == Some(&'$') => {
                out.push('$');
                i += 2;
            }
            '$' => {
                let (value, used) = variable(&chars[i + 1..], '\\', var)?;
                match used {
                    0 => out.push('$'),
                    _ => out.push_str(&value),
                }
                i += 1 + used;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The value of the reference at the start of `s` (after a `$`) and how many characters
/// it took; 0 when `$` starts no reference.
fn variable(
    s: &[char],
    escape: char,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, usize), String> {
    let name_len = |s: &[char]| {
        s.iter()
            .enumerate()
            .take_while(|(i, c)| {
                c.is_ascii_alphabetic() || **c == '_' || *i > 0 && c.is_ascii_digit()
            })
            .count()
    };
    if s.first() != Some(&'{') {
        let n = name_len(s);
        let name: String = s[..n].iter().collect();
        return Ok((var(&name).unwrap_or_default(), n));
    }
    let n = name_len(&s[1..]);
    let name: String = s[1..1 + n].iter().collect();
    // The closing brace, past nested references.
    let mut depth = 0;
    let mut end = None;
    let mut j = 1 + n;
    while j < s.len() {
        match s[j] {
            c if c == escape => j += 1,
            '{' => depth += 1,
            '}' if depth == 0 => {
                end = Some(j);
                break;
            }
            '}' => depth -= 1,
            _ => {}
        }
        j += 1;
    }
    let Some(end) = end else {
        return Err(format!("missing '}}' in ${{{name}"));
    };
    if n == 0 {
        return Err(format!(
            "bad substitution ${}",
            s[..=end].iter().collect::<String>()
        ));
    }
    let op: String = s[1 + n..end].iter().collect();
    let value = var(&name);
    let word = |w: &str| expand(w, escape, var).map(|w| unescape_word(&w));
    let out = match op.as_str() {
        "" => value.unwrap_or_default(),
        _ if op.starts_with(":-") => match value.filter(|v| !v.is_empty()) {
            Some(v) => v,
            None => word(&op[2..])?,
        },
        _ if op.starts_with(":+") => match value.filter(|v| !v.is_empty()) {
            Some(_) => word(&op[2..])?,
            None => String::new(),
        },
        _ if op.starts_with(":?") || op.starts_with('?') => {
            let msg = op.trim_start_matches(':')[1..].to_string();
            match value.filter(|v| !v.is_empty() || !op.starts_with(':')) {
                Some(v) => v,
                None if msg.is_empty() => return Err(format!("{name}: is not set")),
                None => return Err(format!("{name}: {msg}")),
            }
        }
        _ if op.starts_with('-') => match value {
            Some(v) => v,
            None => word(&op[1..])?,
        },
        _ if op.starts_with('+') => match value {
            Some(_) => word(&op[1..])?,
            None => String::new(),
        },
        _ => {
            return Err(format!(
                "unsupported modifier ({op}) in substitution ${{{name}{op}}}"
            ))
        }
    };
    Ok((out, end + 1))
}

/// A default or alternative word's text, without the escapes [`push_literal`] added.
fn unescape_word(w: &str) -> String {
    let mut out = String::new();
    let mut chars = w.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Appends `value` so that the word reader reads it back as it is.
fn push_literal(out: &mut String, value: &str, in_double_quotes: bool) {
    for c in value.chars() {
        let special = match in_double_quotes {
            true => matches!(c, '"' | '\\' | '$' | '`'),
            false => c.is_whitespace() || matches!(c, '"' | '\'' | '\\'),
        };
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(s: &str) -> String {
        let vars = |n: &str| match n {
            "A" => Some("a".to_string()),
            "SP" => Some("x y".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        expand(s, '\\', &vars).unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(x("$A/${A}b"), "a/ab");
        assert_eq!(x("${NONE:-d} ${EMPTY:-e} ${EMPTY-f} ${NONE-g}"), "d e  g");
        assert_eq!(x("${A:+alt} ${NONE:+alt} ${EMPTY+set}"), "alt  set");
        assert_eq!(x("${NONE:-$A}"), "a");
        assert_eq!(x("'$A' \"$A\" \\$A $ $1"), "'$A' \"a\" \\$A $ $1");
        assert_eq!(x("k=$SP"), "k=x\\ y");
        assert_eq!(x("\"$SP\""), "\"x y\"");
    }

    #[test]
    fn heredoc_bodies() {
        let vars = |n: &str| (n == "A").then(|| "x y".to_string());
        assert_eq!(
            expand_text("'$A' \\$A ${A:-z}\n", &vars).unwrap(),
            "'x y' $A x y\n"
        );
    }

    #[test]
    fn errors() {
        let vars = |_: &str| None;
        assert_eq!(
            expand("${A", '\\', &vars).unwrap_err(),
            "missing '}' in ${A"
        );
        assert_eq!(
            expand("${A:?need A}", '\\', &vars).unwrap_err(),
            "A: need A"
        );
        assert!(expand("${A%x}", '\\', &vars).is_err());
    }
}
