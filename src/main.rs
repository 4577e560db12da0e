//! `creative-filter`: the command-line shell over the library core.

mod cli;

fn main() {
    std::process::exit(cli::run());
}
