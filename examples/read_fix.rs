//! Read a fix proposal out of an LLM reply and print the edits it would make.
//!
//! ```text
//! cargo run -p selfheal-examples --example read_fix -- reply.md
//! echo '{"analysis": "typo", "fixes": [{"file": "src/main.rs", "find": "mian", "replace": "main"}]}' \
//!     | cargo run -p selfheal-examples --example read_fix
//! ```

use std::io::Read;
use std::process::ExitCode;

use selfheal::fix::{Edit, FixProposal};

fn main() -> std::io::Result<ExitCode> {
    let reply = match std::env::args().nth(1) {
        Some(path) => std::fs::read_to_string(path)?,
        None => {
            let mut reply = String::new();
            std::io::stdin().read_to_string(&mut reply)?;
            reply
        }
    };
    let proposal = match FixProposal::from_reply(&reply) {
        Ok(proposal) => proposal,
        Err(refusal) => {
            // A healer would ask again, quoting this reason to the model.
            eprintln!("unusable reply: {refusal}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("analysis: {}", proposal.analysis);
    if let Some(confidence) = proposal.confidence {
        println!("confidence: {:.0} %", confidence * 100.0);
    }
    for edit in &proposal.edits {
        match edit {
            Edit::Replace { path, content } => println!("replace {path} ({} bytes)", content.len()),
            Edit::Create { path, content } => println!("create {path} ({} bytes)", content.len()),
            Edit::Delete { path } => println!("delete {path}"),
            Edit::Patch {
                path,
                search,
                replace,
                line,
            } => {
                let at = line.map(|l| format!(" near line {l}")).unwrap_or_default();
                println!("patch {path}{at}: {search:?} -> {replace:?}");
            }
        }
    }
    for alternative in &proposal.alternatives {
        println!(
            "alternative: {} ({} edits)",
            alternative.description,
            alternative.edits.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
