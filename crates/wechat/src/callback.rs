//! The protocol side of the callback endpoint, without HTTP: the GET handshake, opening a POST
//! in the account's configured security mode, and sealing the reply.
//!
//! The mode always comes from the account's configuration, never from the request: a safe-mode
//! account refuses a plaintext body, so nobody can downgrade it by leaving `<Encrypt>` out.
//!
//! ```no_run
//! use wechat::{CallbackQuery, Endpoint, Reply, SecurityMode};
//!
//! // Once per account, from its settings:
//! let endpoint = Endpoint::official_account(
//!     SecurityMode::Safe,
//!     "token",
//!     Some("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
//!     "wx2c2769f8efd9abc2",
//! )?;
//! # let (raw_query, body) = ("", &b""[..]);
//! // Per POST: a CallbackError's `http_status()` is the answer (403 for a bad signature).
//! let query = CallbackQuery::parse(raw_query);
//! let inbound = endpoint.open_post(&query, body)?;
//! let message = inbound.message()?;
//! let reply = Reply::Success.to_xml(); // or a ReplyMessage answering `message`
//! let nonce = query.nonce.as_deref().unwrap_or("");
//! let response = endpoint.seal_reply(&inbound, &reply, 1_700_000_000, nonce, &[7; 16])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::crypto::{self, AesKey, CryptoError};
use crate::message::Message;
use crate::reply::cdata_element;
use crate::signature::{self, SignatureError};
use crate::xml::{self, ParseError};

/// The largest POST body we accept; checked before any other work.
pub const MAX_BODY_BYTES: usize = xml::MAX_XML_BYTES;

/// The account's message encryption setting (消息加解密方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityMode {
    /// 明文: plain XML both ways, authenticated by `signature`.
    Plaintext,
    /// 兼容: WeChat sends the plain fields and `<Encrypt>`; we read the encrypted copy when
    /// there is one and answer in the same form as the request.
    Compatible,
    /// 安全: only `<Encrypt>`, authenticated by `msg_signature`; replies are encrypted.
    Safe,
}

/// Whose callback this is: they differ in the GET handshake and in the receiver id inside
/// the ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Official accounts (and mini programs): plaintext `echostr` in every mode; the AppID
    /// inside the ciphertext.
    OfficialAccount,
    /// WeCom (企业微信): encrypted `echostr` with `msg_signature`; the corp id inside the
    /// ciphertext; always encrypted.
    WeCom,
}

/// The query parameters WeChat puts on the callback URL, percent-decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackQuery<'a> {
    pub signature: Option<Cow<'a, str>>,
    pub timestamp: Option<Cow<'a, str>>,
    pub nonce: Option<Cow<'a, str>>,
    /// GET handshake only.
    pub echostr: Option<Cow<'a, str>>,
    pub msg_signature: Option<Cow<'a, str>>,
    /// `aes` when the body is encrypted.
    pub encrypt_type: Option<Cow<'a, str>>,
    /// The sender's openid (newer pushes); informational only.
    pub openid: Option<Cow<'a, str>>,
}

impl<'a> CallbackQuery<'a> {
    /// Reads a raw query string (without `?`). Unknown parameters are ignored; of repeated
    /// ones the first counts. Values are decoded like `application/x-www-form-urlencoded`
    /// (`%XY` and `+`) and borrowed when they need no decoding, the usual case. One pass over
    /// the bytes: a generic form parser decodes every byte of every pair and cost ten times
    /// as much on this path.
    pub fn parse(query: &'a str) -> Self {
        let mut q = CallbackQuery::default();
        // Byte searches rather than a match on every byte: ~13% fewer instructions.
        for pair in query.split('&') {
            let bytes = pair.as_bytes();
            let escaped = memchr::memchr2(b'%', b'+', bytes).is_some();
            // `=` is ASCII, so both sides of it are char boundaries.
            let (name, value) = match memchr::memchr(b'=', bytes) {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, ""),
            };
            q.set(name, value, escaped);
        }
        q
    }

    fn set(&mut self, name: &'a str, value: &'a str, escaped: bool) {
        let decode = |s| {
            if escaped {
                form_decode(s)
            } else {
                Cow::Borrowed(s)
            }
        };
        let slot = match decode(name).as_ref() {
            "signature" => &mut self.signature,
            "timestamp" => &mut self.timestamp,
            "nonce" => &mut self.nonce,
            "echostr" => &mut self.echostr,
            "msg_signature" => &mut self.msg_signature,
            "encrypt_type" => &mut self.encrypt_type,
            "openid" => &mut self.openid,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(decode(value));
        }
    }

    fn says_encrypted(&self) -> bool {
        self.encrypt_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("aes"))
    }
}

