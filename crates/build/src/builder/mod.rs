//! Runs a parsed Dockerfile on berth's engine: the stages the target needs, in order, each
//! step an image of the store. A RUN is a container of the engine (the isolation of
//! `berth run`) whose changes are committed as a layer; COPY and ADD unpack into a created
//! container's root filesystem ([`copy`]); the other instructions change the config only.
//!
//! Every step's image is named `localhost/berth-build-cache:KEY`, KEY the digest of its
//! parent's ID, the instruction as it ran and what it copied ([`cache`]): the next build
//! finds it there, and `berth builder prune` drops those names.

mod cache;
mod copy;
mod inputs;
mod mounts;
mod output;
mod stage;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use berth_engine::start::MonitorCommand;
use berth_engine::{Engine, RunOptions};
use berth_image::reference::Reference;
use berth_image::store::Image;

use crate::dockerfile::{self, expand::expand, ParseError};
use crate::ignore::Ignore;

pub use cache::{prune, CACHE_REPOSITORY};
pub use output::Output;

/// What to build and how.
pub struct BuildOptions {
    /// The build context: a directory, or `-` for a tar on stdin.
    pub context: PathBuf,
    /// The Dockerfile (`-`: stdin); default CONTEXT/Dockerfile, else CONTEXT/Containerfile.
    pub dockerfile: Option<PathBuf>,
    /// `-t`: names for the result.
    pub tags: Vec<Reference>,
    /// `--build-arg KEY=VALUE` (or `KEY`, from the environment).
    pub build_args: Vec<String>,
    /// `--target`: the stage to stop at (default: the last).
    pub target: Option<String>,
    /// `--no-cache`: run every step again.
    pub no_cache: bool,
    /// `--label KEY=VALUE`: labels of the result.
    pub labels: Vec<String>,
    /// `--network` of the RUN steps (default: the engine's default network).
    pub network: Option<String>,
    /// Print no step lines.
    pub quiet: bool,
    /// The cgroup the steps' containers are made in (default: the engine's).
    pub cgroup_parent: Option<String>,
    /// berth's `--root`: the cache mounts and the secrets of a step live under it.
    pub root: PathBuf,
    /// `--secret id=ID[,src=FILE|,env=VAR]`.
    pub secrets: Vec<String>,
    /// `--output`: the result's files, also written there.
    pub output: Option<Output>,
    /// What every RUN step's container gets (limits, hosts, security options), as `run`
    /// takes them; the builder sets the rest.
    pub step: RunOptions,
    /// How the engine starts a monitor: a RUN step beside another stage's has one.
    pub monitor: MonitorCommand,
}

/// Where base images come from: the store, or a registry as `--pull` says.
pub trait Bases: Sync {
    /// The image `reference` names (a FROM or a COPY --from that is not a stage).
    fn base(&self, reference: &str) -> Result<Image, String>;
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A step failed: the Dockerfile, its line, the instruction and why.
    #[error("{file}:{line}: {instruction}: {why}")]
    Step {
        file: String,
        line: usize,
        instruction: String,
        why: String,
    },
    /// Bad options or context.
    #[error("{0}")]
    Usage(String),
}

/// A build's result.
pub struct Built {
    pub image: Image,
    /// Steps run, and of those found in the cache.
    pub steps: usize,
    pub cached: usize,
}

/// The label of a step's container: which build process made it (`PID:START`, the start
/// time from /proc), so the next build removes what a killed one left.
pub(crate) const OWNER_LABEL: &str = "berth.build.owner";

/// Build arguments every Dockerfile may use without declaring them (docker's list).
const PROXY_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A build's state, as one stage sees it: stages that do not depend on each other are built
/// at once, each by a copy of its own (counters and the stage being built).
#[derive(Clone)]
pub(crate) struct Build<'a> {
    engine: &'a Engine,
    o: &'a BuildOptions,
    bases: &'a dyn Bases,
    log: &'a (dyn Fn(&str) + Sync),
    file: String,
    escape: char,
    ignore: Ignore,
    /// `--build-arg` values.
    build_args: HashMap<String, String>,
    /// The global ARGs' values, and the platform ARGs BuildKit predefines.
    global: Vec<(String, String)>,
    /// Each built stage's image, by index.
    stages: Vec<Option<Image>>,
    names: Vec<Option<String>>,
    /// The stage being built, and how its step lines name it (nothing in a one-stage
    /// build, else its name or `stage-N`, as BuildKit's).
    current: usize,
    label: String,
    /// When the step being made began (for its line's time).
    started: Option<std::time::Instant>,
    /// Other stages are being built at the same time.
    parallel: bool,
    steps: usize,
    cached: usize,
    /// This process as [`OWNER_LABEL`] names it.
    owner: String,
    /// `--secret` values by id.
    secrets: HashMap<String, Vec<u8>>,
    /// The context directory.
    context: PathBuf,
}

