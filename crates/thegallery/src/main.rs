//! `thegallery`: every service of The Gallery backend in one binary, and the whole system in one
//! process when run without a subcommand.

// mimalloc instead of glibc's allocator: about 2 µs less CPU per request through the gateway
// (bench/gateway), and freed argon2 blocks go back to the system instead of piling up in arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    thegallery::cli::main()
}
