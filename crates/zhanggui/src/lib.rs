//! Zhanggui (掌柜): a self-hosted back office for WeChat Official Accounts.
//!
//! `platform` is what every capability stands on; each other module is one capability of
//! PRODUCT.md, with its rules in `model.rs`, its SQL in `store.rs` and its HTTP in `routes.rs`.

pub mod accounts;
pub mod apikeys;
pub mod channels;
pub mod dashboard;
pub mod demo;
pub mod flows;
pub mod followers;
pub mod library;
pub mod menus;
pub mod merchants;
pub mod messages;
pub mod platform;
pub mod replies;
pub mod sandbox_mode;
pub mod segments;
pub mod simulator;
pub mod tags;
