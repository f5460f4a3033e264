//! The WeChat Official Account protocol, nothing else: no database, no web server.
//!
//! This first part holds the HTTP API client's credential call; signatures, crypto, messages
//! and the shared access-token cache grow here (see the protocol issue).

pub mod api;
