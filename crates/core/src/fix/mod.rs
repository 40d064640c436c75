//! Fixes: what a proposer (an LLM, the fix cache) suggests, as edits to workspace files.
//!
//! A [`FixProposal`] is read leniently from whatever JSON the proposer wrote — the seed's schema
//! (`analysis`, `fixes`, `confidence`, `alternativeFixes`) and its common variants — and checked
//! strictly: every path is a [`RelativePath`] that stays inside the workspace, every patch has a
//! search text, and every problem is a [`ProposalError`] naming the field and the reason.
//!
//! ```
//! use selfheal::fix::{Edit, FixProposal, Invalid, ProposalError};
//! use serde_json::json;
//!
//! let proposal = FixProposal::from_value(&json!({
//!     "analysis": "`useState` is not imported",
//!     "fixes": [{"path": "src/App.tsx", "action": "patch",
//!                "search": "import React from 'react';",
//!                "replace": "import React, { useState } from 'react';"}],
//!     "confidence": 0.92,
//! })).unwrap();
//! assert_eq!(proposal.edits[0].path().as_str(), "src/App.tsx");
//!
//! let escape = FixProposal::from_value(&json!({
//!     "analysis": "", "fixes": [{"file": "../../.ssh/authorized_keys", "content": "ssh-rsa ..."}],
//! }));
//! let Err(ProposalError::Invalid { field, reason: Invalid::Path(_) }) = escape else { panic!() };
//! assert_eq!(field, "fixes[0].file");
//! ```

mod cargo;
mod client_directive;
mod edited;
mod export_names;
mod fixer;
mod import_kinds;
mod import_paths;
mod imports;
pub mod install;
mod json_files;
mod jsx_entities;
mod lint_suggestions;
mod local_exports;
mod missing_dependencies;
mod missing_names;
mod next_async_props;
mod next_exports;
mod next_router;
mod next_suspense;
mod package_exports;
mod peer_conflicts;
mod peer_versions;
pub mod prompt;
mod suggestions;
mod tool_fix;
mod type_imports;
mod unused_bindings;
mod workspace_crates;

pub use crate::edit::{
    Alternative, Edit, FixProposal, Invalid, PathError, ProposalError, RelativePath,
};
pub use cargo::CargoSuggestions;
pub use client_directive::ClientDirective;
pub use export_names::ExportNames;
pub use fixer::{FixInput, Fixer, Safety};
pub use import_kinds::ImportKinds;
pub use import_paths::ImportPaths;
pub use json_files::JsonFiles;
pub use jsx_entities::JsxEntities;
pub use lint_suggestions::LintSuggestions;
pub use local_exports::LocalExports;
pub use missing_dependencies::MissingDependencies;
pub use missing_names::MissingNames;
pub use next_async_props::NextAsyncProps;
pub use next_exports::NextExports;
pub use next_router::NextNavigation;
pub use next_suspense::NextSuspense;
pub use peer_conflicts::PeerConflicts;
pub use suggestions::ToolSuggestions;
pub use tool_fix::ToolFix;
pub(crate) use tool_fix::{finding_files, step_runs};
pub use type_imports::TypeImports;
pub use unused_bindings::UnusedBindings;
pub use workspace_crates::WorkspaceCrates;
