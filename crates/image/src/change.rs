//! Dockerfile instructions applied to an image config (`import -c`, `commit -c`): the ones
//! docker accepts there, CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER,
//! VOLUME and WORKDIR, parsed as a Dockerfile parses them (JSON or shell form, quoted
//! `KEY=VALUE` words, relative WORKDIR, port ranges). Pure: text in, config out.

use serde_json::{json, Map, Value};

/// A change that is not a valid instruction; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{change:?}: {why}")]
pub struct ChangeError {
    /// The instruction line as given.
    pub change: String,
    /// What is wrong with it.
    pub why: String,
}

/// The instructions a change may use, as docker lists them.
const VALID: &str =
    "CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR";

/// Instructions an ONBUILD trigger may hold (a Dockerfile's, less FROM, MAINTAINER, ONBUILD).
const TRIGGERS: [&str; 15] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Applies `changes` in order to `config` (the image config's `config` object, docker's
/// field names). Each change may hold several lines; a line ending in `\` continues on the
/// next, blank lines and `#` comments are skipped, as in a Dockerfile.
pub fn apply(config: &mut Map<String, Value>, changes: &[String]) -> Result<(), ChangeError> {
    let mut cmd_set = false;
    for change in changes {
        for line in instructions(change) {
            let fail = |why: String| ChangeError {
                change: line.clone(),
                why,
            };
            let (word, rest) = match line.split_once(char::is_whitespace) {
                Some((w, r)) => (w, r.trim()),
                None => (line.as_str(), ""),
            };
            let instr = word.to_ascii_uppercase();
            if rest.is_empty() {
                return Err(fail(format!("{instr} requires at least one argument")));
            }
            apply_instruction(config, &instr, rest, &mut cmd_set).map_err(fail)?;
        }
    }
    Ok(())
}

/// The instruction lines of one change: continuations joined, comments and blanks dropped.
fn instructions(change: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in change.lines() {
        let t = line.trim();
        if current.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(t);
                out.push(std::mem::take(&mut current).trim().to_string());
            }
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// Applies one instruction (`instr` upper case, `rest` its arguments) to `config`;
/// `cmd_set` says whether a CMD was applied before in the same run (an ENTRYPOINT drops
/// the Cmd it did not set itself). The error says what is wrong, without the line.
pub fn apply_instruction(
    config: &mut Map<String, Value>,
    instr: &str,
    rest: &str,
    cmd_set: &mut bool,
) -> Result<(), String> {
    match instr {
        "CMD" => {
            config.insert("Cmd".into(), json!(command(rest)?));
            *cmd_set = true;
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), json!(command(rest)?));
            // As in a Dockerfile: a new entrypoint drops the Cmd it did not set itself.
            if !*cmd_set {
                config.insert("Cmd".into(), Value::Null);
            }
        }
        "ENV" => {
            let env = list_field(config, "Env")?;
            for (k, v) in key_values(rest, "ENV")? {
                env.retain(|e| e.as_str().and_then(|s| s.split('=').next()) != Some(k.as_str()));
                env.push(json!(format!("{k}={v}")));
            }
        }
        "LABEL" => {
            let labels = object_field(config, "Labels")?;
            for (k, v) in key_values(rest, "LABEL")? {
                labels.insert(k, json!(v));
            }
        }
        "EXPOSE" => {
            let ports = object_field(config, "ExposedPorts")?;
            for spec in words(rest)? {
                for p in ports_of(&spec)? {
                    ports.insert(p, json!({}));
                }
            }
        }
        "VOLUME" => {
            let paths = match json_list(rest) {
                Some(list) => list?,
                None => words(rest)?,
            };
            let volumes = object_field(config, "Volumes")?;
            for p in paths {
                if p.trim().is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                volumes.insert(p, json!({}));
            }
        }
        "WORKDIR" => {
            let current = config
                .get("WorkingDir")
                .and_then(Value::as_str)
                .unwrap_or("/");
            let dir = workdir(current, &unquote(rest)?);
            config.insert("WorkingDir".into(), json!(dir));
        }
        "USER" => {
            config.insert("User".into(), json!(unquote(rest)?));
        }
        "STOPSIGNAL" => {
            let sig = unquote(rest)?;
            if !is_signal(&sig) {
                return Err(format!("invalid signal {sig:?}"));
            }
            config.insert("StopSignal".into(), json!(sig));
        }
        "ONBUILD" => {
            let inner = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            if matches!(inner.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(format!("{inner} isn't allowed as an ONBUILD trigger"));
            }
            if !TRIGGERS.contains(&inner.as_str()) {
                return Err(format!("unknown instruction {inner} in ONBUILD"));
            }
            list_field(config, "OnBuild")?.push(json!(rest));
        }
        other => return Err(format!("{other} is not a valid change command ({VALID})")),
    }
    Ok(())
}

