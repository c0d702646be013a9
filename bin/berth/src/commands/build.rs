//! `berth build [OPTIONS] CONTEXT` (and `berth image build`): an image from a Dockerfile,
//! built by berth-build on this engine and store; `berth builder prune` drops its cache.

use std::path::PathBuf;

use anyhow::Context as _;
use berth_build::builder::{self, Bases, BuildOptions, Output};
use berth_engine::options::TuningFlags;
use berth_engine::RunOptions;
use berth_image::registry::Platform;
use berth_image::store::{Image, Store};
use berth_image::Reference;

use super::run::{ensure_image, PullPolicy};
use super::update::ResourceArgs;
use crate::context::Context;

/// Build an image from a Dockerfile.
#[derive(clap::Args)]
pub struct Args {
    /// Name the image (REPOSITORY[:TAG]); may be given several times.
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    tags: Vec<String>,
    /// The Dockerfile, `-` for stdin (default: CONTEXT/Dockerfile, else CONTEXT/Containerfile).
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    file: Option<PathBuf>,
    /// KEY=VALUE for an ARG (KEY alone: its value in this environment).
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    build_args: Vec<String>,
    /// Build up to this stage (a name or index).
    #[arg(long)]
    target: Option<String>,
    /// Run every step again instead of reusing cached ones.
    #[arg(long)]
    no_cache: bool,
    /// Base images: pull missing ones (default), always, or never; --pull alone is always.
    #[arg(long, value_enum, default_value = "missing", num_args = 0..=1,
          require_equals = true, default_missing_value = "always")]
    pull: PullPolicy,
    /// KEY=VALUE labels of the image.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Write the image ID to this file.
    #[arg(long, value_name = "FILE")]
    iidfile: Option<PathBuf>,
    /// The image's platform: only this host's can be built.
    #[arg(long)]
    platform: Option<Platform>,
    /// Print only the image ID.
    #[arg(short, long)]
    quiet: bool,
    /// The network of RUN steps: default (the default bridge), none or host.
    #[arg(long)]
    network: Option<String>,
    /// A secret for `RUN --mount=type=secret`: id=ID[,src=FILE|,env=VARIABLE].
    #[arg(long = "secret", value_name = "id=ID,src=FILE")]
    secrets: Vec<String>,
    /// Also write the result's files: type=local,dest=DIR (or DIR), type=tar,dest=FILE (or -).
    #[arg(short = 'o', long, value_name = "SPEC")]
    output: Option<String>,
    /// The cgroup of the RUN steps' containers (default /berth).
    #[arg(long, value_name = "PATH")]
    cgroup_parent: Option<String>,
    #[command(flatten)]
    step: StepArgs,
    /// Remove the steps' containers (always: berth keeps none).
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    rm: bool,
    /// Remove the steps' containers also after a failure (always).
    #[arg(long)]
    force_rm: bool,
    /// Accepted for docker's command line: the context is read where it is, never sent.
    #[arg(long)]
    compress: bool,
    /// The build context: a directory, or `-` for a tar (or a Dockerfile alone) on stdin.
    context: PathBuf,
}

/// What the RUN steps' containers get, as `run` takes it.
#[derive(clap::Args)]
struct StepArgs {
    #[command(flatten)]
    resources: ResourceArgs,
    /// HOST:IP lines for /etc/hosts.
    #[arg(long, value_name = "HOST:IP")]
    add_host: Vec<String>,
    /// Size of /dev/shm.
    #[arg(long)]
    shm_size: Option<String>,
    /// Resource limits (nofile=1024:2048).
    #[arg(long)]
    ulimit: Vec<String>,
    /// Security options (seccomp=, apparmor=, no-new-privileges).
    #[arg(long)]
    security_opt: Vec<String>,
}

impl StepArgs {
    fn options(self) -> RunOptions {
        let mut o = RunOptions {
            add_host: self.add_host,
            tuning: TuningFlags {
                shm_size: self.shm_size,
                ulimits: self.ulimit,
                security_opts: self.security_opt,
                ..Default::default()
            },
            ..Default::default()
        };
        self.resources.apply(&mut o);
        o
    }
}

/// Base images from the store, pulled as `--pull` says.
struct Pulling<'a> {
    ctx: &'a Context,
    store: &'a Store,
    pull: PullPolicy,
    quiet: bool,
}

impl Bases for Pulling<'_> {
    fn base(&self, reference: &str) -> Result<Image, String> {
        ensure_image(
            self.ctx,
            self.store,
            reference,
            self.pull,
            &Platform::host(),
            self.quiet,
        )
        .map_err(|e| format!("{e:#}"))
    }
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    if !a.rm {
        anyhow::bail!("--rm=false: berth does not keep the steps' containers");
    }
    let _ = (a.force_rm, a.compress);
    if let Some(p) = a.platform.as_ref().filter(|p| **p != Platform::host()) {
        anyhow::bail!(
            "--platform {p}: berth builds only for this host's platform ({})",
            Platform::host()
        );
    }
    let tags = a
        .tags
        .iter()
        .map(|t| Reference::parse_local(t).with_context(|| format!("-t {t}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let engine = ctx.engine()?;
    let o = BuildOptions {
        context: a.context.clone(),
        dockerfile: a.file.clone(),
        tags,
        build_args: a.build_args,
        target: a.target,
        no_cache: a.no_cache,
        labels: a.labels,
        network: a.network,
        quiet: a.quiet,
        cgroup_parent: a.cgroup_parent,
        root: ctx.root.clone(),
        secrets: a.secrets,
        output: a
            .output
            .as_deref()
            .map(Output::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        step: a.step.options(),
        monitor: ctx.monitor_command(),
    };
    let bases = Pulling {
        ctx,
        store: engine.store(),
        pull: a.pull,
        quiet: a.quiet,
    };
    let built = builder::build(&engine, &o, &bases, &|line| eprintln!("{line}"))?;
    let id = built.image.id.to_string();
    if let Some(f) = &a.iidfile {
        std::fs::write(f, &id).with_context(|| format!("--iidfile {}", f.display()))?;
    }
    for t in &o.tags {
        ctx.image_event("tag", &id, &t.to_string());
    }
    // A tar on stdout is the output: nothing else goes there.
    if o.output != Some(Output::Tar(None)) {
        println!("{}", built.image.id.hex());
    }
    Ok(())
}

/// `berth builder VERB`.
#[derive(clap::Subcommand)]
pub enum Builder {
    /// Remove the build cache.
    Prune(PruneArgs),
}

/// Remove the build cache.
#[derive(clap::Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short, long)]
    force: bool,
    /// Accepted for docker's command line: berth's cache has only one kind of entry.
    #[arg(short, long)]
    all: bool,
}

pub fn prune(a: PruneArgs, ctx: &Context) -> anyhow::Result<()> {
    if !a.force && !super::confirm("This will remove all build cache.")? {
        return Ok(());
    }
    let store = ctx.store()?;
    let n = builder::prune(&store, &ctx.root)?;
    let report = store.gc()?;
    println!(
        "Deleted {n} build cache entries ({} blobs, {} snapshots no longer used)",
        report.blobs, report.snapshots
    );
    Ok(())
}
