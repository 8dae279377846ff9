//! One module per subcommand group.

pub mod bench;
pub mod demo;
pub mod forecast;
pub mod log;
pub mod registry;
pub mod replay;
pub mod topic;
