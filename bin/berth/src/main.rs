//! `berth`: the container engine's command line. Each command lives in
//! `commands/<name>.rs`, parses its arguments and calls the library.

mod commands;
mod context;
mod format;
mod log;
mod progress;

use clap::{CommandFactory, FromArgMatches};

use commands::Command;
use context::GlobalArgs;

#[derive(clap::Parser)]
#[command(
    name = "berth",
    version,
    about = "A daemonless container engine",
    disable_version_flag = true
)]
struct Cli {
    /// Print the version.
    #[arg(short = 'v', long, action = clap::ArgAction::Version)]
    version: (),
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

fn main() {
    let mut cli = parse_args();
    cli.command = cli.command.ungrouped();
    // A listing ends quietly when its reader goes away (`berth ps | head`) instead of
    // panicking in println!. A monitor keeps ignoring SIGPIPE: it must record the exit even
    // when the `berth` that started it is gone; so do a DNS server and the API service,
    // whose clients may hang up before their answer.
    if !cli.command.serves_peers() {
        // SAFETY: sets one signal's disposition before any other thread exists.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    // A monitor's stderr is its container's log: it reports nothing there.
    if !matches!(cli.command, Command::Monitor(_) | Command::DnsServer(_)) {
        log::init(match cli.global.debug {
            true => log::LogLevel::Debug,
            false => cli.global.log_level,
        });
    }
    let failure = cli.command.failure_status();
    if berth_sys::ids::geteuid() != 0 && cli.command.needs_namespace() {
        // Before any thread exists: the kernel joins only single-threaded processes.
        if let Err(e) = enter_user_namespace() {
            eprintln!("berth: {}", one_line(&e));
            std::process::exit(failure);
        }
    }
    if cli.command.adds_images() {
        clean_up_on_termination();
    }
    let run = cli
        .global
        .into_context()
        .and_then(|ctx| commands::run(cli.command, &ctx));
    match run {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("berth: {}", one_line(&e));
            // run and exec tell a program that cannot run (126, 127) from berth's failures.
            let code = match e.downcast_ref::<berth_engine::Error>() {
                Some(e) if failure == 125 => e.run_status(),
                _ => failure,
            };
            std::process::exit(code);
        }
    }
}

/// The command line, parsed as docker's is: a flag given twice takes the last value, and a
/// mistake is one line on stderr and exit status 125 (`--help` and `--version` print as
/// usual).
///
/// Each subcommand's arguments are defined only when the command line names it (the
/// enums' `defer`): building all of some 60 commands' took 0.7 ms and 160 page faults of
/// every command's start (docs/BENCHMARKS.md). Help and errors get the whole tree, so that
/// listings describe every subcommand.
fn parse_args() -> Cli {
    let parse = |cmd: clap::Command| {
        cmd.try_get_matches()
            .and_then(|m| Cli::from_arg_matches(&m))
    };
    let parsed = parse(with_overriding_flags(Cli::command())).or_else(|_| {
        let mut full = with_overriding_flags(Cli::command());
        full.build();
        parse(full)
    });
    parsed.unwrap_or_else(|e| {
        use clap::error::ErrorKind;
        if matches!(
            e.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            e.exit();
        }
        // clap's first line, with the lines it lists below it ("<IMAGE>", a tip) joined on.
        let text = e.render().to_string();
        let mut lines = text.lines().take_while(|l| !l.trim().is_empty());
        let first = lines.next().unwrap_or_default();
        let mut message = first.strip_prefix("error: ").unwrap_or(first).to_string();
        for more in lines {
            message.push(' ');
            message.push_str(more.trim());
        }
        let command = match meant_subcommand() {
            Some(sub) => format!("berth {sub}"),
            None => "berth".into(),
        };
        eprintln!("berth: {message} (see '{command} --help')");
        std::process::exit(125);
    })
}

/// The subcommand the command line names, if it names one: the first word that is not a
/// global flag or its value.
fn meant_subcommand() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--root" | "--config" | "--log-level" | "-l" => {
                args.next();
            }
            _ if a.starts_with("--") && a.contains('=') || a == "-D" => {}
            _ => {
                let cli = Cli::command();
                return cli.find_subcommand(&a).map(|c| c.get_name().to_string());
            }
        }
    }
    None
}

fn with_overriding_flags(cmd: clap::Command) -> clap::Command {
    cmd.args_override_self(true)
        .mut_subcommands(with_overriding_flags)
}

/// An ordinary user's commands run as root of the user's berth namespace
/// (`berth_engine::rootless`); what that namespace lacks is said when it is made. Then
/// berth executes itself again: a process keeps the user namespace it was executed in for
/// its memory, and the kernel lets only that namespace's root open `/proc/PID/ns/*` of a
/// container's init forked from it (which is not dumpable until it executes the program).
fn enter_user_namespace() -> anyhow::Result<()> {
    use anyhow::Context as _;
    use berth_engine::rootless;
    use std::os::unix::process::CommandExt;
    let (run, note) = rootless::run_dir()?;
    let entered = rootless::enter(&run)?;
    if entered.created {
        for line in [note, entered.single_id].into_iter().flatten() {
            tracing::warn!("{line}");
        }
    }
    let mut args = std::env::args_os();
    let mut again = std::process::Command::new("/proc/self/exe");
    if let Some(arg0) = args.next() {
        again.arg0(arg0);
    }
    let err = again.args(args).exec();
    Err(err).context("executing berth again in its user namespace")
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
