//! Headless Chromium as a PDF printer: one browser process per document, a fresh profile
//! folder each time, the generated fontconfig file, and a time limit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::PrintError;

/// Names tried on `PATH` when `MEDOCR_CHROMIUM` is not set.
const NAMES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// A Chromium binary and how long one document may take.
#[derive(Debug, Clone)]
pub struct Chromium {
    pub binary: PathBuf,
    pub timeout: Duration,
}

impl Chromium {
    /// Finds Chromium: `MEDOCR_CHROMIUM` (when set, nothing else), else the first of
    /// `chromium`, `chromium-browser`, `google-chrome` on `PATH`.
    pub fn find() -> Result<Chromium, PrintError> {
        let timeout = Duration::from_secs(60);
        if let Some(p) = std::env::var_os("MEDOCR_CHROMIUM") {
            let p = PathBuf::from(p);
            return if p.is_file() {
                Ok(Chromium { binary: p, timeout })
            } else {
                Err(PrintError::ChromiumMissing {
                    searched: format!("MEDOCR_CHROMIUM={}", p.display()),
                })
            };
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        for name in NAMES {
            for dir in std::env::split_paths(&path) {
                let cand = dir.join(name);
                if cand.is_file() {
                    return Ok(Chromium {
                        binary: cand,
                        timeout,
                    });
                }
            }
        }
        Err(PrintError::ChromiumMissing {
            searched: format!("{} on PATH", NAMES.join(", ")),
        })
    }

    /// The browser's own `--version` line, when it prints one.
    pub fn version(&self) -> Option<String> {
        let out = Command::new(&self.binary)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().next()?.trim();
        (out.status.success() && !line.is_empty()).then(|| line.to_string())
    }

    /// Prints `html` (a file) to `pdf`, with fonts restricted by the fontconfig file
    /// `fonts_conf`. Returns the wall time of the browser process.
    pub fn print(
        &self,
        html: &Path,
        pdf: &Path,
        fonts_conf: &Path,
    ) -> Result<Duration, PrintError> {
        let profile = TempDir::new("medocr-chromium")?;
        let html = std::path::absolute(html).map_err(|e| PrintError::Io {
            path: html.to_path_buf(),
            source: e,
        })?;
        let pdf_abs = std::path::absolute(pdf).map_err(|e| PrintError::Io {
            path: pdf.to_path_buf(),
            source: e,
        })?;
        let _ = std::fs::remove_file(&pdf_abs);
        let log_path = profile.path.join("chromium.log");
        let log = std::fs::File::create(&log_path).map_err(|e| PrintError::Io {
            path: log_path.clone(),
            source: e,
        })?;
        let url = format!("file://{}", percent_path(&html));
        let mut cmd = Command::new(&self.binary);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path.join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf_abs.display()))
        .arg(url)
        .env("FONTCONFIG_FILE", fonts_conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
        // Its own process group, so that a timeout ends the renderer and helper processes too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let t0 = Instant::now();
        let mut child = cmd.spawn().map_err(|e| PrintError::Chromium {
            pdf: pdf.to_path_buf(),
            reason: format!("cannot start {}: {e}", self.binary.display()),
        })?;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if t0.elapsed() > self.timeout => {
                    kill_group(child.id());
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(PrintError::Chromium {
                        pdf: pdf.to_path_buf(),
                        reason: format!(
                            "no PDF after {} s; the browser was stopped",
                            self.timeout.as_secs()
                        ),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(15)),
                Err(e) => {
                    return Err(PrintError::Chromium {
                        pdf: pdf.to_path_buf(),
                        reason: format!("waiting for the browser: {e}"),
                    })
                }
            }
        };
        let elapsed = t0.elapsed();
        let ok = std::fs::metadata(&pdf_abs).is_ok_and(|m| m.len() > 0);
        if !status.success() || !ok {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(4).collect();
            return Err(PrintError::Chromium {
                pdf: pdf.to_path_buf(),
                reason: format!(
                    "the browser exited with {status} and {}; its last messages: {}",
                    if ok { "a PDF" } else { "no PDF" },
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ),
            });
        }
        Ok(elapsed)
    }
}

/// Ends a process group started by [`Chromium::print`] (its leader's id is the group id).
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Percent-encodes what a `file://` URL cannot carry raw.
fn percent_path(p: &Path) -> String {
    let mut out = String::new();
    for b in p.display().to_string().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A temporary folder removed when dropped (the library has no tempfile dependency).
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> Result<TempDir, PrintError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).map_err(|e| PrintError::Io {
            path: path.clone(),
            source: e,
        })?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_are_escaped() {
        assert_eq!(
            percent_path(Path::new("/tmp/a b/ㄱ.html")),
            "/tmp/a%20b/%E3%84%B1.html"
        );
    }

    #[test]
    fn a_missing_binary_is_a_clear_error() {
        // The message says how to install it (the CLI path is tested in tests/printed.rs).
        let e = PrintError::ChromiumMissing {
            searched: "chromium on PATH".into(),
        }
        .to_string();
        assert!(
            e.contains("scripts/setup.sh") && e.contains("MEDOCR_CHROMIUM"),
            "{e}"
        );
    }
}
