//! Running the `selfheal` binary as a user does.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};

/// Starts `selfheal` with piped standard streams.
#[allow(dead_code)] // Each test file uses its own subset of the helpers.
pub(crate) fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_selfheal"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("selfheal starts")
}

/// Runs `selfheal` to the end with `stdin` as its input.
pub(crate) fn selfheal(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn(args);
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    // Written from a thread: a large input must not deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().expect("selfheal ends");
    writer.join().expect("writer");
    output
}