/// The field `key` as a list, made (or replacing a null) if missing.
fn list_field<'c>(
    config: &'c mut Map<String, Value>,
    key: &str,
) -> Result<&'c mut Vec<Value>, String> {
    let v = config.entry(key).or_insert_with(|| json!([]));
    if v.is_null() {
        *v = json!([]);
    }
    v.as_array_mut()
        .ok_or_else(|| format!("the image's {key} is not a list"))
}

/// The field `key` as an object, made (or replacing a null) if missing.
fn object_field<'c>(
    config: &'c mut Map<String, Value>,
    key: &str,
) -> Result<&'c mut Map<String, Value>, String> {
    let v = config.entry(key).or_insert_with(|| json!({}));
    if v.is_null() {
        *v = json!({});
    }
    v.as_object_mut()
        .ok_or_else(|| format!("the image's {key} is not an object"))
}

/// `["a", "b"]` (exec form) if `rest` is a JSON list of strings; None when it is not JSON.
pub fn json_list(rest: &str) -> Option<Result<Vec<String>, String>> {
    if !rest.starts_with('[') {
        return None;
    }
    // A Dockerfile treats text that is not a valid JSON list as shell form.
    serde_json::from_str::<Vec<String>>(rest).ok().map(Ok)
}

/// CMD and ENTRYPOINT: exec form as given, shell form run by `/bin/sh -c`.
fn command(rest: &str) -> Result<Vec<String>, String> {
    match json_list(rest) {
        Some(list) => list,
        None => Ok(vec!["/bin/sh".into(), "-c".into(), rest.to_string()]),
    }
}

/// `KEY=VALUE ...` (quotes and backslashes as a shell reads them), or the older
/// `KEY VALUE` form where the value is the rest of the line.
fn key_values(rest: &str, instr: &str) -> Result<Vec<(String, String)>, String> {
    let all = words(rest)?;
    let first = all.first().cloned().unwrap_or_default();
    if !first.contains('=') {
        let Some((key, value)) = rest.split_once(char::is_whitespace) else {
            return Err(format!("{instr} {first}: must be of the form KEY=VALUE"));
        };
        return Ok(vec![(unquote(key)?, unquote(value.trim())?)]);
    }
    all.into_iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err(format!("{instr} names can not be blank")),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!(
                "syntax error: no '=' in {w:?}; {instr} takes KEY=VALUE words"
            )),
        })
        .collect()
}

