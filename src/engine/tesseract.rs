//! Tesseract, the baseline a team would otherwise pick: the real `tesseract` binary
//! (Debian's `tesseract-ocr` + `tesseract-ocr-kor`), one process per page.
//!
//! Tesseract does not stream: the whole document text is emitted as one event once every
//! page is read, so TTFT equals E2E and TPOT/ITL are undefined (the report says so).

use super::{Engine, EngineError, EngineInfo, Request, Stage, Streaming, TokenSink};
use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const NAME: &str = "tesseract";

/// Settings for the Tesseract engine.
#[derive(Debug, Clone)]
pub struct TesseractConfig {
    /// Language packs, `kor+eng` by default.
    pub languages: String,
    /// Page segmentation mode. 4 ("a single column of text of variable sizes") reads these
    /// forms best: on a generated 진단서 at 300 DPI, CER was 6% with 4, 10% with 11, 36% with
    /// 6 (shaded table cells are dropped) and 78% with the automatic mode 3.
    pub psm: u32,
    /// Per-page time limit; a page that takes longer is a failed request.
    pub timeout: Duration,
    /// The binary to run.
    pub binary: String,
}

impl Default for TesseractConfig {
    fn default() -> Self {
        TesseractConfig {
            languages: "kor+eng".into(),
            psm: 4,
            timeout: Duration::from_secs(120),
            binary: "tesseract".into(),
        }
    }
}

/// The Tesseract engine.
pub struct Tesseract {
    config: TesseractConfig,
    version: String,
}

impl Tesseract {
    /// Checks that the binary runs and the language packs are installed.
    pub fn new(config: TesseractConfig) -> Result<Self, EngineError> {
        let hint = "install it with `bash scripts/setup.sh` (Debian packages tesseract-ocr and tesseract-ocr-kor)";
        let out = Command::new(&config.binary)
            .arg("--version")
            .output()
            .map_err(|e| EngineError::NotInstalled {
                engine: NAME.into(),
                hint: format!("cannot run '{}': {e}; {hint}", config.binary),
            })?;
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        let version = text
            .lines()
            .next()
            .unwrap_or("tesseract")
            .trim()
            .to_string();
        let langs = Command::new(&config.binary)
            .arg("--list-langs")
            .output()
            .map_err(|e| EngineError::NotInstalled {
                engine: NAME.into(),
                hint: format!("{e}; {hint}"),
            })?;
        let listed = String::from_utf8_lossy(&langs.stdout);
        for lang in config.languages.split('+') {
            if !listed.lines().any(|l| l.trim() == lang) {
                return Err(EngineError::NotInstalled {
                    engine: NAME.into(),
                    hint: format!(
                        "language pack '{lang}' is missing (Debian package tesseract-ocr-{}; `{} --list-langs` shows the installed ones); {hint}",
                        lang.to_lowercase().replace('_', "-"),
                        config.binary
                    ),
                });
            }
        }
        Ok(Tesseract { config, version })
    }