/// An account's configuration is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the token is empty")]
    EmptyToken,
    #[error("the AppID (or corp id) is empty")]
    EmptyReceiverId,
    #[error("compatible and safe mode need an EncodingAESKey")]
    MissingAesKey,
    #[error("the EncodingAESKey is invalid: {0}")]
    InvalidAesKey(CryptoError),
}

/// Why a callback request was refused. [`CallbackError::http_status`] maps it to an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    BodyTooLarge,
    #[error("the query parameter {0} is missing")]
    MissingParameter(&'static str),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The account expects `<Encrypt>` and the body has none (a downgrade attempt, or a
    /// mode mismatch between WeChat's settings and ours).
    #[error("this account only accepts encrypted messages")]
    EncryptionRequired,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("unreadable body: {0}")]
    Body(#[from] ParseError),
}

impl CallbackError {
    /// The HTTP status to answer with: 403 when the request is not proven to come from WeChat
    /// (and nothing is stored), 413 for an oversized body, 400 for a proven but broken one.
    pub fn http_status(&self) -> u16 {
        match self {
            CallbackError::BodyTooLarge => 413,
            CallbackError::MissingParameter(_)
            | CallbackError::Signature(_)
            | CallbackError::EncryptionRequired
            | CallbackError::Crypto(CryptoError::ReceiverIdMismatch) => 403,
            CallbackError::Crypto(_) | CallbackError::Body(_) => 400,
        }
    }
}

/// A POST body, authenticated (and decrypted when it was encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound<'b> {
    xml: Cow<'b, str>,
    encrypted: bool,
}

impl<'b> Inbound<'b> {
    /// The message XML (decrypted when the request was encrypted).
    pub fn xml(&self) -> &str {
        &self.xml
    }

    pub fn into_xml(self) -> Cow<'b, str> {
        self.xml
    }

    /// Whether the message came in `<Encrypt>`; in compatible mode the reply mirrors it.
    pub fn was_encrypted(&self) -> bool {
        self.encrypted
    }

    /// Parses the message.
    pub fn message(&self) -> Result<Message<'_>, ParseError> {
        Message::parse(&self.xml)
    }
}

/// A callback POST as WeChat sends it (see [`Endpoint::sign_request`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The query string, without `?`.
    pub query: String,
    pub body: String,
}

/// Verifies an official account's GET handshake and returns the `echostr` to answer with,
/// byte for byte. It is plaintext and signed with the 3-field `signature` in every mode.
pub fn verify_get_handshake<'q>(
    token: &str,
    query: &'q CallbackQuery<'_>,
) -> Result<&'q str, CallbackError> {
    let (timestamp, nonce) = timestamp_nonce(query)?;
    let signature = require(&query.signature, "signature")?;
    let echostr = require(&query.echostr, "echostr")?;
    signature::verify_signature(token, timestamp, nonce, signature)?;
    Ok(echostr)
}

