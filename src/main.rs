//! The `trapline` binary: parse the command line and hand it to `cli::main`, which owns the exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    trapline::cli::main(trapline::cli::Args::parse())
}
