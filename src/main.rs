use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    trapline::cli::main(trapline::cli::Args::parse())
}
