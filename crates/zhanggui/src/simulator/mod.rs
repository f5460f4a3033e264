//! The phone simulator (手机模拟器): chat with a sandbox account as a simulated follower, in
//! the console. The page drives the sandbox's follower API; nothing here talks to WeChat.

pub mod routes;
