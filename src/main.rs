//! The `medocr` binary: parses the command line, calls the library, prints, and maps the
//! outcome to an exit code (0 = every SLA limit passed, 1 = a limit failed, 2 = error).

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MEDOCR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match cli::dispatch(args) {
        Ok(code) => code,
        // `medocr … | head -1`: the reader has what it wanted.
        Err(e) if e.chain().any(|c| c.is::<cli::out::StdoutClosed>()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
