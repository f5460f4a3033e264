//! What every capability stands on: configuration, the database, jobs, auth and tenancy, the
//! web shell, the clock.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod http1;
pub mod i18n;
pub mod jobs;
pub mod memory;
pub mod messages;
pub mod metrics;
pub mod server;
pub mod sqlite_vfs;
pub mod state;
pub mod web;
