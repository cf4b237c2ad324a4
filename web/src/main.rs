//! The `hms` binary: everything it does lives in the library (`hms_web::cli::main`).

use std::process::ExitCode;

fn main() -> ExitCode {
    hms_web::cli::main(std::env::args_os())
}
