//! Standard output of the commands. A reader that closes the pipe early (`medocr … | head
//! -1`) is not an error: [`StdoutClosed`] travels up to `main`, which ends quietly with
//! exit 0. Every result is already on disk by the time a command prints it.

use std::fmt;
use std::io::{self, Write};

/// The reader of standard output went away.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed by its reader")]
pub struct StdoutClosed;

/// Writes to standard output; a closed pipe becomes [`StdoutClosed`].
pub fn write(args: fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("writing to standard output")),
    }
}

/// `print!` that returns [`StdoutClosed`] from the calling function on a closed pipe.
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::out::write(format_args!($($t)*))? };
}

/// `println!` that returns [`StdoutClosed`] from the calling function on a closed pipe.
macro_rules! outln {
    () => { $crate::cli::out::write(format_args!("\n"))? };
    ($($t:tt)*) => { $crate::cli::out::write(format_args!("{}\n", format_args!($($t)*)))? };
}

/// A progress line of a long job (training, cutting crops): a reader that left must not
/// stop the job, so a closed pipe drops the line instead of returning.
macro_rules! progressln {
    ($($t:tt)*) => {{ let _ = $crate::cli::out::write(format_args!("{}\n", format_args!($($t)*))); }};
}

pub(crate) use {out, outln, progressln};

/// Console tables: on standard output, or on standard error when standard output carries
/// `--export-json -`.
pub fn console(text: &str, to_stderr: bool) -> anyhow::Result<()> {
    if to_stderr {
        eprint!("{text}");
        Ok(())
    } else {
        write(format_args!("{text}"))
    }
}
