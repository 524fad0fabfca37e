//! `arbitrary::Arbitrary` for the field types the `arbitrary` crate does not
//! cover (`bytes::Bytes`), used through `#[arbitrary(with = ...)]` by the
//! derives on the packet types (feature `arbitrary`).

use arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;

/// Binary data or a payload: any byte string.
pub(crate) fn bytes(u: &mut Unstructured<'_>) -> Result<Bytes> {
    Ok(Bytes::copy_from_slice(<&[u8]>::arbitrary(u)?))
}

/// An optional binary field.
pub(crate) fn opt_bytes(u: &mut Unstructured<'_>) -> Result<Option<Bytes>> {
    Ok(<Option<&[u8]>>::arbitrary(u)?.map(Bytes::copy_from_slice))
}