    fn read_page(
        &self,
        id: &str,
        page: usize,
        png: &[u8],
        dpi: f32,
    ) -> Result<String, EngineError> {
        let fail = |message: String| EngineError::Failed {
            engine: NAME.into(),
            id: id.to_string(),
            message,
        };
        let mut child = self
            .command(dpi)
            .spawn()
            .map_err(|e| fail(format!("cannot start '{}': {e}", self.config.binary)))?;
        let pipes = Pipes::attach(&mut child, png);
        let deadline = Instant::now() + self.config.timeout;
        let status = match wait_until(&mut child, deadline) {
            Ok(Some(status)) => status,
            // The helper threads end once the killed child's pipes close.
            Ok(None) => {
                return Err(EngineError::Timeout {
                    engine: NAME.into(),
                    id: id.to_string(),
                    page: page + 1,
                    seconds: self.config.timeout.as_secs_f64(),
                })
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        let output = pipes.join(status).map_err(fail)?;
        page_text(id, page, output)
    }

    /// `tesseract stdin stdout` for one page image at `dpi`.
    fn command(&self, dpi: f32) -> Command {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(&self.config.binary);
        command
            .args(["stdin", "stdout", "-l", &self.config.languages, "--psm"])
            .arg(self.config.psm.to_string())
            .arg("--dpi")
            .arg(format!("{}", dpi.round() as u32))
            // One thread per process keeps timings comparable with the other engines'
            // settings and avoids OpenMP oversubscription when pages run in parallel.
            .env("OMP_THREAD_LIMIT", "1")
            // Its own process group: a Ctrl-C at the terminal stops medocr after the
            // current document instead of killing the page being read.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// Waits for `child` until `deadline`; `None` when it ran past it (then it is killed).
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    loop {
        match child.try_wait()? {
            Some(status) => return Ok(Some(status)),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// The threads feeding a child its page image and reading its output. Writer and readers
/// run on their own threads so neither a full pipe nor a child that stops reading can
/// block past the deadline.
struct Pipes {
    writer: JoinHandle<std::io::Result<()>>,
    out_reader: JoinHandle<std::io::Result<Vec<u8>>>,
    err_reader: JoinHandle<Vec<u8>>,
}

/// What a finished child left: its exit status, output, and whether its input was taken.
struct PageOutput {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    write_result: std::io::Result<()>,
}

impl Pipes {
    fn attach(child: &mut Child, png: &[u8]) -> Pipes {
        let mut stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let png = png.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&png));
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            stdout.read_to_end(&mut buf).map(|_| buf)
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        Pipes {
            writer,
            out_reader,
            err_reader,
        }
    }

    /// Joins the threads of a child that exited with `status`.
    fn join(self, status: ExitStatus) -> Result<PageOutput, String> {
        let stdout = self
            .out_reader
            .join()
            .map_err(|_| "stdout reader panicked".to_string())?
            .map_err(|e| e.to_string())?;
        let stderr = self.err_reader.join().unwrap_or_default();
        let write_result = self
            .writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("writer panicked")));
        Ok(PageOutput {
            status,
            stdout,
            stderr,
            write_result,
        })
    }
}

/// The page's text, or why the child's output is not one (a signal, an exit code, an
/// unwritten image, output that is not text).
fn page_text(id: &str, page: usize, output: PageOutput) -> Result<String, EngineError> {
    use std::os::unix::process::ExitStatusExt;
    let fail = |message: String| EngineError::Failed {
        engine: NAME.into(),
        id: id.to_string(),
        message,
    };
    let PageOutput {
        status,
        stdout,
        stderr,
        write_result,
    } = output;
    let stderr_tail = tail(&String::from_utf8_lossy(&stderr), 400);
    if let Some(signal) = status.signal() {
        return Err(EngineError::Crashed {
            engine: NAME.into(),
            id: id.to_string(),
            message: format!(
                "page {}: killed by signal {signal}; {stderr_tail}",
                page + 1
            ),
        });
    }
    if !status.success() {
        return Err(fail(format!(
            "page {}: exited with {status}: {stderr_tail}",
            page + 1
        )));
    }
    write_result.map_err(|e| fail(format!("writing the page image: {e}")))?;
    let garbage = |message: String| EngineError::Garbage {
        engine: NAME.into(),
        id: id.to_string(),
        message: format!("page {}: {message}", page + 1),
    };
    let text =
        String::from_utf8(stdout).map_err(|e| garbage(format!("output is not UTF-8 ({e})")))?;
    if text.contains('\0') {
        return Err(garbage("output contains NUL bytes".into()));
    }
    Ok(tidy(&text))
}

/// The last `max` characters of a message, trimmed (Tesseract can be verbose).
fn tail(text: &str, max: usize) -> String {
    let t = text.trim();
    let n = t.chars().count();
    if n <= max {
        t.to_string()
    } else {
        format!("…{}", t.chars().skip(n - max).collect::<String>())
    }
}

/// Tesseract ends pages with a form feed and separates blocks by blank lines.
fn tidy(text: &str) -> String {
    text.replace('\u{c}', "")
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

impl Engine for Tesseract {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: NAME.into(),
            version: self.version.clone(),
            checkpoint_sha256: None,
            streaming: Streaming::WholeText,
            token_unit: "word (Tesseract reports no tokens)".into(),
            settings: [
                ("languages".to_string(), self.config.languages.clone()),
                ("psm".to_string(), self.config.psm.to_string()),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn recognize(
        &mut self,
        request: &Request<'_>,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        let mut pages = Vec::with_capacity(request.pages.len());
        for page in request.pages {
            let t0 = Instant::now();
            let mut png = Vec::new();
            page.image
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .map_err(|e| EngineError::Failed {
                    engine: NAME.into(),
                    id: request.id.to_string(),
                    message: format!("encoding page {}: {e}", page.index + 1),
                })?;
            sink.stage(Stage::Preprocess, t0.elapsed());
            let t1 = Instant::now();
            pages.push(self.read_page(request.id, page.index, &png, page.dpi)?);
            sink.stage(Stage::Decode, t1.elapsed());
        }
        let text = pages.join("\n");
        sink.token(&text);
        // One event carries the whole text; its size in the engine's own unit is words.
        sink.output_tokens(text.split_whitespace().count());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_drops_form_feeds_and_blank_lines() {
        assert_eq!(tidy("가 나\n\n다 \n\u{c}"), "가 나\n다");
    }
}