/// One account's callback settings, built once from configuration and shared by every
/// request (the AES key schedule is expanded here, not per message). `Debug` leaves the token
/// and the key out: with them anyone could sign requests.
#[derive(Clone)]
pub struct Endpoint {
    platform: Platform,
    mode: SecurityMode,
    token: String,
    key: Option<AesKey>,
    receiver_id: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("platform", &self.platform)
            .field("mode", &self.mode)
            .field("receiver_id", &self.receiver_id)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An official account (or mini program). `encoding_aes_key` is required in compatible
    /// and safe mode; `app_id` is what the ciphertext must name.
    pub fn official_account(
        mode: SecurityMode,
        token: &str,
        encoding_aes_key: Option<&str>,
        app_id: &str,
    ) -> Result<Self, ConfigError> {
        let key = encoding_aes_key
            .filter(|k| !k.is_empty())
            .map(AesKey::from_encoding_aes_key)
            .transpose()
            .map_err(ConfigError::InvalidAesKey)?;
        if key.is_none() && mode != SecurityMode::Plaintext {
            return Err(ConfigError::MissingAesKey);
        }
        Self::new(Platform::OfficialAccount, mode, token, key, app_id)
    }

    /// A WeCom application: always encrypted, the corp id inside the ciphertext.
    pub fn wecom(token: &str, encoding_aes_key: &str, corp_id: &str) -> Result<Self, ConfigError> {
        let key =
            AesKey::from_encoding_aes_key(encoding_aes_key).map_err(ConfigError::InvalidAesKey)?;
        Self::new(
            Platform::WeCom,
            SecurityMode::Safe,
            token,
            Some(key),
            corp_id,
        )
    }

    fn new(
        platform: Platform,
        mode: SecurityMode,
        token: &str,
        key: Option<AesKey>,
        receiver_id: &str,
    ) -> Result<Self, ConfigError> {
        if token.is_empty() {
            return Err(ConfigError::EmptyToken);
        }
        if receiver_id.is_empty() {
            return Err(ConfigError::EmptyReceiverId);
        }
        Ok(Endpoint {
            platform,
            mode,
            token: token.to_string(),
            key,
            receiver_id: receiver_id.to_string(),
        })
    }

