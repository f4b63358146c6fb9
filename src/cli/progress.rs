//! What a long command shows while it works: progress bars on standard error, and the
//! Ctrl-C / SIGTERM flag that stops it cleanly.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use medocr::pipeline::RunProgress;
use medocr::report::DocumentResult;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Exit code of a run stopped by Ctrl-C / SIGTERM (128 + SIGINT, the shell convention).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// A flag set by the first Ctrl-C or SIGTERM; a second one exits at once.
pub(crate) fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag the earlier signal set.
        signal_hook::flag::register_conditional_shutdown(
            sig,
            i32::from(EXIT_INTERRUPTED),
            Arc::clone(&stop),
        )
        .context("installing the Ctrl-C handler")?;
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing the Ctrl-C handler")?;
    }
    Ok(stop)
}

/// A progress bar on standard error (drawn only on a terminal), hidden by --quiet.
pub(crate) fn progress_bar(quiet: bool, len: u64, template: &str, msg: &str) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.set_message(msg.to_string());
    // Redraws the spinner and clock while a long request runs.
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// A run's progress: notices on standard error, and a bar of finished results.
pub(crate) struct BarProgress {
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl BarProgress {
    pub(crate) fn new(quiet: bool) -> BarProgress {
        BarProgress { quiet, bar: None }
    }
}

impl RunProgress for BarProgress {
    fn notice(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn started(&mut self, total: u64, done: u64) {
        let bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .expect("valid template"),
        );
        bar.set_position(done);
        self.bar = Some(bar);
    }

    fn result(&mut self, engine: &str, r: &DocumentResult) {
        let Some(bar) = &self.bar else { return };
        bar.set_message(format!("{engine} {} @ {} DPI", r.id, r.dpi));
        if let Some(e) = &r.error {
            bar.suspend(|| eprintln!("error: {engine} on {} @ {} DPI: {e}", r.id, r.dpi));
        }
        bar.inc(1);
    }

    fn finished(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
