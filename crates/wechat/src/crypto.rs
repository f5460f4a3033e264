//! WeChat's message encryption (`WXBizMsgCrypt`): AES-256-CBC over
//! `random(16) || be_u32(len) || message || receiver id`, padded PKCS#7-style to a multiple
//! of **32** bytes, base64 with the standard alphabet.
//!
//! The padding is why we unpad by hand: a stock PKCS#7 unpadder works on the 16-byte AES block
//! and rejects pad bytes 17..=32, which about half of real messages use. Every check runs
//! before any index is taken from decrypted data, so no input can make this panic.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use aes::{Aes256Dec, Aes256Enc};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use subtle::ConstantTimeEq;

/// WeChat's padding block: pad bytes are 1..=32.
const PAD_BLOCK: usize = 32;
/// The random prefix in front of the length field.
const RANDOM_LEN: usize = 16;
/// Random prefix plus the 4-byte length field.
const HEADER_LEN: usize = RANDOM_LEN + 4;

/// Why a key, a ciphertext or its content was refused. `official_code` gives the code the
/// official samples use, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("EncodingAESKey must be 43 base64 characters that decode to 32 bytes")]
    InvalidKey,
    #[error("the ciphertext is not valid base64")]
    Base64,
    #[error("the ciphertext length is not a non-zero multiple of 16 bytes")]
    CiphertextLength,
    #[error("the decrypted padding is invalid (wrong key or damaged ciphertext)")]
    Padding,
    #[error("the decrypted length field does not fit the buffer")]
    MessageLength,
    #[error("the message is addressed to another AppID or corp id")]
    ReceiverIdMismatch,
    #[error("the decrypted message is not UTF-8")]
    InvalidUtf8,
    #[error("the message is too long to encrypt")]
    MessageTooLong,
}

impl CryptoError {
    /// The error code of the official `WXBizMsgCrypt` samples.
    pub fn official_code(&self) -> i32 {
        match self {
            CryptoError::InvalidKey => -40004,
            CryptoError::ReceiverIdMismatch => -40005,
            CryptoError::MessageTooLong => -40006,
            CryptoError::CiphertextLength | CryptoError::Padding => -40007,
            CryptoError::MessageLength | CryptoError::InvalidUtf8 => -40008,
            CryptoError::Base64 => -40010,
        }
    }
}

/// An account's AES key, with both key schedules expanded once so each message costs only
/// the cipher work. `Debug` never shows the key.
#[derive(Clone)]
pub struct AesKey {
    enc: Aes256Enc,
    dec: Aes256Dec,
    /// WeChat uses the first 16 key bytes as the (fixed) IV.
    iv: aes::Block,
}

impl AesKey {
    /// Decodes the 43-character `EncodingAESKey` from the account settings.
    ///
    /// It is base64 of 32 bytes without the final `=`; 43 characters carry 258 bits, so the
    /// last character has 2 bits beyond the key. WeChat does not guarantee they are zero and
    /// a strict decoder rejects such keys, so ours ignores trailing bits.
    pub fn from_encoding_aes_key(encoding_aes_key: &str) -> Result<Self, CryptoError> {
        const LENIENT: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(DecodePaddingMode::RequireNone),
        );
        if encoding_aes_key.len() != 43 {
            return Err(CryptoError::InvalidKey);
        }
        let mut key = [0u8; 33];
        match LENIENT.decode_slice(encoding_aes_key, &mut key) {
            Ok(32) => {}
            _ => return Err(CryptoError::InvalidKey),
        }
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&key[..32]);
        Ok(Self::from_bytes(bytes))
    }

    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let enc = Aes256Enc::new(&bytes.into());
        let dec = Aes256Dec::from(&enc);
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&bytes[..16]);
        AesKey {
            enc,
            dec,
            iv: iv.into(),
        }
    }
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(..)")
    }
}

/// Encrypts `message` for `receiver_id` (the AppID; the corp id for WeCom) and returns the
/// base64 text that goes into `<Encrypt>`. `random` is the 16-byte prefix; give fresh random
/// bytes for every message.
pub fn encrypt(
    key: &AesKey,
    receiver_id: &str,
    message: &[u8],
    random: &[u8; 16],
) -> Result<String, CryptoError> {
    let mut out = String::new();
    encrypt_into(key, receiver_id, message, random, &mut out)?;
    Ok(out)
}

