//! selfheal's integration tests, one binary: a module per part of the library, the helpers they
//! share in `support` (a scripted model server, projects in temporary folders, a local package
//! registry) and `observed`. Tests that need a Docker engine, a PostgreSQL server or a tool this
//! machine lacks report themselves ignored outside CI.

use std::process::ExitCode;

mod build_docker;
mod build_local;
mod cassette;
mod doctor;
mod fix_cache;
mod fixers;
mod fleet;
mod heal;
mod heal_corpus;
mod json_recovery;
mod llm_providers;
mod llm_resilience;
mod observe;
mod observed;
mod parse_accuracy;
mod parse_composition;
mod parse_robustness;
mod support;
mod trace;
mod trust;
mod web;
mod workspace;

fn main() -> ExitCode {
    let tests = [
        build_docker::tests(),
        build_local::tests(),
        cassette::tests(),
        doctor::tests(),
        fix_cache::tests(),
        fixers::tests(),
        fleet::tests(),
        heal::tests(),
        heal_corpus::tests(),
        json_recovery::tests(),
        llm_providers::tests(),
        llm_resilience::tests(),
        observe::tests(),
        parse_accuracy::tests(),
        parse_composition::tests(),
        parse_robustness::tests(),
        trace::tests(),
        trust::tests(),
        web::tests(),
        workspace::tests(),
    ];
    selfheal_test_harness::run(tests.into_iter().flatten().collect())
}
