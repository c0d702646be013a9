//! `.dockerignore` (or `.containerignore`): which paths of the build context COPY and ADD
//! do not see, by docker's rules. One pattern a line, `#` lines are comments, a leading
//! `/` and `./` mean nothing, `*` and `?` match within one path component, `**` any number
//! of components, `[...]` a class, `\` escapes; `!` makes an exception. The last pattern
//! that matches a path, or one of its parent directories, decides.

/// The patterns of one ignore file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ignore {
    rules: Vec<Rule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    pattern: String,
    exception: bool,
}

impl Ignore {
    /// Reads an ignore file's text.
    pub fn parse(text: &str) -> Ignore {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (exception, p) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                let pattern = clean(p);
                (!pattern.is_empty()).then_some(Rule { pattern, exception })
            })
            .collect();
        Ignore { rules }
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let mut out = false;
        for r in &self.rules {
            if r.exception == out && matches_or_parent(&r.pattern, &path) {
                out = !r.exception;
            }
        }
        out
    }

    /// Whether an exception may take back something inside a directory that is left out:
    /// then its contents are looked at one by one.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }
}

/// `p` without `./`, empty components and a leading or trailing `/`; `..` resolved (never
/// above the top).
pub(crate) fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// The pattern matches `path` or a directory above it.
fn matches_or_parent(pattern: &str, path: &str) -> bool {
    if glob(pattern.as_bytes(), path.as_bytes()) {
        return true;
    }
    path.match_indices('/')
        .any(|(i, _)| glob(pattern.as_bytes(), &path.as_bytes()[..i]))
}

/// Matches `name` against a glob with docker's `**` extension.
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            let rest = &p[2..];
            // `**/` is any number of whole components (also none).
            if let Some(after) = rest.strip_prefix(b"/") {
                return glob(after, s)
                    || s.iter()
                        .enumerate()
                        .any(|(i, c)| *c == b'/' && glob(after, &s[i + 1..]));
            }
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        Some(b'*') => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if glob(rest, &s[i..]) {
                    return true;
                }
                if s.get(i) == Some(&b'/') {
                    break;
                }
            }
            false
        }
        Some(b'?') => s.first().is_some_and(|c| *c != b'/') && glob(&p[1..], &s[1..]),
        Some(b'[') => match (class(&p[1..], s.first().copied()), s.first()) {
            (Some((true, used)), Some(_)) => glob(&p[1 + used..], &s[1..]),
            (Some((false, _)), _) | (_, None) => false,
            // An unclosed `[` is a literal.
            (None, Some(c)) => *c == b'[' && glob(&p[1..], &s[1..]),
        },
        Some(b'\\') if p.len() > 1 => s.first() == Some(&p[1]) && glob(&p[2..], &s[1..]),
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

/// A class after its `[`: whether `c` is in it and how many pattern bytes it took (with
/// the `]`); None when it is not closed.
fn class(p: &[u8], c: Option<u8>) -> Option<(bool, usize)> {
    let c = c.filter(|c| *c != b'/');
    let (negate, mut i) = match p.first() {
        Some(b'!' | b'^') => (true, 1),
        _ => (false, 0),
    };
    let mut hit = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == b']' && !first {
            return Some((c.is_some() && hit != negate, i + 1));
        }
        first = false;
        let lo = match p[i] {
            b'\\' if i + 1 < p.len() => {
                i += 1;
                p[i]
            }
            b => b,
        };
        let (lo, hi) = if p.get(i + 1) == Some(&b'-') && p.get(i + 2).is_some_and(|b| *b != b']') {
            i += 2;
            (lo, p[i])
        } else {
            (lo, lo)
        };
        if c.is_some_and(|c| lo <= c && c <= hi) {
            hit = true;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(b"*.md", b"README.md"));
        assert!(!glob(b"*.md", b"docs/README.md"));
        assert!(glob(b"**/*.md", b"docs/a/README.md"));
        assert!(glob(b"**/*.md", b"README.md"));
        assert!(glob(b"docs/**", b"docs/a/b"));
        assert!(glob(b"file?.[a-c]", b"file1.b"));
        assert!(!glob(b"file?.[!a-c]", b"file1.b"));
        assert!(glob(b"a\\*b", b"a*b"));
        assert!(!glob(b"a\\*b", b"axb"));
    }

    #[test]
    fn last_match_wins_and_parents_count() {
        let i = Ignore::parse("# comment\n*.log\n!keep.log\n/build\nnode_modules\n**/tmp\n");
        assert!(i.excludes("a.log"));
        assert!(!i.excludes("keep.log"));
        assert!(!i.excludes("sub/a.log"));
        assert!(i.excludes("build/out/x"));
        assert!(i.excludes("node_modules"));
        assert!(i.excludes("x/y/tmp/z"));
        assert!(!i.excludes("src/main.rs"));
        assert!(i.has_exceptions());
        let j = Ignore::parse("docs\n!docs/keep.md\n");
        assert!(j.excludes("docs/other.md"));
        assert!(!j.excludes("docs/keep.md"));
    }
}
