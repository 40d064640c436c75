//! A process that applies proposals to a workspace forever, for the test that kills it.
//!
//! `selfheal-workspace-writer DIR FILES SIZE`: round 1, 2, … replaces `FILES` files of `SIZE`
//! bytes with that round's version ([`version`]), printing each round once it is applied.

use std::io::Write;

use selfheal::fix::{Edit, FixProposal, RelativePath};
use selfheal::workspace::{ApplyOptions, Workspace};

/// File `file`'s text in round `round`: its round on the first line, then a filler that
/// depends on both, so that any mix of two versions or a cut is detected.
fn version(file: usize, round: u64, size: usize) -> String {
    let mut text = format!("{round}\n");
    let letter = b'a' + ((round as usize + file) % 26) as u8;
    text.extend(std::iter::repeat_n(letter as char, size));
    text
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, files, size] = args.as_slice() else {
        return Err("usage: selfheal-workspace-writer DIR FILES SIZE".into());
    };
    let (files, size): (usize, usize) = (files.parse()?, size.parse()?);
    let workspace = Workspace::open(dir)?;
    let mut out = std::io::stdout().lock();
    for round in 1.. {
        let edits = (0..files)
            .map(|file| {
                Ok(Edit::Replace {
                    path: RelativePath::new(&format!("src/file{file}.txt"))?,
                    content: version(file, round, size),
                })
            })
            .collect::<Result<_, selfheal::fix::PathError>>()?;
        let proposal = FixProposal {
            edits,
            ..FixProposal::default()
        };
        workspace.apply(&proposal, &ApplyOptions::default())?;
        writeln!(out, "{round}")?;
        out.flush()?;
    }
    Ok(())
}