/// [`encrypt`], appending the base64 text to `out` (so a reply envelope is built in one
/// buffer).
pub fn encrypt_into(
    key: &AesKey,
    receiver_id: &str,
    message: &[u8],
    random: &[u8; 16],
    out: &mut String,
) -> Result<(), CryptoError> {
    let msg_len = u32::try_from(message.len()).map_err(|_| CryptoError::MessageTooLong)?;
    let plain_len = HEADER_LEN
        .checked_add(message.len())
        .and_then(|n| n.checked_add(receiver_id.len()))
        .ok_or(CryptoError::MessageTooLong)?;
    let pad = PAD_BLOCK - plain_len % PAD_BLOCK;
    let pad_byte = u8::try_from(pad).map_err(|_| CryptoError::MessageTooLong)?;

    let mut buf = Vec::with_capacity(plain_len + pad);
    buf.extend_from_slice(random);
    buf.extend_from_slice(&msg_len.to_be_bytes());
    buf.extend_from_slice(message);
    buf.extend_from_slice(receiver_id.as_bytes());
    buf.resize(plain_len + pad, pad_byte);

    let total = buf.len();
    let cipher = cbc::Encryptor::<Aes256Enc>::inner_iv_init(key.enc.clone(), &key.iv);
    let encrypted = cipher
        .encrypt_padded_mut::<NoPadding>(&mut buf, total)
        .map_err(|_| CryptoError::CiphertextLength)?;
    base64_simd::STANDARD.encode_append(encrypted, out);
    Ok(())
}

/// Decrypts an `<Encrypt>` text and returns the message bytes, after checking the padding,
/// the length field and that the message is addressed to `expected_receiver_id`.
///
/// Call it only after `msg_signature` has been verified: the signature is what makes the
/// ciphertext trustworthy, and checking it first also denies attackers a padding oracle.
pub fn decrypt(
    key: &AesKey,
    expected_receiver_id: &str,
    encrypted: &str,
) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::new();
    decrypt_into(key, expected_receiver_id, encrypted, &mut out)?;
    Ok(out)
}

/// [`decrypt`] to a `String`, refusing a message that is not UTF-8.
pub fn decrypt_to_string(
    key: &AesKey,
    expected_receiver_id: &str,
    encrypted: &str,
) -> Result<String, CryptoError> {
    let bytes = decrypt(key, expected_receiver_id, encrypted)?;
    String::from_utf8(bytes).map_err(|_| CryptoError::InvalidUtf8)
}

/// [`decrypt`] into a caller's buffer (cleared first), so a loop can reuse one allocation.
/// On error the buffer's content is unspecified.
pub fn decrypt_into(
    key: &AesKey,
    expected_receiver_id: &str,
    encrypted: &str,
    buf: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    buf.clear();
    // Strict, as WeChat writes it: padded, and no bits set past the last byte.
    base64_simd::STANDARD
        .decode_append(encrypted, buf)
        .map_err(|_| CryptoError::Base64)?;
    if buf.is_empty() || !buf.len().is_multiple_of(16) {
        return Err(CryptoError::CiphertextLength);
    }
    let cipher = cbc::Decryptor::<Aes256Dec>::inner_iv_init(key.dec.clone(), &key.iv);
    cipher
        .decrypt_padded_mut::<NoPadding>(buf)
        .map_err(|_| CryptoError::CiphertextLength)?;

    let unpadded = unpad(buf)?;
    let message = split_message(&buf[..unpadded], expected_receiver_id)?;
    // Move the message to the front in place: the buffer becomes the result, no copy out.
    let len = message.len();
    buf.copy_within(message, 0);
    buf.truncate(len);
    Ok(())
}

/// Checks WeChat's 32-byte PKCS#7 padding and returns the length without it. The pad byte
/// must be 1..=32, fit the buffer, and every pad byte must equal it.
fn unpad(buf: &[u8]) -> Result<usize, CryptoError> {
    let Some(&last) = buf.last() else {
        return Err(CryptoError::Padding);
    };
    let pad = usize::from(last);
    if pad == 0 || pad > PAD_BLOCK || pad > buf.len() {
        return Err(CryptoError::Padding);
    }
    let start = buf.len() - pad;
    // OR of the differences over all pad bytes: no early exit on the first bad byte.
    let diff = buf[start..].iter().fold(0u8, |acc, &b| acc | (b ^ last));
    if diff != 0 {
        return Err(CryptoError::Padding);
    }
    Ok(start)
}

