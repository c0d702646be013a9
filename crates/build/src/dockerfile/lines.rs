//! A Dockerfile's text as logical lines: parser directives read, comments dropped,
//! continuations joined, and the bodies of heredocs (`<<EOF`) taken with the instruction
//! that names them.

use super::ParseError;

/// One instruction as written: where it starts, its keyword and the rest of its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based line of the keyword.
    pub line: usize,
    /// The keyword, upper case.
    pub keyword: String,
    /// 1-based column where `rest` starts on its first line.
    pub column: usize,
    /// The arguments, continuations joined (the escape and newline removed).
    pub rest: String,
    /// The heredocs the arguments name, in order.
    pub heredocs: Vec<Heredoc>,
}

/// A here-document: `<<NAME` in the arguments and the lines up to `NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// The lines, each ending in `\n`; leading tabs removed for `<<-`.
    pub body: String,
    /// Unquoted names have `$VAR` expanded in the body.
    pub expand: bool,
}

/// The directives at the top of a Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directives {
    /// `# escape=` (`\` or `` ` ``).
    pub escape: char,
    /// `# syntax=`: a frontend image berth does not use.
    pub syntax: Option<String>,
}

/// Instructions that may carry heredocs.
const HEREDOC_INSTRUCTIONS: [&str; 3] = ["RUN", "COPY", "ADD"];

