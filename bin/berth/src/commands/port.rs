//! `berth port CONTAINER [PORT[/PROTO]]`: a container's published ports, as docker prints
//! them.

use anyhow::bail;

use crate::context::Context;

/// Show a container's published ports.
#[derive(clap::Args)]
pub struct Args {
    container: String,
    /// Only this container port (`80`, `53/udp`).
    port: Option<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let ports = ctx.engine()?.ports(&a.container)?;
    let Some(want) = a.port else {
        for m in &ports {
            println!("{m}");
        }
        return Ok(());
    };
    let (port, proto) = want.split_once('/').unwrap_or((&want, "tcp"));
    let hits: Vec<_> = ports
        .iter()
        .filter(|m| m.port.to_string() == port && m.proto.to_string() == proto)
        .collect();
    if hits.is_empty() {
        bail!(
            "no public port {port}/{proto} published for {}",
            a.container
        );
    }
    for m in hits {
        let published = m.published();
        println!("{}", published.split("->").next().unwrap_or_default());
    }
    Ok(())
}
