//! Greeting validation: only a well-formed RIFF/WAVE file with uncompressed PCM audio is accepted
//! (what Exchange UM's greeting code expects in `Um.CustomGreetings.*`).

use crate::error::SkypeError;

/// Largest greeting accepted, bytes.
pub const MAX_GREETING_BYTES: usize = 5 * 1024 * 1024;
/// Most RIFF chunks walked before giving up.
const MAX_CHUNKS: usize = 64;

/// What a valid greeting contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    pub channels: u16,
    pub sample_rate: u32,
    pub bits_per_sample: u16,
    pub data_bytes: u32,
    /// Length of the audio, milliseconds.
    pub duration_ms: u64,
}

fn bad(why: impl Into<String>) -> SkypeError {
    SkypeError::InvalidWav(why.into())
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Checks a greeting: RIFF header and size, WAVE form, a `fmt ` chunk with PCM (format 1),
/// 1–2 channels, 8–48 kHz, 8/16/24/32 bits, consistent block align and byte rate, and a
/// non-empty `data` chunk after it whose length fits the file and is whole frames.
pub fn validate(b: &[u8]) -> Result<WavInfo, SkypeError> {
    if b.len() > MAX_GREETING_BYTES {
        return Err(bad(format!(
            "it is {} bytes; a greeting may be at most {MAX_GREETING_BYTES} bytes (5 MiB)",
            b.len()
        )));
    }
    if b.len() < 12 || &b[0..4] != b"RIFF" {
        return Err(bad("it does not start with a RIFF header"));
    }
    if &b[8..12] != b"WAVE" {
        return Err(bad("the RIFF form type is not WAVE"));
    }
    let riff_size = u32_at(b, 4).unwrap_or(0) as usize;
    if riff_size.checked_add(8) != Some(b.len()) {
        return Err(bad(format!(
            "the RIFF header declares {} bytes but the file has {}",
            riff_size.saturating_add(8),
            b.len()
        )));
    }
    let mut pos = 12usize;
    let mut fmt: Option<(u16, u32, u16)> = None;
    let mut block_align = 0u16;
    let mut chunks = 0usize;
    while pos < b.len() {
        chunks += 1;
        if chunks > MAX_CHUNKS {
            return Err(bad(format!("more than {MAX_CHUNKS} RIFF chunks")));
        }
        let (Some(id), Some(size)) = (b.get(pos..pos + 4), u32_at(b, pos + 4)) else {
            return Err(bad(format!("a truncated chunk header at byte {pos}")));
        };
        let size = size as usize;
        let start = pos + 8;
        let Some(end) = start.checked_add(size).filter(|e| *e <= b.len()) else {
            return Err(bad(format!(
                "the '{}' chunk declares {size} bytes but only {} remain in the file",
                String::from_utf8_lossy(id),
                b.len().saturating_sub(start)
            )));
        };
        let body = &b[start..end];
        match id {
            b"fmt " => {
                if fmt.is_some() {
                    return Err(bad("more than one 'fmt ' chunk"));
                }
                if size < 16 {
                    return Err(bad(format!(
                        "the 'fmt ' chunk is {size} bytes; at least 16"
                    )));
                }
                let format = u16_at(body, 0).unwrap_or(0);
                let channels = u16_at(body, 2).unwrap_or(0);
                let rate = u32_at(body, 4).unwrap_or(0);
                let byte_rate = u32_at(body, 8).unwrap_or(0);
                let align = u16_at(body, 12).unwrap_or(0);
                let bits = u16_at(body, 14).unwrap_or(0);
                if format != 1 {
                    return Err(bad(format!(
                        "the audio format is {format:#06x}; only uncompressed PCM (format 1) is accepted"
                    )));
                }
                if !(1..=2).contains(&channels) {
                    return Err(bad(format!(
                        "{channels} channels; a greeting is mono or stereo"
                    )));
                }
                if !(8000..=48000).contains(&rate) {
                    return Err(bad(format!(
                        "sample rate {rate} Hz; accepted are 8000 to 48000 Hz"
                    )));
                }
                if ![8, 16, 24, 32].contains(&bits) {
                    return Err(bad(format!(
                        "{bits} bits per sample; accepted are 8, 16, 24 or 32"
                    )));
                }
                let want_align = channels * (bits / 8);
                if align != want_align {
                    return Err(bad(format!(
                        "block align is {align}; {channels} channel(s) of {bits} bits need {want_align}"
                    )));
                }
                if byte_rate != rate * u32::from(want_align) {
                    return Err(bad(format!(
                        "byte rate is {byte_rate}; {rate} Hz × {want_align} bytes per frame is {}",
                        rate * u32::from(want_align)
                    )));
                }
                block_align = align;
                fmt = Some((channels, rate, bits));
            }
            b"data" => {
                let Some((channels, sample_rate, bits_per_sample)) = fmt else {
                    return Err(bad("the 'data' chunk comes before the 'fmt ' chunk"));
                };
                if size == 0 {
                    return Err(bad("the 'data' chunk is empty"));
                }
                if !size.is_multiple_of(usize::from(block_align)) {
                    return Err(bad(format!(
                        "the 'data' chunk is {size} bytes, not a whole number of {block_align}-byte frames"
                    )));
                }
                let frames = (size / usize::from(block_align)) as u64;
                return Ok(WavInfo {
                    channels,
                    sample_rate,
                    bits_per_sample,
                    data_bytes: size as u32,
                    duration_ms: frames * 1000 / u64::from(sample_rate),
                });
            }
            _ => {}
        }
        // chunks are padded to an even length
        pos = end + (size & 1);
    }
    if fmt.is_none() {
        Err(bad("there is no 'fmt ' chunk"))
    } else {
        Err(bad("there is no 'data' chunk"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(format: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut w = Vec::new();
        w.extend_from_slice(b"RIFF");
        w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&format.to_le_bytes());
        w.extend_from_slice(&channels.to_le_bytes());
        w.extend_from_slice(&rate.to_le_bytes());
        w.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        w.extend_from_slice(&align.to_le_bytes());
        w.extend_from_slice(&bits.to_le_bytes());
        w.extend_from_slice(b"data");
        w.extend_from_slice(&(data.len() as u32).to_le_bytes());
        w.extend_from_slice(data);
        w
    }

    fn why(b: &[u8]) -> String {
        validate(b).unwrap_err().to_string()
    }

    #[test]
    fn accepts_pcm() {
        let i = validate(&wav(1, 1, 8000, 16, &[0u8; 16000])).unwrap();
        assert_eq!(
            (i.channels, i.sample_rate, i.bits_per_sample),
            (1, 8000, 16)
        );
        assert_eq!(i.duration_ms, 1000);
    }

    #[test]
    fn refuses_with_a_clear_reason() {
        assert!(why(b"hello").contains("RIFF header"));
        let mut w = wav(1, 1, 8000, 16, &[0; 4]);
        w[8..12].copy_from_slice(b"AVI ");
        assert!(why(&w).contains("not WAVE"));
        assert!(why(&wav(0x55, 1, 8000, 16, &[0; 4])).contains("only uncompressed PCM"));
        assert!(why(&wav(1, 6, 8000, 16, &[0; 12])).contains("6 channels"));
        assert!(why(&wav(1, 1, 4000, 16, &[0; 4])).contains("sample rate"));
        assert!(why(&wav(1, 1, 8000, 12, &[0; 4])).contains("bits per sample"));
        assert!(why(&wav(1, 1, 8000, 16, &[])).contains("empty"));
        assert!(why(&wav(1, 1, 8000, 16, &[0; 3])).contains("whole number"));
        // data length larger than the file
        let mut w = wav(1, 1, 8000, 16, &[0; 4]);
        let n = w.len();
        w[n - 8..n - 4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(why(&w).contains("only 4 remain"));
        // RIFF size inconsistent
        let mut w = wav(1, 1, 8000, 16, &[0; 4]);
        w.push(0);
        assert!(why(&w).contains("declares"));
        let big = vec![0u8; MAX_GREETING_BYTES + 1];
        assert!(why(&big).contains("at most"));
    }
}
