//! Any text as an LLM reply: recovery never panics, finds its value inside the text, and what it
//! prints reads back strictly as the same value. A fix proposal read from it keeps every path in
//! the workspace.
#![no_main]

use libfuzzer_sys::fuzz_target;
use selfheal::fix::FixProposal;
use selfheal::json::{self, Hint, Stage};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for hint in [Hint::none(), Hint::fix_proposal()] {
        let Ok(found) = json::recover(&text, &hint) else {
            continue;
        };
        assert!(found.span.start <= found.span.end && found.span.end <= text.len());
        assert!(text.is_char_boundary(found.span.start) && text.is_char_boundary(found.span.end));
        let printed = json::to_string(&found.value);
        let again = json::recover(&printed, &Hint::none()).expect("printed JSON reads back");
        assert_eq!(again.stage, Stage::Strict, "{printed}");
        assert!(json::equal(&again.value, &found.value), "{printed}");
        if let Ok(proposal) = FixProposal::from_value(&found.value) {
            let alternatives = proposal.alternatives.iter().flat_map(|a| &a.edits);
            for edit in proposal.edits.iter().chain(alternatives) {
                let path = edit.path().as_str();
                assert!(!path.is_empty() && !path.starts_with('/'));
                assert!(path.split('/').all(|c| !c.is_empty() && c != "." && c != ".."));
            }
        }
    }
});
