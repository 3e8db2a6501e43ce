//! Standard output that outlives its reader: `openhybrid trace | head` or `openhybrid setup |
//! head -1` close the pipe early, and `println!` would panic ("failed printing to stdout:
//! Broken pipe"). Here a closed pipe is remembered and further output is dropped quietly, so a
//! command that changes state (setup, shell scripts) finishes its work, and one that only
//! prints (trace --follow) can stop.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Has the reader of standard output gone away?
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// Standard output; writes after the reader went away succeed without doing anything.
pub struct Stdout;

fn absorb(r: io::Result<usize>, len: usize) -> io::Result<usize> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(len)
        }
        r => r,
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if closed() {
            return Ok(buf.len());
        }
        absorb(io::stdout().write(buf), buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if closed() {
            return Ok(());
        }
        absorb(io::stdout().flush().map(|()| 0), 0).map(drop)
    }
}

/// Writes formatted text to [`Stdout`]; any other write failure is reported on stderr.
pub fn write_fmt(args: std::fmt::Arguments<'_>) {
    let mut o = Stdout;
    if let Err(e) = o.write_fmt(args).and_then(|()| o.flush()) {
        eprintln!("error: writing to standard output: {e}");
    }
}

/// `println!` over [`Stdout`].
macro_rules! outln {
    () => { $crate::out::write_fmt(format_args!("\n")) };
    ($($t:tt)*) => { $crate::out::write_fmt(format_args!("{}\n", format_args!($($t)*))) };
}

/// `print!` over [`Stdout`].
macro_rules! out {
    ($($t:tt)*) => { $crate::out::write_fmt(format_args!($($t)*)) };
}

pub(crate) use {out, outln};
