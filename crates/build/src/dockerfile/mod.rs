//! The Dockerfile language, parsed without I/O: text in, stages of typed instructions out,
//! every error naming the file, line and column. Variables are left for the builder to
//! expand ([`expand`]): their values are known only while it builds.

pub mod expand;
pub mod lines;

pub use lines::Heredoc;
use lines::Line;

/// A Dockerfile that does not parse: `FILE:LINE:COLUMN: why`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {why}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub why: String,
}

impl ParseError {
    pub(crate) fn at(file: &str, line: usize, column: usize, why: String) -> ParseError {
        ParseError {
            file: file.to_string(),
            line,
            column,
            why,
        }
    }
}

/// A parsed Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dockerfile {
    pub escape: char,
    /// `# syntax=`: a BuildKit frontend, which berth does not run.
    pub syntax: Option<String>,
    /// The ARGs before the first FROM.
    pub global_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
}

/// `ARG NAME[=DEFAULT]`; the default is expanded when the ARG is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// `FROM [--platform=P] BASE [AS NAME]` and its instructions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// Lower case, as stages are matched.
    pub name: Option<String>,
    /// As written (expanded with the global ARGs when built).
    pub base: String,
    pub platform: Option<String>,
    pub line: usize,
    pub steps: Vec<Step>,
}

/// One instruction with where it is and how it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    pub column: usize,
    pub keyword: String,
    /// The arguments as written (continuations joined).
    pub rest: String,
    pub instruction: Instruction,
}

/// What an instruction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instruction {
    Run(Run),
    Copy(Copy),
    /// ADD: COPY that also extracts local tar archives.
    Add(Copy),
    Cmd(Command),
    Entrypoint(Command),
    Shell(Vec<String>),
    Arg(Vec<ArgDecl>),
    /// `HEALTHCHECK NONE` is None.
    Healthcheck(Option<Health>),
    /// ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, ONBUILD, MAINTAINER: changes
    /// of the image config, applied by `berth_image::change` after expansion.
    Config,
}

/// A command in exec form (a JSON list) or shell form (run by the SHELL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Exec(Vec<String>),
    Shell(String),
}

/// `RUN [--network=] [--mount=]... COMMAND`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub command: Command,
    pub network: Option<String>,
    pub mounts: Vec<String>,
    pub heredocs: Vec<Heredoc>,
}

/// `COPY`/`ADD [--from=] [--chown=] [--chmod=] [--link] SRC... DEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copy {
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// The sources and the destination, last: a JSON list's elements, or the shell form's
    /// text (split into words after expansion).
    pub args: CopyArgs,
    /// Heredoc sources (`COPY <<EOF /dest`).
    pub heredocs: Vec<Heredoc>,
}

/// COPY's arguments before expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyArgs {
    Json(Vec<String>),
    Text(String),
}

/// `HEALTHCHECK [--interval=] [--timeout=] [--start-period=] [--start-interval=]
/// [--retries=] CMD COMMAND`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub flags: Vec<(String, String)>,
    pub command: Command,
}

/// Instructions that only change the image config.
const CONFIG: [&str; 9] = [
    "ENV",
    "LABEL",
    "EXPOSE",
    "VOLUME",
    "USER",
    "WORKDIR",
    "STOPSIGNAL",
    "ONBUILD",
    "MAINTAINER",
];

/// Parses Dockerfile `text`, named `file` in errors.
pub fn parse(text: &str, file: &str) -> Result<Dockerfile, ParseError> {
    let (directives, lines) = lines::split(text, file)?;
    let mut df = Dockerfile {
        escape: directives.escape,
        syntax: directives.syntax,
        global_args: Vec::new(),
        stages: Vec::new(),
    };
    for l in lines {
        let err = |column: usize, why: String| ParseError::at(file, l.line, column, why);
        if l.rest.is_empty() && l.heredocs.is_empty() {
            return Err(err(
                l.column,
                format!("{} requires at least one argument", l.keyword),
            ));
        }
        if l.keyword == "FROM" {
            df.stages
                .push(stage(&l, &df.stages).map_err(|(c, why)| err(c, why))?);
            continue;
        }
        let instruction = instruction(&l).map_err(|(c, why)| err(c, why))?;
        match (df.stages.last_mut(), instruction) {
            (Some(s), instruction) => s.steps.push(Step {
                line: l.line,
                column: l.column,
                keyword: l.keyword.clone(),
                rest: l.rest.clone(),
                instruction,
            }),
            (None, Instruction::Arg(args)) => df.global_args.extend(args),
            (None, _) => {
                return Err(err(
                    1,
                    format!(
                        "{} before the first FROM (only ARG may come first)",
                        l.keyword
                    ),
                ))
            }
        }
    }
    if df.stages.is_empty() {
        return Err(ParseError::at(file, 1, 1, "no FROM instruction".into()));
    }
    Ok(df)
}

/// An error at a column of the line.
type At = (usize, String);

