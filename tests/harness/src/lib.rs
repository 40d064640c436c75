//! The harness of selfheal's integration tests that need something outside the project — a
//! Docker engine, a PostgreSQL server, a program such as `ruff`.
//!
//! It looks and behaves like libtest (through libtest-mimic: the same output, filters and
//! flags), and adds one thing libtest cannot do: a test whose requirement is missing on this
//! machine is reported **ignored**, with the reason on its line (`test x ... ignored (no Docker
//! engine at /var/run/docker.sock: …)`), so that the summary counts it as not run instead of
//! passed. In CI (`CI` set) nothing is ignored: a missing requirement is a failure, because CI
//! installs everything.
//!
//! ```no_run
//! use selfheal_test_harness::{Need, trial};
//!
//! fn main() -> std::process::ExitCode {
//!     let docker = Need::docker_engine();
//!     selfheal_test_harness::run(vec![
//!         trial!(async a_container_runs).needs(&docker),
//!         trial!(plain),
//!     ])
//! }
//! # async fn a_container_runs() {}
//! # fn plain() {}
//! ```

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Trial};

/// Something a test needs from the machine, probed once when it is made.
#[derive(Debug, Clone)]
pub struct Need {
    /// Why it is missing, when it is.
    missing: Option<String>,
}

impl Need {
    /// A requirement described by the caller: missing when `missing` says why.
    pub fn new(missing: Option<String>) -> Need {
        Need { missing }
    }

    /// An environment variable that must be set (a server's URL, say), with what sets it.
    pub fn env(name: &str, hint: &str) -> Need {
        let missing = std::env::var_os(name).is_none_or(|value| value.is_empty());
        Need::new(missing.then(|| format!("{name} is not set ({hint})")))
    }

    /// A program on `PATH`.
    pub fn program(name: &str, hint: &str) -> Need {
        Need::new(
            which(name)
                .is_none()
                .then(|| format!("`{name}` is not on PATH ({hint})")),
        )
    }

    /// A Docker engine answering at `DOCKER_HOST` (or the default socket).
    pub fn docker_engine() -> Need {
        Need::new(
            docker_get("/_ping")
                .err()
                .map(|why| format!("{why} (start dockerd; .ci/run does)")),
        )
    }

    /// A Docker engine that holds `image`, with what makes it.
    pub fn docker_image(image: &str, hint: &str) -> Need {
        Need::new(
            docker_get(&format!("/images/{image}/json"))
                .err()
                .map(|why| format!("no Docker image {image}: {why} ({hint})")),
        )
    }

    /// Why it is missing, or `None` when it is there.
    pub fn missing(&self) -> Option<&str> {
        self.missing.as_deref()
    }
}

/// A [`Test`] named as libtest names it, by its module path and function (`heal::f`, or `f` at
/// the crate's root): `trial!(f)` runs `fn f()` as `#[test]` would,
/// `trial!(async f)` runs `async fn f()` as `#[tokio::test]` would, `trial!(async(threads = 2) f)`
/// as `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` would.
#[macro_export]
macro_rules! trial {
    (async(threads = $threads:expr) $test:ident) => {
        $crate::Test::tokio_threads(
            &$crate::test_name(module_path!(), stringify!($test)),
            $threads,
            $test,
        )
    };
    (async $test:ident) => {
        $crate::Test::tokio(&$crate::test_name(module_path!(), stringify!($test)), $test)
    };
    ($test:ident) => {
        $crate::Test::sync(&$crate::test_name(module_path!(), stringify!($test)), $test)
    };
}

/// `function` in `module_path` (a `module_path!()`) as libtest names it: the path without the
/// crate, which is the test binary.
pub fn test_name(module_path: &str, function: &str) -> String {
    match module_path.split_once("::") {
        Some((_, module)) => format!("{module}::{function}"),
        None => function.to_string(),
    }
}

/// Set in a process that runs one test alone: the test's name.
const ALONE: &str = "SELFHEAL_TEST_ALONE";

/// One test: its name, what it needs, and how it runs.
pub struct Test {
    name: String,
    needs: Vec<String>,
    alone: bool,
    run: Box<dyn FnOnce() + Send>,
}

impl Test {
    /// A plain test, as `#[test]` runs it.
    pub fn sync(name: &str, test: fn()) -> Test {
        Test {
            name: name.to_string(),
            needs: Vec::new(),
            alone: false,
            run: Box::new(test),
        }
    }

