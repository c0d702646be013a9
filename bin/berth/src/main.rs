//! `berth`: the container engine's command line. Each command lives in
//! `commands/<name>.rs`, parses its arguments and calls the library.

mod commands;
mod context;
mod progress;

use clap::Parser;

use commands::Command;
use context::GlobalArgs;

#[derive(Parser)]
#[command(name = "berth", version, about = "A daemonless container engine")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = commands::run(cli.command, &cli.global.into_context()) {
        eprintln!("berth: {}", one_line(&e));
        std::process::exit(1);
    }
}

/// The error and its causes joined with ": ", skipping a cause whose text the message
/// already carries (library errors include their cause in their own message).
fn one_line(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for cause in e.chain() {
        let t = cause.to_string();
        if !s.contains(&t) {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(&t);
        }
    }
    s.replace('\n', " ")
}
