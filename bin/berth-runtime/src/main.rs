//! `berth-runtime`: an OCI runtime with runc's command line. Argument parsing and output only;
//! the work is done by the `berth-container` library.

mod cli;
mod commands;
mod log;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let logger = log::init(&cli.global);
    let code = match commands::dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            logger.error(&one_line(&e));
            1
        }
    };
    std::process::exit(code)
}

/// The error and its causes on one line, each cause once: library errors already carry their
/// source's text in their own message.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}