    /// An async test on a current-thread runtime, as `#[tokio::test]` runs it.
    pub fn tokio<F: Future<Output = ()> + 'static>(name: &str, test: fn() -> F) -> Test {
        Test::on_runtime(name, test, tokio::runtime::Builder::new_current_thread)
    }

    /// An async test on a multi-thread runtime with `workers` threads, as
    /// `#[tokio::test(flavor = "multi_thread", worker_threads = N)]` runs it.
    pub fn tokio_threads<F: Future<Output = ()> + 'static>(
        name: &str,
        workers: usize,
        test: fn() -> F,
    ) -> Test {
        Test::on_runtime(name, test, move || {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(workers);
            builder
        })
    }

    fn on_runtime<F: Future<Output = ()> + 'static>(
        name: &str,
        test: fn() -> F,
        runtime: impl FnOnce() -> tokio::runtime::Builder + Send + 'static,
    ) -> Test {
        Test {
            name: name.to_string(),
            needs: Vec::new(),
            alone: false,
            run: Box::new(move || {
                runtime()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime")
                    .block_on(test());
            }),
        }
    }

    /// The test needs `need`: it is ignored (outside CI) when that is missing.
    pub fn needs(mut self, need: &Need) -> Test {
        if let Some(missing) = need.missing() {
            self.needs.push(missing.to_string());
        }
        self
    }

    /// The test runs in a process of its own (this binary, asked for it alone), for a test that
    /// sets or measures what is global to a process: `tracing` caches, per call site, whether
    /// any subscriber wants it (a test without one running beside it would spoil that cache);
    /// peak memory is the whole process's.
    pub fn alone(mut self) -> Test {
        self.alone = true;
        self
    }
}

/// Runs the test called `name` in a new process of this binary and fails with its output when
/// it fails there.
fn in_own_process(name: &str) {
    let output = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(ALONE, name)
        .output()
        .unwrap_or_else(|e| panic!("{name} could not start a process of its own: {e}"));
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && text.contains("test result: ok. 1 passed"),
        "{name}, run in a process of its own, failed:\n{text}"
    );
}

/// Runs `tests` with libtest's command-line arguments and output; the process's exit code
/// says whether every test that ran passed.
pub fn run(tests: Vec<Test>) -> ExitCode {
    let args = Arguments::from_args();
    let in_ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty() && value != "false");
    let chosen = std::env::var(ALONE).ok();
    let trials = tests
        .into_iter()
        .map(|test| {
            let Test {
                name,
                needs,
                alone,
                run,
            } = test;
            let here = !alone || chosen.as_deref() == Some(name.as_str());
            let trial_name = name.clone();
            Trial::ignorable_test(trial_name, move || match needs.first() {
                Some(why) if !in_ci => Ok(Completion::ignored_with(why)),
                _ => {
                    if here {
                        run();
                    } else {
                        in_own_process(&name);
                    }
                    Ok(Completion::Completed)
                }
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// `program`'s path, when a folder on `PATH` holds it.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A `GET` of `path` on the Docker engine's API: `Ok` on a 200 answer.
fn docker_get(path: &str) -> Result<(), String> {
    let host = std::env::var("DOCKER_HOST").unwrap_or_default();
    let request = format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n");
    let timeout = Some(Duration::from_secs(5));
    let answer = if let Some(address) = host.strip_prefix("tcp://") {
        let mut stream =
            std::net::TcpStream::connect(address).map_err(|e| format!("{host}: {e}"))?;
        stream
            .set_read_timeout(timeout)
            .map_err(|e| e.to_string())?;
        exchange(&mut stream, &request)
    } else {
        let socket = host
            .strip_prefix("unix://")
            .unwrap_or("/var/run/docker.sock");
        let mut stream = std::os::unix::net::UnixStream::connect(Path::new(socket))
            .map_err(|e| format!("no Docker engine at {socket}: {e}"))?;
        stream
            .set_read_timeout(timeout)
            .map_err(|e| e.to_string())?;
        exchange(&mut stream, &request)
    }
    .map_err(|e| format!("the Docker engine does not answer: {e}"))?;
    let status = answer.lines().next().unwrap_or_default();
    if status.split(' ').nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("the Docker engine answered `{status}`"))
    }
}

fn exchange(stream: &mut (impl Read + Write), request: &str) -> std::io::Result<String> {
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
