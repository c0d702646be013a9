//! `berth volume create [OPTIONS] [VOLUME]`: make a volume (a generated name without one).

use anyhow::bail;
use berth_engine::volumes::VolumeSpec;

use crate::context::Context;

/// Create a volume.
#[derive(clap::Args)]
pub struct Args {
    /// Volume driver (only local).
    #[arg(short, long, default_value = "local")]
    driver: String,
    /// Set a label: KEY=VALUE, or KEY.
    #[arg(long = "label", value_name = "KEY[=VALUE]")]
    labels: Vec<String>,
    /// A local driver option: type=, device=, o= (as mount(8) takes them).
    #[arg(short, long = "opt", value_name = "KEY=VALUE")]
    opts: Vec<String>,
    /// Name of the volume (as the argument).
    #[arg(long = "name", hide = true)]
    flag_name: Option<String>,
    /// Name of the volume (default: 64 random hex digits).
    name: Option<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let mut spec = VolumeSpec::default();
    for l in &a.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        spec.labels.insert(k.to_string(), v.to_string());
    }
    for o in &a.opts {
        let Some((k, v)) = o.split_once('=') else {
            bail!("--opt {o:?}: want KEY=VALUE");
        };
        spec.options.insert(k.to_string(), v.to_string());
    }
    let name = match (&a.name, &a.flag_name) {
        (Some(n), Some(f)) if n != f => bail!("two names given: {f:?} and {n:?}"),
        (n, f) => n.as_deref().or(f.as_deref()),
    };
    let v = ctx.engine()?.create_volume(name, Some(&a.driver), &spec)?;
    println!("{}", v.name);
    Ok(())
}