    pub fn mode(&self) -> SecurityMode {
        self.mode
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// Verifies the GET handshake and returns the body to answer with. Official accounts
    /// echo the plaintext `echostr`; WeCom signs it with `msg_signature` and we answer with
    /// its decryption.
    pub fn verify_get_handshake<'q>(
        &self,
        query: &'q CallbackQuery<'_>,
    ) -> Result<Cow<'q, str>, CallbackError> {
        match self.platform {
            Platform::OfficialAccount => {
                verify_get_handshake(&self.token, query).map(Cow::Borrowed)
            }
            Platform::WeCom => {
                let (timestamp, nonce) = timestamp_nonce(query)?;
                let msg_signature = require(&query.msg_signature, "msg_signature")?;
                let echostr = require(&query.echostr, "echostr")?;
                signature::verify_msg_signature(
                    &self.token,
                    timestamp,
                    nonce,
                    echostr,
                    msg_signature,
                )?;
                let plain = crypto::decrypt_to_string(self.key()?, &self.receiver_id, echostr)?;
                Ok(Cow::Owned(plain))
            }
        }
    }

    /// Authenticates a POST and returns the message XML, deciding by the configured mode:
    ///
    /// - plaintext: checks `signature`, returns the body;
    /// - safe: requires `<Encrypt>` and `msg_signature`, refuses a plaintext body;
    /// - compatible: when the body has `<Encrypt>` (or the query says `encrypt_type=aes`)
    ///   as safe mode, reading only the encrypted copy since the plain fields beside it are
    ///   not signed; otherwise as plaintext mode.
    pub fn open_post<'b>(
        &self,
        query: &CallbackQuery<'_>,
        body: &'b [u8],
    ) -> Result<Inbound<'b>, CallbackError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(CallbackError::BodyTooLarge);
        }
        let body = xml::checked_str(body)?;
        match self.mode {
            SecurityMode::Plaintext => self.open_plaintext(query, body),
            SecurityMode::Safe => match encrypted_part(body)? {
                Some(encrypt) => self.open_encrypted(query, &encrypt),
                None => Err(CallbackError::EncryptionRequired),
            },
            SecurityMode::Compatible => match encrypted_part(body)? {
                Some(encrypt) => self.open_encrypted(query, &encrypt),
                None if query.says_encrypted() => Err(CallbackError::EncryptionRequired),
                None => self.open_plaintext(query, body),
            },
        }
    }

    /// Turns the reply into the response body. `success` and the empty reply go out as they
    /// are (WeChat never wants them encrypted); otherwise safe mode, and compatible mode when
    /// the request was encrypted, wrap the reply in the signed `<Encrypt>` envelope.
    /// `timestamp` and `nonce` go into the envelope (echoing the request's nonce is allowed);
    /// `random` must be fresh random bytes.
    pub fn seal_reply<'r>(
        &self,
        inbound: &Inbound<'_>,
        reply_xml: &'r str,
        timestamp: i64,
        nonce: &str,
        random: &[u8; 16],
    ) -> Result<Cow<'r, str>, CallbackError> {
        let encrypt = match self.mode {
            SecurityMode::Plaintext => false,
            SecurityMode::Compatible => inbound.encrypted,
            SecurityMode::Safe => true,
        };
        if !encrypt || reply_xml.is_empty() || reply_xml == "success" {
            return Ok(Cow::Borrowed(reply_xml));
        }
        Ok(Cow::Owned(
            self.encrypt_envelope(reply_xml, timestamp, nonce, random)?,
        ))
    }

    /// The encrypted reply envelope:
    /// `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`, built in one buffer.
    pub fn encrypt_envelope(
        &self,
        reply_xml: &str,
        timestamp: i64,
        nonce: &str,
        random: &[u8; 16],
    ) -> Result<String, CallbackError> {
        let key = self.key()?;
        let mut out = String::with_capacity(reply_xml.len() * 4 / 3 + 256);
        out.push_str("<xml><Encrypt><![CDATA[");
        let start = out.len();
        crypto::encrypt_into(
            key,
            &self.receiver_id,
            reply_xml.as_bytes(),
            random,
            &mut out,
        )?;
        let end = out.len();
        let mut ts = String::with_capacity(20);
        let _ = write!(ts, "{timestamp}");
        let signature = signature::msg_signature(&self.token, &ts, nonce, &out[start..end]);
        out.push_str("]]></Encrypt>");
        cdata_element(&mut out, "MsgSignature", signature.as_str());
        out.push_str("<TimeStamp>");
        out.push_str(&ts);
        out.push_str("</TimeStamp>");
        cdata_element(&mut out, "Nonce", nonce);
        out.push_str("</xml>");
        Ok(out)
    }

    /// WeChat's side of the exchange (the sandbox, tests and benchmarks play it): the POST
    /// WeChat would send for `message_xml` to this endpoint, in its mode. Safe mode sends
    /// `<ToUserName>` and `<Encrypt>` only, compatible mode adds `<Encrypt>` to the plain
    /// message, WeCom signs with `msg_signature` only.
    pub fn sign_request(
        &self,
        message_xml: &str,
        timestamp: &str,
        nonce: &str,
        random: &[u8; 16],
    ) -> Result<SignedRequest, CallbackError> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if self.platform == Platform::OfficialAccount {
            let signature = signature::signature(&self.token, timestamp, nonce);
            query.append_pair("signature", signature.as_str());
        }
        query
            .append_pair("timestamp", timestamp)
            .append_pair("nonce", nonce);
        if self.mode == SecurityMode::Plaintext {
            return Ok(SignedRequest {
                query: query.finish(),
                body: message_xml.to_string(),
            });
        }
        let encrypt = crypto::encrypt(
            self.key()?,
            &self.receiver_id,
            message_xml.as_bytes(),
            random,
        )?;
        let msg_signature = signature::msg_signature(&self.token, timestamp, nonce, &encrypt);
        query
            .append_pair("encrypt_type", "aes")
            .append_pair("msg_signature", msg_signature.as_str());
        let mut encrypted = String::with_capacity(encrypt.len() + 40);
        cdata_element(&mut encrypted, "Encrypt", &encrypt);
        let body = match (self.mode, message_xml.rfind("</xml>")) {
            (SecurityMode::Compatible, Some(end)) => {
                format!("{}{encrypted}{}", &message_xml[..end], &message_xml[end..])
            }
            _ => {
                let fields = xml::Fields::parse(message_xml)?;
                let mut body = String::from("<xml>");
                cdata_element(
                    &mut body,
                    "ToUserName",
                    fields.get("ToUserName").unwrap_or(""),
                );
                body.push_str(&encrypted);
                body.push_str("</xml>");
                body
            }
        };
        Ok(SignedRequest {
            query: query.finish(),
            body,
        })
    }

    /// WeChat's side again: reads a response body as WeChat would. An encrypted envelope is
    /// checked against its own `MsgSignature`, `TimeStamp` and `Nonce` and decrypted;
    /// anything else (plain XML, `success`, empty) is returned as it is.
    pub fn open_reply<'r>(&self, body: &'r str) -> Result<Cow<'r, str>, CallbackError> {
        if !body.contains("<Encrypt>") {
            return Ok(Cow::Borrowed(body));
        }
        let envelope = xml::Fields::parse(body)?;
        let field = |name: &'static str| {
            envelope
                .get(name)
                .ok_or(CallbackError::Body(ParseError::MissingField(name)))
        };
        let encrypt = field("Encrypt")?;
        signature::verify_msg_signature(
            &self.token,
            field("TimeStamp")?,
            field("Nonce")?,
            encrypt,
            field("MsgSignature")?,
        )?;
        Ok(Cow::Owned(crypto::decrypt_to_string(
            self.key()?,
            &self.receiver_id,
            encrypt,
        )?))
    }

    fn open_plaintext<'b>(
        &self,
        query: &CallbackQuery<'_>,
        body: &'b str,
    ) -> Result<Inbound<'b>, CallbackError> {
        let (timestamp, nonce) = timestamp_nonce(query)?;
        let signature = require(&query.signature, "signature")?;
        signature::verify_signature(&self.token, timestamp, nonce, signature)?;
        Ok(Inbound {
            xml: Cow::Borrowed(body),
            encrypted: false,
        })
    }

    fn open_encrypted(
        &self,
        query: &CallbackQuery<'_>,
        encrypt: &str,
    ) -> Result<Inbound<'static>, CallbackError> {
        // `msg_signature` covers the ciphertext, so it is the one that authenticates the body
        // (the plain `signature` beside it does not cover the body at all).
        let (timestamp, nonce) = timestamp_nonce(query)?;
        let msg_signature = require(&query.msg_signature, "msg_signature")?;
        signature::verify_msg_signature(&self.token, timestamp, nonce, encrypt, msg_signature)?;
        let xml = crypto::decrypt_to_string(self.key()?, &self.receiver_id, encrypt)?;
        Ok(Inbound {
            xml: Cow::Owned(xml),
            encrypted: true,
        })
    }

    fn key(&self) -> Result<&AesKey, CallbackError> {
        // Construction guarantees a key in every mode that encrypts; a plaintext-mode
        // endpoint asked to encrypt anyway reports it as an invalid key.
        self.key
            .as_ref()
            .ok_or(CallbackError::Crypto(CryptoError::InvalidKey))
    }
}

/// Decodes one form-encoded name or value: `+` is a space, `%XY` a byte, a `%` not followed
/// by two hex digits stays as it is; invalid UTF-8 becomes U+FFFD.
fn form_decode(raw: &str) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|&h| char::from(h).to_digit(16));
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn require<'q>(
    value: &'q Option<Cow<'_, str>>,
    name: &'static str,
) -> Result<&'q str, CallbackError> {
    value
        .as_deref()
        .ok_or(CallbackError::MissingParameter(name))
}

fn timestamp_nonce<'q>(query: &'q CallbackQuery<'_>) -> Result<(&'q str, &'q str), CallbackError> {
    Ok((
        require(&query.timestamp, "timestamp")?,
        require(&query.nonce, "nonce")?,
    ))
}

/// The `<Encrypt>` text of a body, if it has one at the top level.
fn encrypted_part(body: &str) -> Result<Option<Cow<'_, str>>, ParseError> {
    Ok(xml::Fields::parse(body)?.value("Encrypt").cloned())
}

#[cfg(test)]
mod tests;
