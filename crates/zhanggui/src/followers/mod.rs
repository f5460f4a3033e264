//! Followers (粉丝): who has followed each account, when they last interacted, how they came
//! (QR channel) and where they last were — derived from the message log — plus what the
//! merchant and WeChat know of them (remark, tags, collected profile), and the filter that
//! selects them (lists, segments, bulk operations, export).

pub mod csv;
pub mod filter;
pub mod jobs;
pub mod model;
pub mod query;
pub mod store;

pub use filter::{Filter, FollowerRecord};
pub use model::Follower;
