//! The Gallery backend as one binary: the CLI that picks a process, and standalone composition.

pub mod cli;
pub mod home;
pub mod standalone;
pub mod status;
