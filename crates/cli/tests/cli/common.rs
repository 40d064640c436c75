//! Running the `selfheal` binary as a user does.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};

use selfheal_test_harness::Need;

/// A fresh, empty folder for a test, `selfheal-NAME-PID` under the system's temporary folder;
/// what an earlier run left there is removed first.
pub(crate) fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("selfheal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Asserts that `output` exited with `code`, showing what it wrote to stderr when not.
pub(crate) fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts `selfheal` with piped standard streams.
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

/// A fresh database on the fleet test server (`SELFHEAL_TEST_PG_URL`), as a URL.
pub(crate) fn fleet_database(test: &str) -> String {
    let admin = std::env::var("SELFHEAL_TEST_PG_URL").expect("SELFHEAL_TEST_PG_URL");
    let name = format!("selfheal_cli_{test}_{}", std::process::id());
    for statement in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        let psql = Command::new("psql")
            .args([admin.as_str(), "-qc", &statement])
            .output()
            .expect("psql runs");
        assert!(psql.status.success(), "{psql:?}");
    }
    let (base, _) = admin.rsplit_once('/').unwrap_or((&admin, ""));
    format!("{base}/{name}")
}

/// The fleet test server and `psql`, for the tests that need them.
pub(crate) fn fleet_server() -> Need {
    let server = Need::env("SELFHEAL_TEST_PG_URL", ".ci/run starts a server");
    let psql = Need::program("psql", "apt install postgresql-client");
    Need::new(server.missing().or(psql.missing()).map(str::to_string))
}
