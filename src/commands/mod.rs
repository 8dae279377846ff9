//! One module per subcommand group.

pub mod bench;
pub mod camera;
pub mod demo;
pub mod forecast;
pub mod greenlight;
pub mod inventory;
pub mod log;
pub mod registry;
pub mod replay;
pub mod serve;
pub mod topic;
