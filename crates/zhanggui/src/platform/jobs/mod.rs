//! Durable background jobs, kept in the same database as everything else (DESIGN.md).

pub mod model;
pub mod store;