/// Splits on unquoted whitespace, removing quotes and backslash escapes.
pub fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (_, '\\') => {
                let next = chars.next().ok_or("a trailing backslash escapes nothing")?;
                // Inside double quotes a backslash escapes only what the shell lets it.
                if quote == Some('"') && !matches!(next, '"' | '\\' | '$' | '`') {
                    word.push('\\');
                }
                word.push(next);
                in_word = true;
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unmatched {q} quote"));
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

/// One value with quotes and escapes removed and its inner whitespace kept.
pub fn unquote(s: &str) -> Result<String, String> {
    // Whitespace is protected by quoting it, then the word reader removes the quotes.
    let mut quoted = String::new();
    let mut in_quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && in_quote != Some('\'') {
            escaped = true;
        } else if in_quote == Some(c) {
            in_quote = None;
        } else if in_quote.is_none() && matches!(c, '"' | '\'') {
            in_quote = Some(c);
        } else if in_quote.is_none() && c.is_whitespace() {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    Ok(words(&quoted)?.concat())
}

/// EXPOSE's `PORT[-END][/PROTO]` as `port/proto` keys.
fn ports_of(spec: &str) -> Result<Vec<String>, String> {
    let bad = || format!("invalid port {spec:?}: want PORT[-END][/tcp|udp|sctp]");
    let (range, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad());
    }
    let port = |p: &str| p.parse::<u16>().ok().filter(|&n| n > 0);
    let (start, end) = match range.split_once('-') {
        Some((a, b)) => (port(a).ok_or_else(bad)?, port(b).ok_or_else(bad)?),
        None => {
            let p = port(range).ok_or_else(bad)?;
            (p, p)
        }
    };
    if end < start {
        return Err(bad());
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// WORKDIR: a relative path continues from the current one; the result is clean.
fn workdir(current: &str, requested: &str) -> String {
    let joined = if requested.starts_with('/') {
        requested.to_string()
    } else {
        format!("{current}/{requested}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A signal as docker accepts it: a number (1 to 64) or a name, with or without `SIG`.
fn is_signal(s: &str) -> bool {
    if let Ok(n) = s.parse::<u32>() {
        return (1..=64).contains(&n);
    }
    let name = s.strip_prefix("SIG").unwrap_or(s);
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '+' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> Result<Map<String, Value>, ChangeError> {
        let mut c = Map::new();
        let changes: Vec<String> = changes.iter().map(ToString::to_string).collect();
        apply(&mut c, &changes).map(|()| c)
    }

    #[test]
    fn cmd_and_entrypoint_in_both_forms() {
        let c = applied(&[r#"CMD ["/bin/sh"]"#, "ENTRYPOINT echo hi"]).unwrap();
        assert_eq!(c["Cmd"], json!(["/bin/sh"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        // Not a JSON list of strings: shell form, as a Dockerfile reads it.
        let c = applied(&["cmd [not json"]).unwrap();
        assert_eq!(c["Cmd"], json!(["/bin/sh", "-c", "[not json"]));
        // An entrypoint alone drops the image's Cmd.
        let mut c = Map::new();
        c.insert("Cmd".into(), json!(["old"]));
        apply(&mut c, &[r#"ENTRYPOINT ["/e"]"#.into()]).unwrap();
        assert_eq!(c["Cmd"], Value::Null);
    }

    #[test]
    fn env_and_label_words() {
        let c = applied(&[
            r#"ENV A=1 B="two words" C=three\ words"#,
            "ENV LEGACY value with  spaces",
            "ENV A=replaced",
            r#"LABEL "com.example.k"="v 1" other=x"#,
        ])
        .unwrap();
        assert_eq!(
            c["Env"],
            json!([
                "B=two words",
                "C=three words",
                "LEGACY=value with  spaces",
                "A=replaced"
            ])
        );
        assert_eq!(c["Labels"], json!({"com.example.k": "v 1", "other": "x"}));
        assert!(applied(&["ENV A=1 B"]).is_err());
        assert!(applied(&["ENV =x"]).is_err());
        assert!(applied(&["ENV ONLYKEY"]).is_err());
        assert!(applied(&[r#"ENV A="unterminated"#]).is_err());
    }

    #[test]
    fn expose_volume_workdir_user_stopsignal_onbuild() {
        let c = applied(&[
            "EXPOSE 80 53/udp 8000-8002/TCP",
            r#"VOLUME ["/data", "/logs"]"#,
            "VOLUME /cache",
            "WORKDIR /app",
            "WORKDIR src/../lib",
            "USER nobody:nogroup",
            "STOPSIGNAL SIGQUIT",
            "ONBUILD RUN echo built",
        ])
        .unwrap();
        assert_eq!(
            c["ExposedPorts"],
            json!({"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}})
        );
        assert_eq!(
            c["Volumes"],
            json!({"/data": {}, "/logs": {}, "/cache": {}})
        );
        assert_eq!(c["WorkingDir"], json!("/app/lib"));
        assert_eq!(c["User"], json!("nobody:nogroup"));
        assert_eq!(c["StopSignal"], json!("SIGQUIT"));
        assert_eq!(c["OnBuild"], json!(["RUN echo built"]));
        for bad in [
            "EXPOSE 0",
            "EXPOSE 70000",
            "EXPOSE 80/icmp",
            "EXPOSE 90-80",
            "STOPSIGNAL 99",
            "STOPSIGNAL sig term",
            "ONBUILD ONBUILD RUN x",
            "ONBUILD FROM x",
            "ONBUILD BOGUS x",
        ] {
            assert!(applied(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_instructions_are_named() {
        let e = applied(&["RUN make"]).unwrap_err();
        assert_eq!(e.change, "RUN make");
        assert!(e.why.contains("RUN is not a valid change command"), "{e}");
        assert!(applied(&["CMD"]).unwrap_err().why.contains("requires"));
        assert!(applied(&["FROM busybox"]).is_err());
    }

    #[test]
    fn lines_continuations_and_comments() {
        let c = applied(&["# a comment\nENV A=1 \\\n  B=2\n\nUSER x"]).unwrap();
        assert_eq!(c["Env"], json!(["A=1", "B=2"]));
        assert_eq!(c["User"], json!("x"));
    }

    #[test]
    fn quoting_rules() {
        assert_eq!(
            words(r#"a 'b c' "d\"e" f\ g"#).unwrap(),
            ["a", "b c", "d\"e", "f g"]
        );
        assert_eq!(unquote(r#"  "x  y"   z"#.trim()).unwrap(), "x  y   z");
        assert_eq!(workdir("/", ".."), "/");
        assert_eq!(workdir("/a/b", "/c/./d"), "/c/d");
    }
}
