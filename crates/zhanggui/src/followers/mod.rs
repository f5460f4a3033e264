//! Followers (粉丝): who has followed each account, when they last interacted, how they came
//! (QR channel) and where they last were — derived from the message log.

pub mod jobs;
pub mod model;
pub mod store;
pub mod sync;

pub use model::Follower;
