//! Base64 helpers: JOSE uses URL-safe without padding; certificates travel as standard base64.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

pub fn url_encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding, strictly (no padding, no whitespace, canonical trailing
/// bits). The SIMD decoder (`base64-simd`) does the work; on its refusal the `base64` crate decodes
/// again to say what is wrong (the two agree on what they accept; a test checks it).
pub fn url_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    match base64_simd::URL_SAFE_NO_PAD.decode_to_vec(s) {
        Ok(bytes) => Ok(bytes),
        Err(_) => URL_SAFE_NO_PAD.decode(s),
    }
}

/// [`url_decode`] into `buf` when the result fits (an RSA signature: no allocation), else into a
/// new vector. Accepts and refuses exactly what [`url_decode`] does.
pub fn url_decode_in<'b>(
    s: &str,
    buf: &'b mut [u8],
) -> Result<std::borrow::Cow<'b, [u8]>, base64::DecodeError> {
    let simd = base64_simd::URL_SAFE_NO_PAD;
    match simd.decoded_length(s.as_bytes()) {
        Ok(n) if n <= buf.len() => {
            match simd.decode(s.as_bytes(), base64_simd::Out::from_slice(buf)) {
                Ok(bytes) => Ok(std::borrow::Cow::Borrowed(&*bytes)),
                Err(_) => url_decode(s).map(std::borrow::Cow::Owned),
            }
        }
        _ => url_decode(s).map(std::borrow::Cow::Owned),
    }
}

pub fn std_encode(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// Standard base64 as PowerShell's `[Convert]::ToBase64String` writes it; surrounding whitespace
/// and line breaks (as in a pasted or PEM-wrapped value) are ignored.
pub fn std_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIMD decoder and the `base64` crate accept exactly the same strings, with the same
    /// bytes: every length up to 70 around valid encodings, with each position replaced by
    /// characters at the edges of the alphabet.
    #[test]
    fn simd_decoder_agrees_with_the_base64_crate() {
        let alphabet = b"AQgw_-+/=.9a \n";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in 0..70usize {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let good = url_encode(&bytes);
            assert_eq!(url_decode(&good).unwrap(), bytes);
            let mut small = [0u8; 16];
            assert_eq!(
                url_decode_in(&good, &mut small).unwrap().as_ref(),
                &bytes[..]
            );
            for pos in 0..good.len() {
                for &c in alphabet {
                    let mut s = good.clone().into_bytes();
                    s[pos] = c;
                    let Ok(s) = String::from_utf8(s) else {
                        continue;
                    };
                    let simd = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(&s).ok();
                    let plain = URL_SAFE_NO_PAD.decode(&s).ok();
                    assert_eq!(simd, plain, "{s:?}");
                    let mut buf = [0u8; 64];
                    let into = url_decode_in(&s, &mut buf).ok().map(|c| c.into_owned());
                    assert_eq!(into, plain, "{s:?}");
                }
            }
            for extra in ["=", "==", "A", "AA", "AAA", " "] {
                let s = format!("{good}{extra}");
                assert_eq!(
                    base64_simd::URL_SAFE_NO_PAD.decode_to_vec(&s).ok(),
                    URL_SAFE_NO_PAD.decode(&s).ok(),
                    "{s:?}"
                );
            }
        }
    }
}
