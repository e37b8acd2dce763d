//! `thegallery`: every service of The Gallery backend in one binary, and the whole system in one
//! process when run without a subcommand.

fn main() -> std::process::ExitCode {
    thegallery::cli::main()
}
