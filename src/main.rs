//! The `trapline` binary: hand the command line to `cli::main`, which owns the exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    trapline::cli::main(std::env::args_os())
}
