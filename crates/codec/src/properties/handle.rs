//! [`Properties`]: the property list of a packet as one pointer, null when
//! the packet carries none (the common case), so that a [`crate::Packet`]
//! stays small and cheap to fill, move and drop.

use std::ops::{Deref, DerefMut};

use bytes::{BufMut, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::properties::table::PropertyContext;
use crate::properties::values::PropertyValues;
use crate::wire::Reader;

/// What an absent property list reads as.
static EMPTY: PropertyValues = PropertyValues::EMPTY;

/// The properties of one packet or of a Will (MQTT 5.0 §2.2.2).
///
/// A handle to a [`PropertyValues`]: it reads like one (`p.topic_alias`,
/// through `Deref`) and writes like one (`p.topic_alias = Some(5)`, through
/// `DerefMut`, which allocates the values on the first write). No property
/// costs no allocation. Build one from values with `From`:
/// `Properties::from(PropertyValues { topic_alias: Some(5), ..PropertyValues::default() })`.
///
/// Equality, `Debug` and emptiness are those of the values: an allocated
/// but empty list equals an absent one.
#[derive(Clone, Default)]
pub struct Properties(Option<Box<PropertyValues>>);

impl Properties {
    /// No property.
    pub const fn new() -> Self {
        Properties(None)
    }

    /// True when no property is present.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.as_deref().is_none_or(PropertyValues::is_empty)
    }

    /// The values, moved out (empty values when there are none).
    pub fn into_values(self) -> PropertyValues {
        self.0.map_or_else(PropertyValues::default, |b| *b)
    }

    /// Bytes of the property length and the properties.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        match &self.0 {
            None => 1,
            Some(v) => v.encoded_len(),
        }
    }

    /// Reads a property length and the properties it covers, enforcing
    /// which properties `ctx` may carry, duplicates and value ranges.
    pub(crate) fn decode(r: &mut Reader<'_>, ctx: PropertyContext) -> Result<Self, Violation> {
        let mut props = Properties::new();
        props.decode_into(r, ctx)?;
        Ok(props)
    }

    /// [`Properties::decode`] into `self`, which must be empty. Allocates
    /// only when the property length is not zero.
    #[inline]
    pub(crate) fn decode_into(
        &mut self,
        r: &mut Reader<'_>,
        ctx: PropertyContext,
    ) -> Result<(), Violation> {
        debug_assert!(self.is_empty());
        // A packet with no properties still carries a zero Property Length
        // (MQTT-2.2.2-1), so a packet that ends here breaks that statement.
        let len = r.vbi("property length").map_err(cite_missing_length)? as usize;
        if len == 0 {
            return Ok(());
        }
        self.deref_mut().decode_content(r, len, ctx)
    }

    /// Checks that these properties may be encoded in `ctx`.
    #[inline]
    pub(crate) fn check(&self, ctx: PropertyContext) -> Result<(), Violation> {
        match &self.0 {
            None => Ok(()),
            Some(v) => v.check(ctx),
        }
    }

    /// Writes the property length and the properties.
    #[inline]
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        match &self.0 {
            None => out.put_u8(0),
            Some(v) => v.encode(out),
        }
    }
}

#[cold]
fn cite_missing_length(mut e: Violation) -> Violation {
    if matches!(e.kind, ErrorKind::Truncated { .. }) {
        e.statements = &["MQTT-2.2.2-1"];
    }
    e
}

impl Deref for Properties {
    type Target = PropertyValues;

    #[inline]
    fn deref(&self) -> &PropertyValues {
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl DerefMut for Properties {
    /// The values, allocated (empty) if there were none.
    #[inline]
    fn deref_mut(&mut self) -> &mut PropertyValues {
        self.0.get_or_insert_with(Box::default)
    }
}

impl From<PropertyValues> for Properties {
    fn from(values: PropertyValues) -> Self {
        if values.is_empty() {
            Properties(None)
        } else {
            Properties(Some(Box::new(values)))
        }
    }
}

impl From<Properties> for PropertyValues {
    fn from(p: Properties) -> Self {
        p.into_values()
    }
}

impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            _ => **self == **other,
        }
    }
}

impl Eq for Properties {}

impl PartialEq<PropertyValues> for Properties {
    fn eq(&self, other: &PropertyValues) -> bool {
        **self == *other
    }
}

impl std::fmt::Debug for Properties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Properties {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        PropertyValues::arbitrary(u).map(Properties::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::string::MqttString;

    #[test]
    fn absent_reads_as_empty_and_equals_allocated_empty() {
        let absent = Properties::new();
        assert!(absent.is_empty());
        assert_eq!(absent.topic_alias, None);
        let mut written = Properties::new();
        written.topic_alias = Some(3);
        assert!(!written.is_empty());
        assert_ne!(written, absent);
        written.topic_alias = None;
        assert!(written.is_empty());
        assert_eq!(written, absent);
        assert_eq!(format!("{written:?}"), format!("{absent:?}"));
    }

    #[test]
    fn from_values_keeps_them_and_empty_values_allocate_nothing() {
        let v = PropertyValues {
            reason_string: Some(MqttString::from_static("r")),
            ..PropertyValues::default()
        };
        let p = Properties::from(v.clone());
        assert_eq!(p, v);
        assert_eq!(p.into_values(), v);
        assert!(Properties::from(PropertyValues::default()).0.is_none());
    }

    #[test]
    fn encoded_len_of_nothing_is_the_zero_length_byte() {
        let mut out = BytesMut::new();
        Properties::new().encode(&mut out);
        assert_eq!(&out[..], &[0]);
        assert_eq!(Properties::new().encoded_len(), 1);
    }
}
