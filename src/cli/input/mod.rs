//! Where the filter's input comes from: FILEs and stdin, a followed file, TCP connections.
pub mod files;
pub mod follow;
pub mod listen;