/// Splits `text` into directives and instruction lines.
pub fn split(text: &str, file: &str) -> Result<(Directives, Vec<Line>), ParseError> {
    let physical: Vec<&str> = text.lines().collect();
    let mut d = Directives {
        escape: '\\',
        syntax: None,
    };
    let mut i = 0;
    // Directives: `# key=value` lines before anything else, each key once.
    let mut seen = Vec::new();
    while let Some(l) = physical.get(i) {
        let Some((key, value)) = directive(l) else {
            break;
        };
        if seen.contains(&key) {
            return Err(ParseError::at(
                file,
                i + 1,
                1,
                format!("{key} directive given twice"),
            ));
        }
        match key.as_str() {
            "escape" => {
                d.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    v => {
                        return Err(ParseError::at(
                            file,
                            i + 1,
                            1,
                            format!("invalid escape {v:?}: want \\ or `"),
                        ))
                    }
                }
            }
            "syntax" => d.syntax = Some(value),
            // An unknown directive is a comment, and ends the directives.
            _ => break,
        }
        seen.push(key);
        i += 1;
    }
    let mut out = Vec::new();
    while i < physical.len() {
        let start = i;
        let first = physical[i];
        i += 1;
        let t = first.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let indent = first.len() - t.len();
        let (keyword, after) = match t.find(char::is_whitespace) {
            Some(n) => (&t[..n], &t[n..]),
            None => (t, ""),
        };
        let column = indent + keyword.len() + (after.len() - after.trim_start().len()) + 1;
        let mut rest = String::new();
        let mut piece = after.trim_start().to_string();
        // Continuations: a line ending in the escape character goes on on the next
        // non-comment line.
        loop {
            match continued(&piece, d.escape) {
                Some(head) => {
                    rest.push_str(head);
                    let mut next = None;
                    while let Some(l) = physical.get(i) {
                        i += 1;
                        let lt = l.trim_start();
                        if lt.starts_with('#') || lt.is_empty() {
                            continue;
                        }
                        next = Some(*l);
                        break;
                    }
                    match next {
                        Some(l) => piece = l.to_string(),
                        None => break,
                    }
                }
                None => {
                    rest.push_str(&piece);
                    break;
                }
            }
        }
        let keyword = keyword.to_ascii_uppercase();
        let mut heredocs = Vec::new();
        if HEREDOC_INSTRUCTIONS.contains(&keyword.as_str()) {
            for (name, strip, expand) in heredoc_markers(&rest) {
                let mut body = String::new();
                let mut closed = false;
                while let Some(l) = physical.get(i) {
                    i += 1;
                    let l = if strip { l.trim_start_matches('\t') } else { l };
                    if l == name {
                        closed = true;
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                if !closed {
                    return Err(ParseError::at(
                        file,
                        start + 1,
                        column,
                        format!("heredoc <<{name} is not closed by a line {name}"),
                    ));
                }
                heredocs.push(Heredoc { name, body, expand });
            }
        }
        out.push(Line {
            line: start + 1,
            keyword,
            column,
            rest: rest.trim_end().to_string(),
            heredocs,
        });
    }
    Ok((d, out))
}

/// `# key=value` as a directive (key lower case), if the line is one.
fn directive(line: &str) -> Option<(String, String)> {
    let body = line.trim().strip_prefix('#')?;
    let (k, v) = body.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((k.to_ascii_lowercase(), v.trim().to_string()))
}

/// The line without its trailing escape (and the whitespace after it), if it has one.
fn continued(line: &str, escape: char) -> Option<&str> {
    let t = line.trim_end();
    let head = t.strip_suffix(escape)?;
    // An escaped escape at the end is a literal one, not a continuation.
    let run = head.chars().rev().take_while(|c| *c == escape).count();
    (run % 2 == 0).then_some(head)
}

/// The `<<NAME`, `<<-NAME`, `<<"NAME"` and `<<'NAME'` words of an instruction's arguments
/// (outside quotes): the name, whether tabs are stripped, whether the body is expanded.
pub fn heredoc_markers(rest: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let b = rest.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'<' && b.get(i + 1) == Some(&b'<') && b.get(i + 2) != Some(&b'<') => {
                let mut j = i + 2;
                let strip = b.get(j) == Some(&b'-');
                if strip {
                    j += 1;
                }
                let quoted = matches!(b.get(j), Some(b'"' | b'\''));
                let q = b.get(j).copied();
                if quoted {
                    j += 1;
                }
                let start = j;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j > start {
                    let name = rest[start..j].to_string();
                    if quoted && b.get(j).copied() == q {
                        j += 1;
                    }
                    out.push((name, strip, !quoted));
                    i = j;
                    continue;
                }
            }
            None => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<Line> {
        split(text, "Dockerfile").unwrap().1
    }

    #[test]
    fn continuations_and_comments() {
        let l = lines("FROM a\n# c\nRUN echo a \\\n  # inside\n  b \\\n\n  c\nCMD x\n");
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].keyword, "RUN");
        assert_eq!(l[1].rest, "echo a   b   c");
        assert_eq!((l[1].line, l[1].column), (3, 5));
        assert_eq!(l[2].line, 8);
    }

    #[test]
    fn escape_directive() {
        let (d, l) = split("# escape=`\nFROM a\nRUN dir c:\\ `\n  x\n", "f").unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(l[1].rest, "dir c:\\   x");
        let (d, _) = split("# syntax=docker/dockerfile:1\nFROM a\n", "f").unwrap();
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        // Not at the top: a comment.
        let (d, _) = split("FROM a\n# escape=`\n", "f").unwrap();
        assert_eq!(d.escape, '\\');
        let e = split("# escape=x\nFROM a\n", "f").unwrap_err();
        assert_eq!(e.to_string(), "f:1:1: invalid escape \"x\": want \\ or `");
    }

    #[test]
    fn heredocs() {
        let l = lines(
            "FROM a\nRUN <<EOF\necho $A\nEOF\nCOPY <<-'X' <<Y /d/\n\tone\n\tX\ntwo\nY\nCMD z\n",
        );
        assert_eq!(l[1].heredocs[0].body, "echo $A\n");
        assert!(l[1].heredocs[0].expand);
        assert_eq!(l[2].heredocs.len(), 2);
        assert_eq!(l[2].heredocs[0].name, "X");
        assert_eq!(l[2].heredocs[0].body, "one\n");
        assert!(!l[2].heredocs[0].expand);
        assert_eq!(l[2].heredocs[1].body, "two\n");
        assert_eq!(l[3].keyword, "CMD");
        // `<<` inside quotes is not a heredoc; a missing end is an error.
        assert!(lines("RUN echo '<<A'\n")[0].heredocs.is_empty());
        let e = split("FROM a\nRUN cat <<EOF\nx\n", "D").unwrap_err();
        assert_eq!(
            e.to_string(),
            "D:2:5: heredoc <<EOF is not closed by a line EOF"
        );
    }
}
