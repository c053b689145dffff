//! The subcommands besides the filter.
pub mod bench;
pub mod generate;
