//! Progress display: a bar per layer on a terminal, plain lines otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use berth_image::progress::{Progress, Silent};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Picks the display for stderr: bars on a terminal, lines elsewhere, nothing if quiet.
pub fn for_stderr(quiet: bool) -> Box<dyn Progress> {
    if quiet {
        Box::new(Silent)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bars {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        })
    } else {
        Box::new(Lines)
    }
}

struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress for Bars {
    fn begin(&self, id: &str, label: &str, total: u64) {
        let bar = self.multi.add(ProgressBar::new(total));
        let style = ProgressStyle::with_template(
            "{prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(format!("{label} {id}"));
        if let Ok(mut m) = self.bars.lock() {
            m.insert(id.to_string(), bar);
        }
    }
    fn advance(&self, id: &str, n: u64) {
        if let Some(b) = self.bars.lock().ok().and_then(|m| m.get(id).cloned()) {
            b.inc(n);
        }
    }
    fn finish(&self, id: &str, status: &str) {
        match self.bars.lock().ok().and_then(|m| m.get(id).cloned()) {
            Some(b) => b.finish_with_message(status.to_string()),
            None => {
                let _ = self.multi.println(format!("{id}: {status}"));
            }
        }
    }
    fn message(&self, msg: &str) {
        let _ = self.multi.println(msg);
    }
}

struct Lines;

impl Progress for Lines {
    fn begin(&self, id: &str, label: &str, total: u64) {
        eprintln!("{label} {id}: {total} bytes");
    }
    fn advance(&self, _: &str, _: u64) {}
    fn finish(&self, id: &str, status: &str) {
        eprintln!("{id}: {status}");
    }
    fn message(&self, msg: &str) {
        eprintln!("{msg}");
    }
}
