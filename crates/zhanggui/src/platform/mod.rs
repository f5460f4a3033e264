//! What every capability stands on: configuration, the database, jobs, auth and tenancy, the
//! web shell, the clock.

pub mod clock;
pub mod config;
pub mod db;
pub mod jobs;
