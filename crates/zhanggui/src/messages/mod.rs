//! Messages (消息): WeChat's callbacks for each account, the durable message log they are
//! answered from, and the live messages page.

pub mod directory;
pub mod model;
pub mod routes;
mod sqlite_log;
pub mod store;
pub mod writer;

pub use store::{LogRow, Logged};
pub use writer::{LogError, LogWriter};
