//! Decryption of untrusted input, three ways: the input as the `<Encrypt>` text, as raw
//! ciphertext, and as the *decrypted* plaintext (encrypted here with the key, so the fuzzer
//! steers the pad byte, the length field and the receiver id directly). A success must be
//! consistent with the layout; encrypting the input must always round-trip.

#![no_main]

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use wechat::AesKey;
use wechat::crypto::{decrypt, encrypt};

const KEY: [u8; 32] = [7; 32];
const RECEIVER: &str = "wx2c2769f8efd9abc2";

fuzz_target!(|data: &[u8]| {
    let key = AesKey::from_bytes(KEY);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decrypt(&key, RECEIVER, text);
        let _ = AesKey::from_encoding_aes_key(text);
    }
    let _ = decrypt(&key, RECEIVER, &STANDARD.encode(data));

    let mut plain = data.to_vec();
    plain.resize(data.len().div_ceil(16).max(1) * 16, 0);
    if let Ok(message) = decrypt(&key, RECEIVER, &raw_encrypt(&plain)) {
        assert!(message.len() + 20 + RECEIVER.len() <= plain.len());
        assert_eq!(&plain[20..20 + message.len()], &message[..]);
    }

    let sealed = encrypt(&key, RECEIVER, data, &[1; 16]).expect("any message encrypts");
    assert_eq!(
        decrypt(&key, RECEIVER, &sealed).expect("own ciphertext decrypts"),
        data
    );
});

fn raw_encrypt(plain: &[u8]) -> String {
    let mut buf = plain.to_vec();
    let len = buf.len();
    let iv: [u8; 16] = KEY[..16].try_into().expect("16 bytes");
    let cipher = cbc::Encryptor::<aes::Aes256>::new(&KEY.into(), &iv.into());
    let out = cipher
        .encrypt_padded_mut::<NoPadding>(&mut buf, len)
        .expect("a multiple of the block size");
    STANDARD.encode(out)
}
