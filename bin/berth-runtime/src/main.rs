//! `berth-runtime`: an OCI runtime with runc's command line. Argument parsing and output only;
//! the work is done by the `berth-container` library.

mod cli;
mod commands;
mod log;

use clap::Parser;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // One line, like every other error of ours: clap's first line without its prefix.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            eprintln!("berth-runtime: {}", first.trim_start_matches("error: "));
            std::process::exit(1)
        }
    };
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