/// Builds the image `o` describes; step lines go to `log`, one a call.
pub fn build(
    engine: &Engine,
    o: &BuildOptions,
    bases: &dyn Bases,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Built, BuildError> {
    let owner = process_key(std::process::id()).unwrap_or_default();
    sweep(engine, &o.root);
    let mut inputs = inputs::Inputs::read(o, &owner)?;
    let secrets = o
        .root
        .join("build-mounts/secrets")
        .join(owner.replace(':', "-"));
    let built = run(engine, o, bases, log, &inputs, owner);
    inputs.remove();
    // Each step removed its own secrets; what is left is the build's empty directory.
    let _ = std::fs::remove_dir(secrets);
    built
}

fn run(
    engine: &Engine,
    o: &BuildOptions,
    bases: &dyn Bases,
    log: &(dyn Fn(&str) + Sync),
    inputs: &inputs::Inputs,
    owner: String,
) -> Result<Built, BuildError> {
    let (text, file) = (&inputs.text, inputs.file.clone());
    let df = dockerfile::parse(text, &file)?;
    let ignore = read_ignore(&inputs.context)?;
    let mut build_args = HashMap::new();
    for a in &o.build_args {
        match a.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    build_args.insert(a.clone(), v);
                }
            }
        }
    }
    let mut b = Build {
        engine,
        o,
        bases,
        log,
        file,
        escape: df.escape,
        ignore,
        build_args,
        global: platform_args(),
        stages: vec![None; df.stages.len()],
        names: df.stages.iter().map(|s| s.name.clone()).collect(),
        current: 0,
        label: String::new(),
        started: None,
        parallel: false,
        steps: 0,
        cached: 0,
        owner,
        secrets: secrets(&o.secrets)?,
        context: inputs.context.clone(),
    };
    if let Some(s) = &df.syntax {
        b.say(&format!(
            "note: # syntax={s} ignored: berth reads the Dockerfile itself"
        ));
    }
    for a in &df.global_args {
        let value = b.arg_value(a, &b.global.clone(), 0)?;
        b.global.retain(|(k, _)| *k != a.name);
        if let Some(v) = value {
            b.global.push((a.name.clone(), v));
        }
    }
    let target = match &o.target {
        None => df.stages.len() - 1,
        Some(t) => b.stage_index(t, df.stages.len()).ok_or_else(|| {
            BuildError::Usage(format!("--target {t}: no stage of that name in {}", b.file))
        })?,
    };
    let needed = b.needed(&df, target)?;
    b.build_stages(&df, needed)?;
    let mut image = b.stages[target]
        .clone()
        .ok_or_else(|| BuildError::Usage("the target stage was not built".into()))?;
    if !o.labels.is_empty() {
        image = b.labels(image)?;
    }
    let store = engine.store();
    let size = store
        .read_blob(&image.manifest_digest)
        .map_err(|e| BuildError::Usage(format!("reading the new image: {e}")))?
        .len() as u64;
    // An untagged result is named after its ID, as `commit` names one.
    let by_id = match o.tags.is_empty() {
        true => vec![Reference::parse_local(&image.id.hex()[..12])
            .map_err(|e| BuildError::Usage(e.to_string()))?],
        false => Vec::new(),
    };
    for t in o.tags.iter().chain(&by_id) {
        store
            .set_name(t, &image.manifest_digest, &image.manifest_media_type, size)
            .map_err(|e| BuildError::Usage(format!("naming the image {t}: {e}")))?;
        b.say(&format!("COMMIT {t}"));
    }
    if let Some(out) = &o.output {
        b.export(&image, out)
            .map_err(|e| BuildError::Usage(format!("--output: {e}")))?;
    }
    Ok(Built {
        image,
        steps: b.steps,
        cached: b.cached,
    })
}

/// `PID:START` of a live process (START from /proc/PID/stat, so a reused pid differs).
fn process_key(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) in parentheses; starttime is the
    // 22nd field, the 20th after it.
    let after = stat.rsplit_once(')')?.1;
    let mut fields = after.split_whitespace();
    // A zombie is gone (and stays one where nothing reaps orphans).
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    let start = fields.nth(18)?;
    Some(format!("{pid}:{start}"))
}

/// Whether the process `PID:START` names still runs.
fn alive(owner: &str) -> bool {
    owner
        .split_once(':')
        .and_then(|(pid, _)| pid.parse().ok())
        .and_then(process_key)
        .is_some_and(|k| k == owner)
}

