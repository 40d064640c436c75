//! The workspace under a crash: a process applying proposals is killed with SIGKILL at
//! different moments, and every file must be a whole version, old or new.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use selfheal::workspace::Workspace;
use selfheal_test_harness::{Test, trial};

/// This file's tests, in the order they read.
pub(crate) fn tests() -> Vec<Test> {
    vec![trial!(
        a_process_killed_while_applying_leaves_every_file_old_or_new
    )]
}

const FILES: usize = 24;
const SIZE: usize = 256 * 1024;

/// Checks that `text` is a whole version of file `file` and returns its round.
fn round_of(file: usize, text: &str) -> u64 {
    let (round, filler) = text.split_once('\n').expect("a first line");
    let round: u64 = round.parse().expect("a round number");
    let letter = (b'a' + ((round as usize + file) % 26) as u8) as char;
    assert_eq!(
        filler.len(),
        SIZE,
        "file {file}: cut at {} bytes",
        filler.len()
    );
    assert!(
        filler.chars().all(|c| c == letter),
        "file {file}: mixed versions"
    );
    round
}

fn a_process_killed_while_applying_leaves_every_file_old_or_new() {
    let dir = crate::support::scratch("ws-kill");
    let mut last_reported = 0;
    for attempt in 0..6u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_selfheal-workspace-writer"))
            .arg(&dir)
            .args([FILES.to_string(), SIZE.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Wait for a few rounds, then kill it a different time into the next one.
        let rounds = 2 + attempt;
        for _ in 0..rounds {
            lines.next().unwrap().unwrap();
        }
        std::thread::sleep(Duration::from_millis(3 + attempt * 7));
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
        child.wait().unwrap();
        let reported: u64 = lines
            .map(|line| line.unwrap().parse().unwrap())
            .last()
            .unwrap_or(rounds);
        last_reported = last_reported.max(reported);

        let rounds: Vec<u64> = (0..FILES)
            .map(|file| {
                let text =
                    std::fs::read_to_string(dir.join(format!("src/file{file}.txt"))).unwrap();
                round_of(file, &text)
            })
            .collect();
        // Applied rounds are complete; only the round in flight may be partly written.
        assert!(
            rounds.iter().all(|&r| r == reported || r == reported + 1),
            "attempt {attempt}: reported {reported}, files at {rounds:?}"
        );
        // Reopening removes the temporary files the killed write left.
        Workspace::open(&dir).unwrap();
        let leftovers = count_temporaries(&dir.join("src"));
        assert_eq!(leftovers, 0, "attempt {attempt}");
    }
    assert!(last_reported >= 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn count_temporaries(folder: &Path) -> usize {
    std::fs::read_dir(folder)
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with(".selfheal-tmp")
        })
        .count()
}
