//! A minimal progress bar on stderr, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    total: usize,
    done: AtomicUsize,
    enabled: bool,
    label: &'static str,
    last_draw: Mutex<Instant>,
    started: Instant,
}

impl Progress {
    pub fn new(total: usize, label: &'static str) -> Self {
        Progress {
            total,
            done: AtomicUsize::new(0),
            enabled: std::io::stderr().is_terminal() && total > 1,
            label,
            last_draw: Mutex::new(Instant::now() - Duration::from_secs(1)),
            started: Instant::now(),
        }
    }

    pub fn inc(&self) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.enabled {
            return;
        }
        let Ok(mut last) = self.last_draw.try_lock() else {
            return;
        };
        if n < self.total && last.elapsed() < Duration::from_millis(80) {
            return;
        }
        *last = Instant::now();
        let width = 30usize;
        let filled = (n * width)
            .checked_div(self.total)
            .unwrap_or(width)
            .min(width);
        let rate = n as f64 / self.started.elapsed().as_secs_f64().max(1e-6);
        let _ = write!(
            std::io::stderr(),
            "\r{} [{}{}] {}/{} ({:.0}/s) ",
            self.label,
            "#".repeat(filled),
            "-".repeat(width - filled),
            n,
            self.total,
            rate
        );
    }

    pub fn finish(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r{}\r", " ".repeat(70));
        }
    }
}