/// Removes the step containers, secret files and stdin contexts of builds that are gone
/// (killed halfway).
fn sweep(engine: &Engine, root: &Path) {
    if let Ok(all) = engine.list(true) {
        for c in all {
            if c.labels.get(OWNER_LABEL).is_some_and(|o| !alive(o)) {
                let _ = engine.remove(&c.id, true, true);
            }
        }
    }
    for kind in ["secrets", "contexts"] {
        let dir = root.join("build-mounts").join(kind);
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().replacen('-', ":", 1);
            if !alive(&name) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// `--secret id=ID[,src=FILE|,env=VAR]`: the values by id (an id alone is the variable
/// of that name).
fn secrets(specs: &[String]) -> Result<HashMap<String, Vec<u8>>, BuildError> {
    let mut out = HashMap::new();
    for spec in specs {
        let bad = |why: String| BuildError::Usage(format!("--secret {spec}: {why}"));
        let mut id = None;
        let mut src = None;
        let mut env = None;
        for f in spec.split(',') {
            match f.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(v.to_string()),
                Some(("env", v)) => env = Some(v.to_string()),
                Some(("type", "file" | "env")) => {}
                _ => return Err(bad(format!("{f:?}: want id=, src= or env="))),
            }
        }
        let id = id.ok_or_else(|| bad("id= is required".into()))?;
        let value = match (src, env) {
            (Some(p), _) => std::fs::read(&p).map_err(|e| bad(format!("{p}: {e}")))?,
            (None, e) => {
                let var = e.unwrap_or_else(|| id.clone());
                std::env::var_os(&var)
                    .map(|v| v.into_encoded_bytes())
                    .ok_or_else(|| {
                        bad(format!("no src= and no variable {var} in the environment"))
                    })?
            }
        };
        out.insert(id, value);
    }
    Ok(out)
}

/// `.dockerignore`, else `.containerignore`, of the context.
fn read_ignore(context: &Path) -> Result<Ignore, BuildError> {
    for name in [".dockerignore", ".containerignore"] {
        let p = context.join(name);
        match std::fs::read_to_string(&p) {
            Ok(t) => return Ok(Ignore::parse(&t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(BuildError::Usage(format!("reading {}: {e}", p.display()))),
        }
    }
    Ok(Ignore::default())
}

/// The ARGs BuildKit defines for this host's platform.
fn platform_args() -> Vec<(String, String)> {
    let p = berth_image::registry::Platform::host();
    let platform = format!("{}/{}", p.os, p.architecture);
    let mut out = Vec::new();
    for side in ["BUILD", "TARGET"] {
        out.push((format!("{side}PLATFORM"), platform.clone()));
        out.push((format!("{side}OS"), p.os.clone()));
        out.push((format!("{side}ARCH"), p.architecture.clone()));
        out.push((
            format!("{side}VARIANT"),
            p.variant.clone().unwrap_or_default(),
        ));
    }
    out
}

impl Build<'_> {
    fn say(&self, line: &str) {
        if !self.o.quiet {
            (self.log)(line);
        }
    }

    /// Builds the stages `needed` lists (each with the stages it needs), a stage once those
    /// are built: the ones ready together at once, each in a thread of its own.
    fn build_stages(
        &mut self,
        df: &dockerfile::Dockerfile,
        mut needed: Vec<(usize, Vec<usize>)>,
    ) -> Result<(), BuildError> {
        let several = df.stages.len() > 1;
        while !needed.is_empty() {
            let (ready, later): (Vec<_>, Vec<_>) = needed
                .into_iter()
                .partition(|(_, deps)| deps.iter().all(|d| self.stages[*d].is_some()));
            needed = later;
            if ready.is_empty() {
                return Err(BuildError::Usage(
                    "the stages depend on each other in a cycle".into(),
                ));
            }
            let builds: Vec<Build<'_>> = ready
                .iter()
                .map(|(i, _)| {
                    let mut b = self.clone();
                    b.current = *i;
                    b.label = match (several, &df.stages[*i].name) {
                        (false, _) => String::new(),
                        (true, Some(n)) => format!("{n} "),
                        (true, None) => format!("stage-{i} "),
                    };
                    (b.steps, b.cached) = (0, 0);
                    b.parallel = ready.len() > 1;
                    b
                })
                .collect();
            let results: Vec<(Build<'_>, Result<Image, BuildError>)> = match builds.len() {
                1 => builds
                    .into_iter()
                    .map(|mut b| {
                        let r = b.run_stage(&df.stages[b.current], b.current);
                        (b, r)
                    })
                    .collect(),
                _ => std::thread::scope(|scope| {
                    let handles: Vec<_> = builds
                        .into_iter()
                        .map(|mut b| {
                            scope.spawn(move || {
                                let r = b.run_stage(&df.stages[b.current], b.current);
                                (b, r)
                            })
                        })
                        .collect();
                    handles.into_iter().filter_map(|h| h.join().ok()).collect()
                }),
            };
            if results.len() != ready.len() {
                return Err(BuildError::Usage("a stage's thread panicked".into()));
            }
            let mut failed: Vec<BuildError> = Vec::new();
            for (b, r) in results {
                self.steps += b.steps;
                self.cached += b.cached;
                match r {
                    Ok(image) => self.stages[b.current] = Some(image),
                    Err(e) => failed.push(e),
                }
            }
            // Stages side by side may each fail: all are told, the first as the error.
            let mut failed = failed.into_iter();
            if let Some(first) = failed.next() {
                for e in failed {
                    self.say(&format!("also: {e}"));
                }
                return Err(first);
            }
        }
        Ok(())
    }

    /// An ARG's value: the `--build-arg`, else its default expanded with `vars`.
    fn arg_value(
        &self,
        a: &dockerfile::ArgDecl,
        vars: &[(String, String)],
        line: usize,
    ) -> Result<Option<String>, BuildError> {
        if let Some(v) = self.build_args.get(&a.name) {
            return Ok(Some(v.clone()));
        }
        let Some(d) = &a.default else {
            return Ok(None);
        };
        let lookup = |n: &str| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        let v = expand(d, self.escape, &lookup).map_err(|why| self.error(line, "ARG", why))?;
        Ok(Some(
            berth_image::change::unquote(&v).map_err(|why| self.error(line, "ARG", why))?,
        ))
    }

    /// A stage named `name` (or numbered) before `before`.
    fn stage_index(&self, name: &str, before: usize) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Some(i) = self.names[..before]
            .iter()
            .position(|n| n.as_deref() == Some(&lower))
        {
            return Some(i);
        }
        name.parse::<usize>().ok().filter(|&i| i < before)
    }

    /// The stages `target` depends on (through FROM, COPY --from and RUN --mount from=),
    /// and itself, in order, each with the stages it needs.
    fn needed(
        &self,
        df: &dockerfile::Dockerfile,
        target: usize,
    ) -> Result<Vec<(usize, Vec<usize>)>, BuildError> {
        let mut need = vec![false; df.stages.len()];
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); df.stages.len()];
        need[target] = true;
        for i in (0..=target).rev() {
            if !need[i] {
                continue;
            }
            let s = &df.stages[i];
            let base = self.expand_global(&s.base, s.line, "FROM")?;
            deps[i].extend(self.stage_index(&base, i));
            for step in &s.steps {
                let froms: Vec<&str> = match &step.instruction {
                    dockerfile::Instruction::Copy(c) => c.from.as_deref().into_iter().collect(),
                    // `RUN --mount=...,from=STAGE,...`
                    dockerfile::Instruction::Run(r) => r
                        .mounts
                        .iter()
                        .flat_map(|m| m.split(','))
                        .filter_map(|f| f.strip_prefix("from="))
                        .collect(),
                    _ => Vec::new(),
                };
                for from in froms {
                    let from = self.expand_global(from, step.line, &step.keyword)?;
                    match self.stage_index(&from, i) {
                        Some(d) => deps[i].push(d),
                        None if self
                            .names
                            .iter()
                            .any(|n| n.as_deref() == Some(&from.to_ascii_lowercase())) =>
                        {
                            return Err(self.error(
                                step.line,
                                &step.keyword,
                                format!(
                                    "--from={from}: a stage can copy only from stages before it"
                                ),
                            ))
                        }
                        None => {}
                    }
                }
            }
            for &d in &deps[i] {
                need[d] = true;
            }
        }
        Ok((0..=target)
            .filter(|&i| need[i])
            .map(|i| (i, std::mem::take(&mut deps[i])))
            .collect())
    }

    /// `s` with the global ARGs substituted, as one word.
    fn expand_global(&self, s: &str, line: usize, what: &str) -> Result<String, BuildError> {
        let lookup = |n: &str| {
            self.global
                .iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        let v = expand(s, self.escape, &lookup).map_err(|why| self.error(line, what, why))?;
        berth_image::change::unquote(&v).map_err(|why| self.error(line, what, why))
    }

    /// A step's own error of an inner call, without the file and line it would repeat.
    fn why(e: BuildError) -> String {
        match e {
            BuildError::Step { why, .. } => why,
            e => e.to_string(),
        }
    }

    fn error(&self, line: usize, instruction: &str, why: String) -> BuildError {
        BuildError::Step {
            file: self.file.clone(),
            line,
            instruction: instruction.to_string(),
            why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_keys() {
        let me = std::process::id();
        let key = process_key(me).unwrap();
        assert!(key.starts_with(&format!("{me}:")), "{key}");
        assert!(alive(&key));
        assert!(
            !alive(&format!("{me}:1")),
            "another start time is another process"
        );
        assert_eq!(process_key(u32::MAX), None);
    }
}
