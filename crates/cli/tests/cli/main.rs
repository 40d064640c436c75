//! The `selfheal` binary as its users run it, one test binary: a module per command, the
//! helpers they share in `common`. Tests that need a Docker engine, a PostgreSQL server or the
//! release packages report themselves ignored without them.

use std::process::ExitCode;

mod cache;
mod check;
mod common;
mod doctor;
mod heal;
mod json_repair;
mod parse;
mod release;

fn main() -> ExitCode {
    let tests = [
        cache::tests(),
        check::tests(),
        doctor::tests(),
        heal::tests(),
        json_repair::tests(),
        parse::tests(),
        release::tests(),
    ];
    selfheal_test_harness::run(tests.into_iter().flatten().collect())
}
