//! The release archive scripts/package built (scripts/test sets `SELFHEAL_DIST` to its folder):
//! the binary, the README and the licences, and a binary that runs where no Rust toolchain is.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use selfheal_test_harness::{Need, Test, trial};

pub(crate) fn tests() -> Vec<Test> {
    let dist = Need::env(
        "SELFHEAL_DIST",
        "scripts/test builds the packages into it with scripts/package",
    );
    vec![
        trial!(the_archive_holds_the_binary_readme_and_licences_and_runs_without_rust).needs(&dist),
    ]
}

fn the_archive_holds_the_binary_readme_and_licences_and_runs_without_rust() {
    let dist = PathBuf::from(std::env::var_os("SELFHEAL_DIST").expect("SELFHEAL_DIST"));
    let prefix = format!("selfheal-{}-", env!("CARGO_PKG_VERSION"));
    let archives: Vec<PathBuf> = std::fs::read_dir(&dist)
        .expect("the packages' folder")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".tar.gz")
        })
        .collect();
    let [archive] = archives.as_slice() else {
        panic!("one CLI archive in {}: {archives:?}", dist.display());
    };
    let name = archive.file_name().unwrap_or_default().to_string_lossy();
    let folder = name.trim_end_matches(".tar.gz");
    assert!(
        folder.ends_with(&format!(
            "-{}-{}",
            std::env::consts::ARCH,
            target_vendor_os()
        )),
        "named after its target: {folder}"
    );

    let unpacked = crate::common::scratch("release");
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .expect("tar runs");
    assert!(tar.success());
    let mut files: Vec<String> = std::fs::read_dir(unpacked.join(folder))
        .expect("the archive's folder")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["LICENSE-APACHE", "LICENSE-MIT", "README.md", "selfheal"]
    );

    let binary = unpacked.join(folder).join("selfheal");
    let path = without_rust();
    let version = Command::new(&binary)
        .arg("--version")
        .env("PATH", &path)
        .output()
        .expect("the binary runs");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("selfheal {}\n", env!("CARGO_PKG_VERSION"))
    );
    let mut parse = Command::new(&binary)
        .args(["parse", "--format", "json"])
        .env("PATH", &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let log = "src/App.tsx(3,10): error TS2304: Cannot find name 'useState'.\n";
    std::io::Write::write_all(&mut parse.stdin.take().expect("stdin"), log.as_bytes())
        .expect("the log is written");
    let parsed = parse.wait_with_output().expect("the binary ends");
    let parsed: serde_json::Value = serde_json::from_slice(&parsed.stdout).expect("JSON");
    assert_eq!(parsed["diagnostics"][0]["code"], "TS2304", "{parsed}");
    let _ = std::fs::remove_dir_all(&unpacked);
}

/// PATH without the folders that hold cargo or rustc.
fn without_rust() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept = std::env::split_paths(&path).filter(|dir| {
        !["cargo", "rustc"]
            .iter()
            .any(|tool| dir.join(tool).exists())
    });
    std::env::join_paths(kept).expect("PATH entries")
}

/// The vendor and system parts of this platform's target triple.
fn target_vendor_os() -> &'static str {
    match std::env::consts::OS {
        "linux" => "unknown-linux-gnu",
        "macos" => "apple-darwin",
        "windows" => "pc-windows-msvc",
        other => other,
    }
}
