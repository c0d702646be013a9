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
    // A listing ends quietly when its reader goes away (`berth ps | head`) instead of
    // panicking in println!. A monitor keeps ignoring SIGPIPE: it must record the exit even
    // when the `berth` that started it is gone.
    if !matches!(cli.command, Command::Monitor(_)) {
        // SAFETY: sets one signal's disposition before any other thread exists.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    if cli.command.adds_images() {
        clean_up_on_termination();
    }
    let failure = cli.command.failure_status();
    match commands::run(cli.command, &cli.global.into_context()) {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("berth: {}", one_line(&e));
            std::process::exit(failure);
        }
    }
}

/// Signals that end a command early.
const TERMINATING: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// Makes a terminating signal remove the staging areas of the command's store additions,
/// then end the process with 128 + the signal. The signals are blocked before any other
/// thread exists, so only the waiting thread receives them.
fn clean_up_on_termination() {
    use berth_sys::signal;
    let Ok(previous) = signal::block(&TERMINATING) else {
        return;
    };
    let waiter = std::thread::Builder::new().spawn(move || match signal::wait(&TERMINATING) {
        Ok(sig) => {
            berth_image::store::discard_staging_of_this_process();
            berth_sys::process::exit_now(128 + sig)
        }
        Err(_) => {
            // Unblocked in this thread, which stays, a signal ends the process as before.
            let _ = signal::restore_mask(&previous);
            loop {
                std::thread::park();
            }
        }
    });
    if waiter.is_err() {
        let _ = signal::restore_mask(&previous);
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