fn stage(l: &Line, before: &[Stage]) -> Result<Stage, At> {
    let (flags, rest, col) = flags(&l.rest, l.column, &["platform"])?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let name = match words.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let name = name.to_ascii_lowercase();
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err((col, format!("invalid stage name {name:?}")));
            }
            if before.iter().any(|s| s.name.as_ref() == Some(&name)) {
                return Err((col, format!("duplicate stage name {name:?}")));
            }
            Some(name)
        }
        _ => return Err((col, "FROM takes IMAGE [AS NAME]".into())),
    };
    Ok(Stage {
        name,
        base: words[0].to_string(),
        platform: flag(&flags, "platform"),
        line: l.line,
        steps: Vec::new(),
    })
}

fn instruction(l: &Line) -> Result<Instruction, At> {
    let c = l.column;
    Ok(match l.keyword.as_str() {
        "RUN" => {
            let (f, rest, _) = flags(&l.rest, c, &["network", "mount", "security"])?;
            if let Some(s) = flag(&f, "security").filter(|s| s != "sandbox") {
                return Err((c, format!("RUN --security={s}: only sandbox is supported")));
            }
            Instruction::Run(Run {
                command: command(&rest),
                network: flag(&f, "network"),
                mounts: f
                    .iter()
                    .filter(|(k, _)| k == "mount")
                    .map(|(_, v)| v.clone())
                    .collect(),
                heredocs: l.heredocs.clone(),
            })
        }
        "COPY" | "ADD" => {
            let known: &[&str] = match l.keyword.as_str() {
                "COPY" => &["from", "chown", "chmod", "link", "parents", "exclude"],
                _ => &["chown", "chmod", "link", "checksum", "keep-git-dir"],
            };
            let (f, rest, col) = flags(&l.rest, c, known)?;
            for unsupported in ["parents", "exclude", "checksum", "keep-git-dir"] {
                if flag(&f, unsupported).is_some() {
                    return Err((
                        c,
                        format!("{} --{unsupported} is not supported yet", l.keyword),
                    ));
                }
            }
            let args = match change_list(&rest) {
                Some(list) => CopyArgs::Json(list),
                None => CopyArgs::Text(rest.clone()),
            };
            let count = match &args {
                CopyArgs::Json(v) => v.len(),
                CopyArgs::Text(t) => t.split_whitespace().count(),
            };
            if count < 2 {
                return Err((
                    col,
                    format!("{} requires a source and a destination", l.keyword),
                ));
            }
            let copy = Copy {
                from: flag(&f, "from"),
                chown: flag(&f, "chown"),
                chmod: flag(&f, "chmod"),
                link: f.iter().any(|(k, v)| k == "link" && v != "false"),
                args,
                heredocs: l.heredocs.clone(),
            };
            match l.keyword.as_str() {
                "COPY" => Instruction::Copy(copy),
                _ => Instruction::Add(copy),
            }
        }
        "CMD" => Instruction::Cmd(command(&l.rest)),
        "ENTRYPOINT" => Instruction::Entrypoint(command(&l.rest)),
        "SHELL" => match change_list(&l.rest) {
            Some(list) if !list.is_empty() => Instruction::Shell(list),
            _ => return Err((c, "SHELL requires the arguments as a JSON list".into())),
        },
        "ARG" => Instruction::Arg(args(&l.rest, c)?),
        "HEALTHCHECK" => {
            let (f, rest, col) = flags(
                &l.rest,
                c,
                &[
                    "interval",
                    "timeout",
                    "start-period",
                    "start-interval",
                    "retries",
                ],
            )?;
            let (word, cmd) = match rest.split_once(char::is_whitespace) {
                Some((w, r)) => (w.to_ascii_uppercase(), r.trim()),
                None => (rest.to_ascii_uppercase(), ""),
            };
            match (word.as_str(), cmd) {
                ("NONE", "") if f.is_empty() => Instruction::Healthcheck(None),
                ("NONE", _) => {
                    return Err((col, "HEALTHCHECK NONE takes no other arguments".into()))
                }
                ("CMD", c2) if !c2.is_empty() => Instruction::Healthcheck(Some(Health {
                    flags: f,
                    command: command(c2),
                })),
                _ => return Err((col, "HEALTHCHECK takes CMD COMMAND or NONE".into())),
            }
        }
        k if CONFIG.contains(&k) => Instruction::Config,
        k => return Err((1, format!("unknown instruction: {k}"))),
    })
}

/// A JSON list of strings, if `rest` is one.
fn change_list(rest: &str) -> Option<Vec<String>> {
    berth_image::change::json_list(rest.trim()).and_then(Result::ok)
}

fn command(rest: &str) -> Command {
    match change_list(rest) {
        Some(list) => Command::Exec(list),
        None => Command::Shell(rest.to_string()),
    }
}

