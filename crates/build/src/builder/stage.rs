//! One stage: FROM, then each instruction as a step whose result is an image of the store
//! (found in the cache or made).

use std::path::Path;

use berth_engine::logs::LogsOptions;
use berth_engine::run::Outcome;
use berth_engine::time::go_duration;
use berth_engine::RunOptions;
use berth_image::change::{apply_instruction, unquote};
use berth_image::commit::{self as image_commit, CommitOptions};
use berth_image::reference::Reference;
use berth_image::store::Image;
use serde_json::{json, Map, Value};

use super::mounts::{self, Prepared};
use super::{cache, Build, BuildError, OWNER_LABEL};
use crate::dockerfile::expand::expand;
use crate::dockerfile::{self, Command, Instruction, Step};

/// Lines of a failed RUN's output shown in the error.
const TAIL_LINES: usize = 10;

/// A stage being built.
pub(crate) struct StageState {
    pub image: Image,
    pub config: Map<String, Value>,
    /// A CMD was given in this stage (an ENTRYPOINT then keeps it).
    cmd_set: bool,
    /// The ARGs declared in this stage, with values.
    args: Vec<(String, String)>,
    pub shell: Vec<String>,
    author: Option<String>,
}

impl StageState {
    /// A variable's value for substitution: ENV wins over ARG.
    pub fn var(&self, name: &str) -> Option<String> {
        self.env()
            .into_iter()
            .rev()
            .find_map(|e| e.strip_prefix(&format!("{name}=")).map(str::to_string))
            .or_else(|| {
                self.args
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
    }

    fn env(&self) -> Vec<String> {
        self.config
            .get("Env")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    pub fn workdir(&self) -> String {
        self.config
            .get("WorkingDir")
            .and_then(Value::as_str)
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_string()
    }
}

impl Build<'_> {
    pub(super) fn run_stage(
        &mut self,
        s: &dockerfile::Stage,
        index: usize,
    ) -> Result<Image, BuildError> {
        let base = self.expand_global(&s.base, s.line, "FROM")?;
        let count = 1 + s.steps.len();
        self.steps += 1;
        self.say(&format!("[{}1/{count}] FROM {base}", self.label));
        if let Some(p) = &s.platform {
            let p = self.expand_global(p, s.line, "FROM")?;
            let host = berth_image::registry::Platform::host();
            if p != format!("{}/{}", host.os, host.architecture) {
                return Err(self.error(
                    s.line,
                    "FROM",
                    format!(
                        "--platform={p}: only this host's platform ({}/{}) can be built",
                        host.os, host.architecture
                    ),
                ));
            }
        }
        let image = self.base_image(&base, index, s.line, "FROM")?;
        let mut config = self.image_config(&image, s.line)?;
        let onbuild: Vec<String> = config
            .remove("OnBuild")
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let mut st = StageState {
            image,
            config,
            cmd_set: false,
            args: Vec::new(),
            shell: vec!["/bin/sh".into(), "-c".into()],
            author: None,
        };
        if let Some(shell) = st
            .config
            .get("Shell")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
        {
            st.shell = shell;
        }
        // The base image's ONBUILD triggers run first, as if written after the FROM.
        for trigger in onbuild {
            let df = dockerfile::parse(&format!("FROM scratch\n{trigger}\n"), &self.file)
                .map_err(|e| self.error(s.line, "ONBUILD", e.why))?;
            for step in &df.stages[0].steps {
                let step = Step {
                    line: s.line,
                    ..step.clone()
                };
                self.say(&format!("ONBUILD {trigger}"));
                self.step(&mut st, &step)?;
            }
        }
        for (n, step) in s.steps.iter().enumerate() {
            self.steps += 1;
            let started = std::time::Instant::now();
            self.say(&format!(
                "[{}{}/{count}] {} {}",
                self.label,
                n + 2,
                step.keyword,
                step.rest
            ));
            self.started = Some(started);
            self.step(&mut st, step)?;
        }
        Ok(st.image)
    }

    /// A stage's or an image's result: an earlier stage by name or index, `scratch`, or
    /// an image from the store (or a registry).
    pub(super) fn base_image(
        &mut self,
        name: &str,
        before: usize,
        line: usize,
        what: &str,
    ) -> Result<Image, BuildError> {
        if let Some(i) = self.stage_index(name, before) {
            return self.stages[i]
                .clone()
                .ok_or_else(|| self.error(line, what, format!("stage {name} was not built")));
        }
        if name.eq_ignore_ascii_case("scratch") {
            let r = cache::reference("scratch").map_err(|e| self.error(line, what, e))?;
            return match self.engine.store().image(&r.to_string()) {
                Ok(i) => Ok(i),
                Err(_) => image_commit::scratch(self.engine.store(), &r)
                    .map_err(|e| self.error(line, what, e.to_string())),
            };
        }
        self.bases.base(name).map_err(|e| self.error(line, what, e))
    }

    fn image_config(&self, image: &Image, line: usize) -> Result<Map<String, Value>, BuildError> {
        let raw = self
            .engine
            .store()
            .read_blob(&image.id)
            .map_err(|e| self.error(line, "FROM", e.to_string()))?;
        let v: Value = serde_json::from_slice(&raw)
            .map_err(|e| self.error(line, "FROM", format!("image config: {e}")))?;
        Ok(v["config"].as_object().cloned().unwrap_or_default())
    }

    fn step(&mut self, st: &mut StageState, step: &Step) -> Result<(), BuildError> {
        let err = |b: &Self, why: String| b.error(step.line, &step.keyword, why);
        let expand_rest = |b: &Self, st: &StageState| {
            expand(&step.rest, b.escape, &|n| st.var(n)).map_err(|why| err(b, why))
        };
        match &step.instruction {
            Instruction::Arg(decls) => {
                for a in decls {
                    let mut vars = self.global.clone();
                    vars.extend(st.args.iter().cloned());
                    let value = match self.arg_value(a, &vars, step.line)? {
                        Some(v) => Some(v),
                        // `ARG NAME` in a stage takes the global ARG's value.
                        None => self
                            .global
                            .iter()
                            .rev()
                            .find(|(k, _)| *k == a.name)
                            .map(|(_, v)| v.clone()),
                    };
                    st.args.retain(|(k, _)| *k != a.name);
                    if let Some(v) = value {
                        st.args.push((a.name.clone(), v));
                    }
                }
                Ok(())
            }
            Instruction::Config => {
                let rest = match step.keyword.as_str() {
                    // A trigger runs in the child's build, with its variables.
                    "ONBUILD" => step.rest.clone(),
                    _ => expand_rest(self, st)?,
                };
                if step.keyword == "MAINTAINER" {
                    st.author = Some(unquote(&rest).map_err(|e| err(self, e))?);
                } else {
                    apply_instruction(&mut st.config, &step.keyword, &rest, &mut st.cmd_set)
                        .map_err(|e| err(self, e))?;
                }
                self.config_step(st, step, &format!("{} {rest}", step.keyword))
            }
            Instruction::Cmd(c) | Instruction::Entrypoint(c) => {
                let argv = match c {
                    Command::Exec(v) => v.clone(),
                    Command::Shell(s) => [st.shell.clone(), vec![s.clone()]].concat(),
                };
                if step.keyword == "CMD" {
                    st.config.insert("Cmd".into(), json!(argv));
                    st.cmd_set = true;
                } else {
                    st.config.insert("Entrypoint".into(), json!(argv));
                    if !st.cmd_set {
                        st.config.insert("Cmd".into(), Value::Null);
                    }
                }
                self.config_step(st, step, &format!("{} {}", step.keyword, step.rest))
            }
            Instruction::Shell(v) => {
                st.shell = v.clone();
                st.config.insert("Shell".into(), json!(v));
                self.config_step(st, step, &format!("SHELL {}", step.rest))
            }
            Instruction::Healthcheck(h) => {
                let v = match h {
                    None => json!({ "Test": ["NONE"] }),
                    Some(h) => health(h).map_err(|e| err(self, e))?,
                };
                st.config.insert("Healthcheck".into(), v.clone());
                self.config_step(st, step, &format!("HEALTHCHECK {}", step.rest))
            }
            Instruction::Run(r) => self.run_step(st, step, r),
            Instruction::Copy(c) => self.copy_step(st, step, c, false),
            Instruction::Add(c) => self.copy_step(st, step, c, true),
        }
    }

    /// A step that changes the config only: no layer, one more history entry.
    fn config_step(
        &mut self,
        st: &mut StageState,
        step: &Step,
        what: &str,
    ) -> Result<(), BuildError> {
        let created_by = format!("/bin/sh -c #(nop) {what}");
        self.commit(st, step, &created_by, "", |b, st, opts, r| {
            let changes = image_commit::no_changes(b.engine.store()).map_err(|e| e.to_string())?;
            changes
                .into_image(&st.image, opts, Some(r))
                .map_err(|e| e.to_string())
        })
    }

    /// Finds the step's image in the cache, or makes it with `make` and names it so.
    pub(super) fn commit(
        &mut self,
        st: &mut StageState,
        step: &Step,
        created_by: &str,
        content: &str,
        make: impl FnOnce(&mut Self, &StageState, &CommitOptions, &Reference) -> Result<Image, String>,
    ) -> Result<(), BuildError> {
        let key = cache::key(&st.image.id, created_by, &st.config, content);
        let r = cache::reference(&key).map_err(|e| self.error(step.line, &step.keyword, e))?;
        if !self.o.no_cache {
            if let Ok(image) = self.engine.store().image(&r.to_string()) {
                self.cached += 1;
                self.say(&format!(
                    "{}--> Using cache {}",
                    self.label,
                    image.id.short()
                ));
                st.image = image;
                return Ok(());
            }
        }
        let opts = CommitOptions {
            config: st.config.clone(),
            author: st.author.clone(),
            comment: None,
            created_by: created_by.to_string(),
        };
        let image =
            make(self, st, &opts, &r).map_err(|e| self.error(step.line, &step.keyword, e))?;
        let took = self
            .started
            .take()
            .map(|t| format!(" {:.2}s", t.elapsed().as_secs_f64()));
        self.say(&format!(
            "{}--> {}{}",
            self.label,
            image.id.short(),
            took.unwrap_or_default()
        ));
        st.image = image;
        Ok(())
    }

    fn run_step(
        &mut self,
        st: &mut StageState,
        step: &Step,
        r: &dockerfile::Run,
    ) -> Result<(), BuildError> {
        let err = |b: &Self, why: String| b.error(step.line, "RUN", why);
        let mounts = r
            .mounts
            .iter()
            .map(|m| {
                let m = expand(m, self.escape, &|n| st.var(n)).and_then(|m| unquote(&m))?;
                mounts::parse(&m, &st.workdir())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(self, e))?;
        let argv = match &r.command {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                let script = match r.heredocs.as_slice() {
                    // `RUN <<EOF` alone: the heredoc is the script.
                    [h] if s
                        .trim()
                        .trim_start_matches("<<")
                        .trim_start_matches('-')
                        .trim_matches(['"', '\''])
                        == h.name =>
                    {
                        h.body.clone()
                    }
                    hs => {
                        let mut t = s.clone();
                        for h in hs {
                            t.push('\n');
                            t.push_str(&h.body);
                            t.push_str(&h.name);
                        }
                        t
                    }
                };
                [st.shell.clone(), vec![script]].concat()
            }
        };
        // ARG values are in the RUN's environment unless an ENV of the same name is.
        let env: Vec<String> = st
            .args
            .iter()
            .filter(|(k, _)| {
                !st.env()
                    .iter()
                    .any(|e| e.split('=').next() == Some(k.as_str()))
            })
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        // The proxy ARGs reach the RUN without a declaration, and stay out of its history.
        let proxies: Vec<String> = super::PROXY_ARGS
            .iter()
            .filter(|k| !st.args.iter().any(|(a, _)| a == *k))
            .filter_map(|k| self.build_args.get(*k).map(|v| format!("{k}={v}")))
            .collect();
        let network = r
            .network
            .clone()
            .or_else(|| self.o.network.clone())
            .filter(|n| n != "default");
        let mut created_by = argv.join(" ");
        if !env.is_empty() {
            created_by = format!("|{} {} {created_by}", env.len(), env.join(" "));
        }
        let content = format!(
            "network={network:?}\n{}",
            self.mounts_key(&mounts, step.line)
                .map_err(|e| err(self, e))?
        );
        self.commit(st, step, &created_by, &content, |b, st, opts, name| {
            let mut prepared = Prepared::default();
            let ran = b
                .prepare(&mounts, st, step.line, &mut prepared)
                .and_then(|()| {
                    let o = RunOptions {
                        image: st.image.id.to_string(),
                        command: argv.clone(),
                        entrypoint: Some(String::new()),
                        env: [env.clone(), proxies.clone()].concat(),
                        network: network.clone().into_iter().collect(),
                        mounts: prepared.mounts.clone(),
                        tmpfs: prepared.tmpfs.clone(),
                        // Under berth-init, Ctrl-C (forwarded to the container) ends the
                        // step's command; as PID 1 it would ignore SIGINT.
                        init: true,
                        ..b.o.step.clone()
                    };
                    b.in_container(&o, |b, id, merged| {
                        let stubs = mounts::missing_parents(merged, &mounts)?;
                        match b.run_container(id)? {
                            0 => {}
                            code => return Err(format!("exit status {code}{}", b.output_tail(id))),
                        }
                        mounts::remove_stubs(merged, &stubs)?;
                        b.engine
                            .commit_and_consume(id, opts, Some(name))
                            .map_err(|e| e.to_string())
                    })
                });
            let released = b.release(prepared);
            let image = ran?;
            released.map(|()| image)
        })
    }

    /// Runs created container `id` to its end; returns its exit status. Alone, this
    /// process attends it (its output is the build's as it comes). Beside another stage,
    /// a monitor does (one process attends one container at a time: it reaps its
    /// children), and the output is shown when the step ends, each line after the stage's
    /// name.
    fn run_container(&mut self, id: &str) -> Result<i32, String> {
        if !self.parallel {
            return match self.engine.run_created(id, false, !self.o.quiet) {
                Ok(Outcome::Exited(code)) => Ok(code),
                Ok(Outcome::Detached(_)) => Err("the step's container detached".into()),
                Err(e) => Err(e.to_string()),
            };
        }
        self.engine
            .start(id, &self.o.monitor)
            .map_err(|e| e.to_string())?;
        let code = self.engine.wait(id).map_err(|e| e.to_string())?;
        if !self.o.quiet {
            let label = self.label.trim_end().to_string();
            let _ = self.engine.logs(id, &LogsOptions::default(), &mut |e| {
                let text = String::from_utf8_lossy(&e.text);
                (self.log)(&format!("{label}: {}", text.trim_end_matches('\n')));
                Ok(())
            });
        }
        Ok(code)
    }

    /// Creates a container of `image` that only holds a root filesystem (nothing runs in
    /// it); returns its ID. The caller removes it.
    pub(super) fn scratch(&mut self, image: &str) -> Result<String, String> {
        self.create(&scratch_options(image))
    }

    /// Creates a step's container: labelled with this build, volatile, in `--cgroup-parent`.
    fn create(&mut self, o: &RunOptions) -> Result<String, String> {
        let mut o = o.clone();
        o.labels.push(format!("{OWNER_LABEL}={}", self.owner));
        o.cgroup_parent = self.o.cgroup_parent.clone();
        o.volatile = true;
        Ok(self.engine.create(&o).map_err(|e| e.to_string())?.id)
    }

    /// Creates a container with `o`, passes its ID and root filesystem's mount point to
    /// `f`, and removes it whatever `f` returns.
    pub(super) fn in_container<T>(
        &mut self,
        o: &RunOptions,
        f: impl FnOnce(&mut Self, &str, &Path) -> Result<T, String>,
    ) -> Result<T, String> {
        let id = self.create(o)?;
        let out = self
            .engine
            .store()
            .rootfs_mount_point(&id)
            .map_err(|e| e.to_string())
            .and_then(|merged| f(self, &id, &merged));
        let removed = self.engine.remove(&id, true, true);
        match (out, removed) {
            (Ok(v), Ok(_)) => Ok(v),
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(format!("removing the step's container: {e}")),
        }
    }

    /// The last lines a container wrote, for an error.
    fn output_tail(&self, id: &str) -> String {
        let mut lines: Vec<String> = Vec::new();
        let _ = self.engine.logs(id, &LogsOptions::default(), &mut |e| {
            lines.push(String::from_utf8_lossy(&e.text).trim_end().to_string());
            if lines.len() > TAIL_LINES {
                lines.remove(0);
            }
            Ok(())
        });
        match lines.is_empty() {
            true => String::new(),
            false => format!("; its last output:\n{}", lines.join("\n")),
        }
    }

    /// `--label`s on the result: one more config step.
    pub(super) fn labels(&mut self, image: Image) -> Result<Image, BuildError> {
        let mut config = self.image_config(&image, 0)?;
        let mut unused = false;
        for l in &self.o.labels {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            let rest = format!("{}={}", json!(k), json!(v));
            apply_instruction(&mut config, "LABEL", &rest, &mut unused)
                .map_err(|e| BuildError::Usage(format!("--label {l}: {e}")))?;
        }
        let mut st = StageState {
            image,
            config,
            cmd_set: false,
            args: Vec::new(),
            shell: Vec::new(),
            author: None,
        };
        let step = Step {
            line: 0,
            column: 0,
            keyword: "LABEL".into(),
            rest: self.o.labels.join(" "),
            instruction: Instruction::Config,
        };
        self.config_step(
            &mut st,
            &step,
            &format!("LABEL {}", self.o.labels.join(" ")),
        )?;
        Ok(st.image)
    }
}

/// A container that only holds a root filesystem of `image`: nothing runs in it.
pub(super) fn scratch_options(image: &str) -> RunOptions {
    RunOptions {
        image: image.to_string(),
        command: vec!["true".into()],
        entrypoint: Some(String::new()),
        network: vec!["none".into()],
        ..Default::default()
    }
}

/// HEALTHCHECK's config, as docker writes it (durations in nanoseconds).
fn health(h: &dockerfile::Health) -> Result<Value, String> {
    let test = match &h.command {
        Command::Exec(v) => [vec!["CMD".to_string()], v.clone()].concat(),
        Command::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
    };
    let mut out = json!({ "Test": test });
    for (k, v) in &h.flags {
        let field = match k.as_str() {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => {
                let n: u64 = v
                    .parse()
                    .map_err(|_| format!("--retries={v}: want a number"))?;
                out["Retries"] = json!(n);
                continue;
            }
            _ => continue,
        };
        out[field] = json!(go_duration(v)
            .filter(|n| *n >= 0)
            .ok_or_else(|| format!("--{k}={v}: want a duration such as 30s or 1m30s"))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_config() {
        let h = dockerfile::Health {
            flags: vec![
                ("interval".into(), "5s".into()),
                ("retries".into(), "3".into()),
            ],
            command: Command::Shell("true".into()),
        };
        assert_eq!(
            health(&h).unwrap(),
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000u64, "Retries": 3})
        );
    }
}
