//! The `kubesim` binary: parse arguments, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = kubesim::cli::Cli::parse();
    kubesim::cli::run(cli).into()
}
