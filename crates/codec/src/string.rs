//! UTF-8 Encoded Strings (MQTT 3.1.1 §1.5.3, MQTT 5.0 §1.5.4).

use bytes::Bytes;
use bytestring::ByteString;

/// A UTF-8 string as MQTT carries it: well formed, no U+0000, at most
/// 65,535 bytes. Decoded strings share the packet's buffer (zero-copy).
///
/// Constructors enforce the rules a sender must keep (MQTT-1.5.3-1/-2,
/// MQTT-1.5.4-1/-2); a test that must send a broken string builds it with
/// [`crate::raw`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MqttString(ByteString);

/// Why a value cannot be an [`MqttString`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringError {
    /// Not well-formed UTF-8 (includes encoded surrogates U+D800..U+DFFF).
    InvalidUtf8,
    /// Contains U+0000.
    NullCharacter,
    /// Longer than 65,535 bytes.
    TooLong,
}

impl MqttString {
    /// The longest string a two-byte length prefix can carry.
    pub const MAX_LEN: usize = u16::MAX as usize;

    /// Validates `s` and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, StringError> {
        let s: String = s.into();
        check_str(&s)?;
        Ok(MqttString(ByteString::from(s)))
    }

    /// A string known at compile time. Panics on a string MQTT forbids, so
    /// use it only with literals.
    pub fn from_static(s: &'static str) -> Self {
        if let Err(e) = check_str(s) {
            panic!("invalid MQTT string literal {s:?}: {e:?}");
        }
        MqttString(ByteString::from_static(s))
    }

    /// Validates bytes received on the wire, sharing their buffer.
    #[inline]
    pub fn from_bytes(bytes: Bytes) -> Result<Self, StringError> {
        if bytes.len() > Self::MAX_LEN {
            return Err(StringError::TooLong);
        }
        let s = ByteString::try_from(bytes).map_err(|_| StringError::InvalidUtf8)?;
        if has_nul(s.as_bytes()) {
            return Err(StringError::NullCharacter);
        }
        Ok(MqttString(s))
    }

    /// Wraps bytes received on the wire whose length (at most 65,535) and
    /// absence of U+0000 the caller has checked; checks UTF-8.
    #[inline(always)]
    pub(crate) fn from_checked_bytes(bytes: Bytes) -> Result<Self, StringError> {
        debug_assert!(bytes.len() <= Self::MAX_LEN && !has_nul(&bytes));
        ByteString::try_from(bytes)
            .map(MqttString)
            .map_err(|_| StringError::InvalidUtf8)
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The encoded bytes, without the length prefix.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the zero-length string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The shared buffer holding the string.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }
}

/// True when `bytes` contains U+0000.
fn has_nul(bytes: &[u8]) -> bool {
    crate::scan::find_any(bytes, [0]).is_some()
}

fn check_str(s: &str) -> Result<(), StringError> {
    if s.len() > MqttString::MAX_LEN {
        Err(StringError::TooLong)
    } else if s.as_bytes().contains(&0) {
        Err(StringError::NullCharacter)
    } else {
        Ok(())
    }
}

impl std::ops::Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MqttString {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MqttString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for MqttString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&str> for MqttString {
    type Error = StringError;
    fn try_from(s: &str) -> Result<Self, StringError> {
        MqttString::new(s)
    }
}

impl TryFrom<String> for MqttString {
    type Error = StringError;
    fn try_from(s: String) -> Result<Self, StringError> {
        MqttString::new(s)
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for MqttString {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let s: String = u.arbitrary()?;
        let s: String = s.chars().filter(|c| *c != '\0').take(64).collect();
        MqttString::new(s).map_err(|_| arbitrary::Error::IncorrectFormat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_null_and_bad_utf8() {
        assert_eq!(MqttString::new("a\0b"), Err(StringError::NullCharacter));
        // An encoded surrogate (U+D800) is ill-formed UTF-8.
        assert_eq!(
            MqttString::from_bytes(Bytes::from_static(&[0xED, 0xA0, 0x80])),
            Err(StringError::InvalidUtf8)
        );
        assert_eq!(
            MqttString::new("x".repeat(65_536)),
            Err(StringError::TooLong)
        );
        assert!(MqttString::new("x".repeat(65_535)).is_ok());
    }

    #[test]
    fn keeps_a_byte_order_mark() {
        // MQTT-1.5.3-3 / MQTT-1.5.4-3: U+FEFF is not stripped.
        let s = MqttString::from_bytes(Bytes::from_static(b"\xEF\xBB\xBFa")).unwrap();
        assert_eq!(s.as_str(), "\u{FEFF}a");
    }
}