/// `NAME[=DEFAULT] ...`.
fn args(rest: &str, column: usize) -> Result<Vec<ArgDecl>, At> {
    let words = berth_image::change::words(rest).map_err(|e| (column, e))?;
    words
        .into_iter()
        .map(|w| {
            let (name, default) = match w.split_once('=') {
                Some((n, d)) => (n.to_string(), Some(d.to_string())),
                None => (w.clone(), None),
            };
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            match valid {
                true => Ok(ArgDecl { name, default }),
                false => Err((column, format!("ARG: invalid name {name:?}"))),
            }
        })
        .collect()
}

/// An instruction's flags (`--name=value`, `--name` alone is `true`), the text after them
/// and the column where it starts.
type Flags = (Vec<(String, String)>, String, usize);

/// The leading `--name[=value]` words of `rest` (names from `known`).
fn flags(rest: &str, column: usize, known: &[&str]) -> Result<Flags, At> {
    let mut out = Vec::new();
    let mut r = rest;
    let mut col = column;
    while let Some(body) = r.strip_prefix("--") {
        let end = body.find(char::is_whitespace).unwrap_or(body.len());
        let (name, value) = match body[..end].split_once('=') {
            Some((n, v)) => (n, v.to_string()),
            None => (&body[..end], "true".to_string()),
        };
        if !known.contains(&name) {
            return Err((col, format!("unknown flag: --{name}")));
        }
        out.push((name.to_string(), value));
        let after = &body[end..];
        let trimmed = after.trim_start();
        col += 2 + end + (after.len() - trimmed.len());
        r = trimmed;
    }
    Ok((out, r.to_string(), col))
}

fn flag(flags: &[(String, String)], name: &str) -> Option<String> {
    flags
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_and_steps() {
        let df = parse(
            "ARG BASE=busybox\nFROM $BASE AS Build\nRUN --network=none make\nCOPY --from=build --chown=1:2 [\"a b\", \"/c\"]\n\
             FROM scratch\nCOPY --from=build /out /\nCMD [\"/out\"]\nENTRYPOINT top -b\nHEALTHCHECK --retries=2 CMD true\n",
            "Dockerfile",
        )
        .unwrap();
        assert_eq!(
            df.global_args,
            vec![ArgDecl {
                name: "BASE".into(),
                default: Some("busybox".into())
            }]
        );
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
        assert_eq!(df.stages[0].base, "$BASE");
        match &df.stages[0].steps[0].instruction {
            Instruction::Run(r) => {
                assert_eq!(r.network.as_deref(), Some("none"));
                assert_eq!(r.command, Command::Shell("make".into()));
            }
            other => panic!("{other:?}"),
        }
        match &df.stages[0].steps[1].instruction {
            Instruction::Copy(c) => {
                assert_eq!(c.from.as_deref(), Some("build"));
                assert_eq!(c.chown.as_deref(), Some("1:2"));
                assert_eq!(c.args, CopyArgs::Json(vec!["a b".into(), "/c".into()]));
            }
            other => panic!("{other:?}"),
        }
        let s = &df.stages[1].steps;
        assert_eq!(
            s[1].instruction,
            Instruction::Cmd(Command::Exec(vec!["/out".into()]))
        );
        assert_eq!(
            s[2].instruction,
            Instruction::Entrypoint(Command::Shell("top -b".into()))
        );
        assert!(
            matches!(&s[3].instruction, Instruction::Healthcheck(Some(h)) if h.flags == vec![("retries".to_string(), "2".to_string())])
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = |t: &str| parse(t, "Dockerfile").unwrap_err().to_string();
        assert_eq!(
            e("FROM a\n  FROB x\n"),
            "Dockerfile:2:1: unknown instruction: FROB"
        );
        assert_eq!(
            e("FROM a\nRUN --nope=1 x\n"),
            "Dockerfile:2:5: unknown flag: --nope"
        );
        assert_eq!(
            e("FROM a\nCOPY --chown=1 onlyone\n"),
            "Dockerfile:2:16: COPY requires a source and a destination"
        );
        assert_eq!(
            e("RUN x\n"),
            "Dockerfile:1:1: RUN before the first FROM (only ARG may come first)"
        );
        assert_eq!(
            e("FROM a\nENV\n"),
            "Dockerfile:2:4: ENV requires at least one argument"
        );
        assert_eq!(
            e("FROM a AS x\nFROM b AS X\n"),
            "Dockerfile:2:6: duplicate stage name \"x\""
        );
        assert_eq!(
            e("# just a comment\n"),
            "Dockerfile:1:1: no FROM instruction"
        );
        assert_eq!(
            e("FROM a\nSHELL sh -c\n"),
            "Dockerfile:2:7: SHELL requires the arguments as a JSON list"
        );
    }

    #[test]
    fn heredoc_copy_needs_only_dest() {
        let df = parse("FROM a\nCOPY <<EOF /f\nhi\nEOF\n", "D").unwrap();
        match &df.stages[0].steps[0].instruction {
            Instruction::Copy(c) => assert_eq!(c.heredocs[0].body, "hi\n"),
            other => panic!("{other:?}"),
        }
    }
}
