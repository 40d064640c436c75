//! Print the prompt selfheal would send a model for a failing build.
//!
//! ```text
//! cargo run -p selfheal-examples --example fix_prompt -- build.log path/to/project
//! ```

use selfheal::fix::prompt::PromptBuilder;
use selfheal::parse::{ParseOptions, ParserSet};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(log), Some(root)) = (args.next(), args.next()) else {
        eprintln!("usage: fix_prompt BUILD_LOG PROJECT_DIR");
        std::process::exit(2);
    };
    let log = std::fs::read(log)?;
    let root = std::fs::canonicalize(root)?;
    let parsers = ParserSet::new().with_options(ParseOptions {
        root: Some(root.display().to_string()),
        ..ParseOptions::default()
    });
    let diagnostics = parsers.parse(&log);
    let prompt = PromptBuilder::new(&diagnostics).root(&root).build();
    println!("--- system\n{}\n--- user\n{}", prompt.system, prompt.user);
    eprintln!(
        "{} diagnostics, {} files quoted, ~{} tokens{}",
        diagnostics.len(),
        prompt.files.len(),
        prompt.estimated_tokens,
        if prompt.truncated { ", cut to fit" } else { "" }
    );
    Ok(())
}
