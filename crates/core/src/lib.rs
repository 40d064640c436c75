//! selfheal makes generated code build.
//!
//! It runs a build, turns the log into structured [`Diagnostic`]s, fixes what it can
//! deterministically, asks an LLM for the rest, applies the edits safely, rebuilds and learns from
//! what worked. This crate holds all of the logic; the CLI and the Python and Node packages are
//! thin skins over it.
//!
//! Parsing a build log:
//!
//! ```
//! use selfheal::{Category, parse::ParserSet};
//!
//! let log = "src/app.ts(12,3): error TS2322: Type 'string' is not assignable to type 'number'.\n";
//! let diagnostics = ParserSet::new().parse(log);
//! assert_eq!(diagnostics.len(), 1);
//! assert_eq!(diagnostics[0].category, Category::Type);
//! assert_eq!(diagnostics[0].file.as_deref(), Some("src/app.ts"));
//! assert_eq!((diagnostics[0].line, diagnostics[0].column), (Some(12), Some(3)));
//! ```
//!
//! # Modules, bottom up
//!
//! A module imports only modules on its own tier or below; a test (`layering`) reads every
//! `crate::` path in the sources and fails when one runs back up.
//!
//! | tier | modules | what they hold |
//! |---:|---|---|
//! | 0 | [`json`], [`redact`], [`time`], `millis` | JSON recovery, secret redaction, injected clocks, jitter and backoff, durations as milliseconds |
//! | 1 | `edit` (as [`fix`]`::{RelativePath, Edit, FixProposal, …}`) | edits as data, paths that cannot leave the workspace |
//! | 2 | `error` ([`Error`], [`llm::ProviderError`], [`workspace::WorkspaceError`], …) | the error types of every module |
//! | 3 | [`diagnostic`] | one build error |
//! | 4 | [`workspace`] | the folder fixes edit: policy, apply, snapshot, rollback |
//! | 5 | [`parse`], [`build`], [`llm`] | logs to diagnostics; running builds; model providers |
//! | 6 | [`fix`], `testing` (feature `test-utils`) | deterministic fixers, installs, prompts; a builder, provider and line sink for tests |
//! | 7 | [`cache`] | the fix cache |
//! | 8 | [`heal`] | the loop |
//! | 9 | [`observe`] | health of runs (spans and metrics go through the `tracing` and `metrics` facades) |
//! | 10 | [`cassette`], [`doctor`] | recording runs; checking a machine |
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod build;
pub mod cache;
pub mod cassette;
pub mod diagnostic;
pub mod doctor;
mod edit;
mod error;
pub mod fix;
pub mod heal;
pub mod json;
#[cfg(test)]
mod layering;
pub mod llm;
mod millis;
pub mod observe;
pub mod parse;
pub mod redact;
#[cfg(test)]
mod scratch;
#[cfg(any(test, feature = "test-utils"))]
pub mod testing;
pub mod time;
pub mod workspace;

pub use diagnostic::{
    Category, Diagnostic, Fixit, FixitEdit, LineRange, Severity, StackFrame, Subcategory,
};
pub use error::{Cause, Error, ErrorKind, Result};

/// The README's examples, compiled as documentation tests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
