//! The `burgee` command; everything lives in [`burgee_server::cli`].

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    burgee_server::cli::run(burgee_server::cli::Cli::parse())
}
