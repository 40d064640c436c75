//! Edits to workspace files, as data: a [`RelativePath`] that cannot leave the workspace, an
//! [`Edit`], and a [`FixProposal`] read leniently from whatever JSON a proposer wrote and
//! checked strictly. A leaf of the crate: the workspace applies these, the fixers, the fix cache
//! and the model produce them (all three reach them as `selfheal::fix::…`).

mod path;
mod proposal;

pub(crate) use path::join;
pub use path::{PathError, RelativePath};
pub use proposal::{Alternative, Edit, FixProposal, Invalid, ProposalError};

#[cfg(test)]
mod tests;
