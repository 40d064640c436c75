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
pub mod llm;
mod millis;
pub mod observe;
pub mod parse;
pub mod redact;
#[cfg(test)]
mod scratch;
pub mod workspace;

pub use diagnostic::{
    Category, Diagnostic, Fixit, FixitEdit, LineRange, Severity, StackFrame, Subcategory,
};
pub use error::{Error, ErrorKind, Result};

/// The README's examples, compiled as documentation tests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