/// Reads `random(16) || be_u32(len) || message || receiver id` and returns the message's
/// range, after bounds-checking the length field and comparing the receiver id in constant
/// time.
fn split_message(
    plain: &[u8],
    expected_receiver_id: &str,
) -> Result<std::ops::Range<usize>, CryptoError> {
    let Some(len_field) = plain.get(RANDOM_LEN..HEADER_LEN) else {
        return Err(CryptoError::MessageLength);
    };
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(len_field);
    let msg_len =
        usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| CryptoError::MessageLength)?;
    let msg_end = HEADER_LEN
        .checked_add(msg_len)
        .filter(|&end| end <= plain.len())
        .ok_or(CryptoError::MessageLength)?;
    let receiver = &plain[msg_end..];
    if !bool::from(receiver.ct_eq(expected_receiver_id.as_bytes())) {
        return Err(CryptoError::ReceiverIdMismatch);
    }
    Ok(HEADER_LEN..msg_end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APP: &str = "wxb11529c136998cb6";

    fn key() -> AesKey {
        AesKey::from_encoding_aes_key(KEY).expect("valid key")
    }

    /// Encrypts raw (already padded) bytes, to build hostile plaintexts.
    fn raw_encrypt(key: &AesKey, plain: &[u8]) -> String {
        let mut buf = plain.to_vec();
        let len = buf.len();
        let cipher = cbc::Encryptor::<Aes256Enc>::inner_iv_init(key.enc.clone(), &key.iv);
        let out = cipher
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .expect("block multiple");
        STANDARD.encode(out)
    }

    #[test]
    fn round_trip_and_pad_range() {
        let k = key();
        for len in 0..100 {
            let msg = vec![b'x'; len];
            let enc = encrypt(&k, APP, &msg, b"aaaabbbbccccdddd").expect("encrypts");
            assert_eq!(decrypt(&k, APP, &enc).expect("decrypts"), msg);
        }
    }

    #[test]
    fn keys() {
        assert!(AesKey::from_encoding_aes_key(&"A".repeat(43)).is_ok());
        // Trailing bits set in the last character: valid for WeChat, rejected by strict base64.
        assert!(AesKey::from_encoding_aes_key(&format!("{}B", "A".repeat(42))).is_ok());
        for bad in [
            "abcde",
            "",
            &"A".repeat(44),
            &format!("{}=", "A".repeat(42)),
        ] {
            assert_eq!(
                AesKey::from_encoding_aes_key(bad).err(),
                Some(CryptoError::InvalidKey)
            );
        }
        assert_eq!(format!("{:?}", key()), "AesKey(..)");
    }

    #[test]
    fn hostile_plaintexts() {
        let k = key();
        let mut block = [7u8; 32];
        // Pad byte 7, but one of the pad bytes differs.
        block[27] = 6;
        assert_eq!(
            decrypt(&k, APP, &raw_encrypt(&k, &block)),
            Err(CryptoError::Padding)
        );
        // Pad 33 and pad 0.
        assert_eq!(
            decrypt(&k, APP, &raw_encrypt(&k, &[33u8; 64])),
            Err(CryptoError::Padding)
        );
        assert_eq!(
            decrypt(&k, APP, &raw_encrypt(&k, &[0u8; 32])),
            Err(CryptoError::Padding)
        );
        // A full block of pad: nothing left for the header.
        assert_eq!(
            decrypt(&k, APP, &raw_encrypt(&k, &[32u8; 32])),
            Err(CryptoError::MessageLength)
        );
        // Length field far beyond the buffer, and u32::MAX.
        for len in [1000u32, u32::MAX] {
            let mut plain = vec![0u8; 64];
            plain[16..20].copy_from_slice(&len.to_be_bytes());
            plain[63] = 1;
            assert_eq!(
                decrypt(&k, APP, &raw_encrypt(&k, &plain)),
                Err(CryptoError::MessageLength)
            );
        }
    }

    #[test]
    fn hostile_ciphertexts() {
        let k = key();
        let good = encrypt(&k, APP, b"hello", b"aaaabbbbccccdddd").expect("encrypts");
        assert_eq!(
            decrypt(&k, "wx0000000000000000", &good),
            Err(CryptoError::ReceiverIdMismatch)
        );
        assert_eq!(decrypt(&k, "", &good), Err(CryptoError::ReceiverIdMismatch));
        assert_eq!(decrypt(&k, APP, ""), Err(CryptoError::CiphertextLength));
        assert_eq!(decrypt(&k, APP, "YWJj"), Err(CryptoError::CiphertextLength));
        assert_eq!(
            decrypt(&k, APP, &good[..good.len() - 3]),
            Err(CryptoError::Base64)
        );
        assert_eq!(decrypt(&k, APP, "!!!!"), Err(CryptoError::Base64));
        let truncated_blocks = STANDARD.encode(&STANDARD.decode(&good).expect("b64")[..48]);
        assert!(decrypt(&k, APP, &truncated_blocks).is_err());
        // Base64 as WeChat writes it only: padded, and no bits set past the last byte.
        let data_end = good.trim_end_matches('=').len();
        assert!(data_end < good.len(), "64 bytes need padding: {good}");
        assert_eq!(
            decrypt(&k, APP, &good[..data_end]),
            Err(CryptoError::Base64)
        );
        // The last character before the padding carries bits past the last byte.
        let last = data_end - 1;
        let stray_bits = STANDARD_ALPHABET
            .find(&good[last..data_end])
            .map(|i| STANDARD_ALPHABET.as_bytes()[i | 1] as char)
            .expect("base64 character");
        let loose = format!("{}{stray_bits}{}", &good[..last], &good[data_end..]);
        assert_ne!(loose, good);
        assert_eq!(decrypt(&k, APP, &loose), Err(CryptoError::Base64));
    }

    const STANDARD_ALPHABET: &str =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    #[test]
    fn reused_buffer() {
        let k = key();
        let mut buf = Vec::new();
        for msg in ["first message", "2", ""] {
            let enc = encrypt(&k, APP, msg.as_bytes(), b"0123456789abcdef").expect("encrypts");
            decrypt_into(&k, APP, &enc, &mut buf).expect("decrypts");
            assert_eq!(buf, msg.as_bytes());
        }
    }
}
