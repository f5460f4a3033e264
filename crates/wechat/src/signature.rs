//! The SHA-1 request signatures.
//!
//! `signature` = hex(sha1(sorted(token, timestamp, nonce) concatenated)) authenticates every
//! request; `msg_signature` adds the `Encrypt` text as a fourth string and authenticates an
//! encrypted body. Sorting is byte-wise and there is no separator. Nothing here allocates.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// A signature did not match. Callers answer 403 and never echo anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request signature does not match")]
    Mismatch,
}

/// A computed signature: 40 lowercase hex digits, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 40]);

impl Signature {
    pub fn as_str(&self) -> &str {
        // Always ASCII hex: see `of`.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Compares with a received signature in constant time, so the time taken tells an
    /// attacker nothing about how many leading digits they guessed right.
    pub fn matches(&self, received: &str) -> bool {
        bool::from(self.0.ct_eq(received.as_bytes()))
    }

    fn of<const N: usize>(mut parts: [&[u8]; N]) -> Self {
        parts.sort_unstable();
        let mut sha = Sha1::new();
        for part in parts {
            sha.update(part);
        }
        let mut hex = [0u8; 40];
        // 20 digest bytes always fill 40 hex digits, so this cannot fail.
        let _ = hex::encode_to_slice(sha.finalize(), &mut hex);
        Signature(hex)
    }
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({})", self.as_str())
    }
}

/// The 3-field `signature` of the query string (every GET and POST, every mode).
pub fn signature(token: &str, timestamp: &str, nonce: &str) -> Signature {
    Signature::of([token.as_bytes(), timestamp.as_bytes(), nonce.as_bytes()])
}

/// The 4-field `msg_signature` over an encrypted body; `encrypt` is the base64 text exactly as
/// it appears in `<Encrypt>` (or in a WeCom `echostr`).
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> Signature {
    Signature::of([
        token.as_bytes(),
        timestamp.as_bytes(),
        nonce.as_bytes(),
        encrypt.as_bytes(),
    ])
}

/// Checks the query's `signature`.
pub fn verify_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    received: &str,
) -> Result<(), SignatureError> {
    check(signature(token, timestamp, nonce), received)
}

/// Checks the query's `msg_signature` against the `Encrypt` text, before any decryption.
pub fn verify_msg_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
    received: &str,
) -> Result<(), SignatureError> {
    check(msg_signature(token, timestamp, nonce, encrypt), received)
}

fn check(expected: Signature, received: &str) -> Result<(), SignatureError> {
    if expected.matches(received) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_without_separator() {
        // sha1("1714037059486452656AAAAA"), from the official plaintext-mode walkthrough.
        let s = signature("AAAAA", "1714037059", "486452656");
        assert_eq!(s.as_str(), "899cf89e464efb63f54ddac96b0a0a235f53aa78");
        assert!(verify_signature("AAAAA", "1714037059", "486452656", s.as_str()).is_ok());
    }

    #[test]
    fn near_misses_are_rejected() {
        let good = signature("test", "1410685589", "test");
        let mut bad = good.as_str().to_string();
        bad.pop();
        for received in [
            bad.clone(),
            format!("{bad}0"),
            good.as_str().to_uppercase(),
            String::new(),
            format!("{}0", good.as_str()),
        ] {
            assert_eq!(
                verify_signature("test", "1410685589", "test", &received),
                Err(SignatureError::Mismatch),
                "{received}"
            );
        }
    }
}
