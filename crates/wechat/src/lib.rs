//! The WeChat Official Account protocol, nothing else: no database, no web server.
//!
//! - [`signature`]: the 3-field `signature` and 4-field `msg_signature`;
//! - [`crypto`]: the AES key, message encryption and decryption (32-byte padding);
//! - [`callback`]: the callback endpoint's protocol side: the GET handshake, opening a POST in
//!   the configured security mode and sealing the reply;
//! - [`message`]: inbound messages and events as typed values, and their dedup key;
//! - [`reply`]: passive replies and their XML;
//! - [`kept`]: that XML as a log keeps it, shorter, and given back whole;
//! - [`api`]: the HTTP API client.

pub mod api;
pub mod callback;
pub mod crypto;
pub mod kept;
pub mod message;
pub mod reply;
pub mod signature;
pub mod token;
mod xml;

pub use callback::{
    CallbackError, CallbackQuery, ConfigError, Endpoint, Inbound, MAX_BODY_BYTES, Platform,
    SecurityMode, SignedRequest,
};
pub use crypto::{AesKey, CryptoError};
pub use message::{Event, Message, MessageBody};
pub use reply::{Article, PreparedAnswer, PreparedReply, Reply, ReplyBody, ReplyMessage};
pub use signature::{Signature, SignatureError};
pub use xml::{Field, Fields, MAX_XML_BYTES, ParseError};
