//! Byte search for the short strings MQTT carries: where a topic has a
//! wildcard, a string a U+0000.

/// The position of the first byte of `bytes` equal to one of `targets`,
/// eight bytes at a time: in a word, the lowest byte flagged by the classic
/// "has zero byte" test of `word ^ target` is exactly the first match (a
/// false flag can only sit above a true one). For the short strings MQTT
/// mostly carries this beats both a byte loop and `memchr`.
#[inline]
pub(crate) fn find_any<const N: usize>(bytes: &[u8], targets: [u8; N]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for c in &mut chunks {
        let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let mut found = 0;
        for target in targets {
            let x = word ^ (ONES * u64::from(target));
            found |= x.wrapping_sub(ONES) & !x & HIGH;
        }
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let at = chunks
        .remainder()
        .iter()
        .position(|b| targets.contains(b))?;
    Some(offset + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_any_finds_the_first_match_like_a_plain_scan() {
        // Every byte value as the match and as the filler around it, at
        // every position of strings long enough for whole words and tails,
        // with a second match later (which must not be reported).
        for target in 0..=u8::MAX {
            for filler in [0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF, target ^ 1] {
                for len in 0..20 {
                    for at in 0..=len {
                        let mut bytes = vec![filler; len];
                        if let Some(b) = bytes.get_mut(at) {
                            *b = target;
                        }
                        if let Some(b) = bytes.get_mut(at + 3) {
                            *b = target;
                        }
                        let plain = bytes.iter().position(|&b| b == target || b == b'#');
                        assert_eq!(find_any(&bytes, [target, b'#']), plain, "{bytes:?}");
                        let plain = bytes.iter().position(|&b| b == target);
                        assert_eq!(find_any(&bytes, [target]), plain, "{bytes:?}");
                    }
                }
            }
        }
    }
}
