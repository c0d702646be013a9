//! Logging as runc does it: errors always on stderr; with `--log`, every message also goes to
//! that file, one line each, as logrus text or as the JSON containerd's shim parses
//! (`{"level":"error","msg":"...","time":"..."}`). Library warnings arrive through `tracing`.

use crate::cli::Global;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

#[derive(Clone)]
pub struct Logger {
    file: Option<Arc<Mutex<File>>>,
    json: bool,
    debug: bool,
}

impl Logger {
    fn write(&self, level: &str, msg: &str) {
        let Some(f) = &self.file else {
            if level != "error" {
                eprintln!("berth-runtime: {level}: {msg}");
            }
            return;
        };
        let time = berth_container::time::now_rfc3339();
        let line = if self.json {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        } else {
            format!("time={time:?} level={level} msg={msg:?}")
        };
        if let Ok(mut f) = f.lock() {
            let _ = writeln!(f, "{line}");
        }
    }

    /// Reports a command's failure: stderr, and the log file.
    pub fn error(&self, msg: &str) {
        eprintln!("berth-runtime: {msg}");
        self.write("error", msg);
    }
}

struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Logger {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > Level::INFO && !self.debug {
            return;
        }
        let mut m = Message(String::new());
        event.record(&mut m);
        let name = match level {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            _ => "debug",
        };
        self.write(name, &m.0);
    }
}

/// Sets up logging from the global flags and returns the logger for the final error.
pub fn init(g: &Global) -> Logger {
    let file =
        g.log.as_ref().and_then(
            |p| match OpenOptions::new().create(true).append(true).open(p) {
                Ok(f) => Some(Arc::new(Mutex::new(f))),
                Err(e) => {
                    eprintln!("berth-runtime: --log {}: {e}", p.display());
                    None
                }
            },
        );
    let logger = Logger {
        file,
        json: g.log_format == "json",
        debug: g.debug,
    };
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(logger.clone()),
    );
    logger
}
