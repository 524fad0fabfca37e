//! `cargo xtask fuzz seeds`: writes the checked-in seed corpora,
//! `fuzz/seeds/<target>/*.bin`.
//!
//! * `decode_v311`, `decode_v5`: every sample packet of the version, one per
//!   file, plus whole conversations in one file (for 5.0 also one that a
//!   server-side decoder learns 3.1.1 from).
//! * `roundtrip`: inputs that `arbitrary` (as libFuzzer's typed targets call
//!   it) turns into an encodable packet, one per version and packet type,
//!   found by a deterministic search.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use arbitrary::{Arbitrary, Unstructured};
use bytes::BytesMut;
use mqtt_codec::{Packet, PacketType, ProtocolVersion};

use crate::samples;

/// A seed file: name and content.
pub(crate) type Seed = (String, Vec<u8>);

/// Short name of a version for file names.
fn tag(v: ProtocolVersion) -> &'static str {
    v.pick("v311", "v5")
}

/// Encodes `packets` back to back, in version `v`.
fn stream(v: ProtocolVersion, packets: impl IntoIterator<Item = Packet>) -> Vec<u8> {
    let mut out = BytesMut::new();
    for p in packets {
        p.encode(v, &mut out).expect("samples are valid");
    }
    out.to_vec()
}

/// Seeds of a decode target: each sample of `v`, then the whole set as one
/// stream.
fn decode_seeds(v: ProtocolVersion) -> Vec<Seed> {
    let all = samples::every_type(v);
    let mut seeds: Vec<Seed> = all
        .iter()
        .map(|(name, p)| (format!("{name}.bin"), stream(v, [p.clone()])))
        .collect();
    seeds.push((
        format!("stream-{}.bin", tag(v)),
        stream(v, all.into_iter().map(|(_, p)| p)),
    ));
    seeds
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    /// The next pseudo-random number.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// What the roundtrip target builds from `data`, exactly as libfuzzer-sys
/// does for `fuzz_target!(|input: (ProtocolVersion, Packet)| ...)`.
pub(crate) fn roundtrip_input(data: &[u8]) -> Option<(ProtocolVersion, Packet)> {
    if data.len() < <(ProtocolVersion, Packet)>::size_hint(0).0 {
        return None;
    }
    <(ProtocolVersion, Packet)>::arbitrary_take_rest(Unstructured::new(data)).ok()
}

/// The version a packet is encoded in: CONNECT's own, else `v`.
fn effective_version(v: ProtocolVersion, p: &Packet) -> ProtocolVersion {
    match p {
        Packet::Connect(c) => c.protocol_version,
        _ => v,
    }
}

/// For each version and packet type, 8 bytes that make `arbitrary` pick
/// them (found by trying, so as not to depend on how it maps bytes).
fn prefixes() -> Vec<Vec<u8>> {
    let mut found = BTreeMap::new();
    for a in [0u8, 0xFF] {
        for b in 0..=255u8 {
            let mut data = vec![a, a, a, a, b, b, b, b];
            data.resize(64, 0);
            if let Some((v, p)) = roundtrip_input(&data) {
                found
                    .entry((v, p.packet_type()))
                    .or_insert(data[..8].to_vec());
            }
        }
    }
    found.into_values().collect()
}

/// Random bytes in two runs, each with its own share of zero bytes: zeros
/// make `arbitrary` pick `None`, `false`, empty lists and first variants, so
/// mixing runs reaches both bare and rich packets.
fn random_body(rng: &mut Rng) -> Vec<u8> {
    const ZEROS: [u64; 4] = [0, 128, 230, 250];
    let len = (rng.next() % 120) as usize;
    let split = (rng.next() % (len as u64 + 1)) as usize;
    let (z1, z2) = (
        ZEROS[(rng.next() % 4) as usize],
        ZEROS[(rng.next() % 4) as usize],
    );
    (0..len)
        .map(|i| {
            let r = rng.next();
            let zeros = if i < split { z1 } else { z2 };
            if r % 256 < zeros {
                0
            } else {
                (r >> 8) as u8
            }
        })
        .collect()
}

/// Seeds of the roundtrip target: for each version and packet type, the
/// input whose packet encodes to the most bytes (up to 160), found by a
/// small deterministic search: a prefix that picks the type, random bytes
/// after it, and mutations of the best inputs so far.
fn roundtrip_seeds() -> Vec<Seed> {
    const MAX_SIZE: usize = 160;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let prefixes = prefixes();
    // Starting points: each type with a non-zero identifier, no properties
    // and one short string; the search grows them.
    let mut templates: Vec<Vec<u8>> = prefixes
        .iter()
        .map(|p| {
            let mut d = p.clone();
            d.extend([0, 1]);
            d.extend([0; 27]);
            d.push(1);
            d.extend(b"a/b");
            d.extend([0; 12]);
            d.push(3);
            d
        })
        .collect();
    let mut best: BTreeMap<(ProtocolVersion, PacketType), (usize, Vec<u8>)> = BTreeMap::new();
    let mut pool: Vec<Vec<u8>> = Vec::new();
    for i in 0..100_000u32 {
        let data = if let Some(t) = templates.pop() {
            t
        } else if pool.is_empty() || i % 2 == 0 {
            let mut d = prefixes[(rng.next() % prefixes.len() as u64) as usize].clone();
            d.extend(random_body(&mut rng));
            d
        } else {
            let mut d = pool[(rng.next() % pool.len() as u64) as usize].clone();
            for _ in 0..1 + rng.next() % 4 {
                mutate(&mut d, &mut rng, &pool);
            }
            d
        };
        let Some((v, packet)) = roundtrip_input(&data) else {
            continue;
        };
        let Ok(bytes) = packet.to_bytes(v) else {
            continue;
        };
        let key = (effective_version(v, &packet), packet.packet_type());
        let size = bytes.len();
        // Bigger packets first, then shorter inputs.
        let worse = |(s, d): &(usize, Vec<u8>)| {
            (*s, std::cmp::Reverse(d.len())) >= (size, std::cmp::Reverse(data.len()))
        };
        if size > MAX_SIZE || best.get(&key).is_some_and(worse) {
            continue;
        }
        best.insert(key, (size, data.clone()));
        pool.push(data);
    }
    best.into_iter()
        .map(|((v, t), (_, data))| {
            let name = format!("{}-{}.bin", tag(v), t.name().to_ascii_lowercase());
            (name, data)
        })
        .collect()
}

/// One random edit of `d`: overwrite, zero, insert or remove a byte, zero
/// a run of bytes (which `arbitrary` reads as `None`s and empty lists), or
/// append a piece of another input.
fn mutate(d: &mut Vec<u8>, rng: &mut Rng, pool: &[Vec<u8>]) {
    let at = |rng: &mut Rng, len: usize| (rng.next() % (len as u64 + 1)) as usize;
    match rng.next() % 7 {
        4 | 5 if !d.is_empty() => {
            let i = at(rng, d.len() - 1);
            let n = 1 + (rng.next() % 40) as usize;
            let end = (i + n).min(d.len());
            d[i..end].fill(0);
        }
        0 if !d.is_empty() => {
            let i = at(rng, d.len() - 1);
            d[i] = rng.next() as u8;
        }
        1 if !d.is_empty() => {
            let i = at(rng, d.len() - 1);
            d[i] = 0;
        }
        2 => {
            let i = at(rng, d.len());
            d.insert(i, rng.next() as u8);
        }
        3 if !d.is_empty() => {
            let i = at(rng, d.len() - 1);
            d.remove(i);
        }
        _ => {
            let other = &pool[(rng.next() % pool.len() as u64) as usize];
            let from = at(rng, other.len());
            d.extend_from_slice(&other[from..]);
            d.truncate(256);
        }
    }
}

/// The seeds of each codec fuzz target.
pub(crate) fn all() -> Vec<(&'static str, Vec<Seed>)> {
    let mut v5 = decode_seeds(ProtocolVersion::V5);
    // The server-side decoder of decode_v5 learns 3.1.1 from this one.
    v5.push((
        "stream-v311.bin".into(),
        stream(
            ProtocolVersion::V311,
            samples::every_type(ProtocolVersion::V311)
                .into_iter()
                .map(|(_, p)| p),
        ),
    ));
    vec![
        ("decode_v311", decode_seeds(ProtocolVersion::V311)),
        ("decode_v5", v5),
        ("roundtrip", roundtrip_seeds()),
    ]
}

/// Rewrites `fuzz/seeds/<target>/` for every codec target.
pub(crate) fn write(root: &Path) -> Result<()> {
    for (target, seeds) in all() {
        let dir = root.join("fuzz/seeds").join(target);
        if dir.exists() {
            for entry in fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "bin") {
                    fs::remove_file(&path)
                        .with_context(|| format!("removing {}", path.display()))?;
                }
            }
        }
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let bytes: usize = seeds.iter().map(|(_, d)| d.len()).sum();
        for (name, data) in &seeds {
            let path = dir.join(name);
            fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
        }
        println!(
            "{}: {} seeds, {bytes} bytes",
            dir.strip_prefix(root).unwrap_or(&dir).display(),
            seeds.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::Decoder;

    /// The checked-in seeds, by target.
    fn checked_in(target: &str) -> Vec<Seed> {
        let dir = crate::workspace::root().join("fuzz/seeds").join(target);
        let mut seeds: Vec<Seed> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, fs::read(&path).unwrap())
            })
            .collect();
        seeds.sort();
        assert!(seeds.len() >= 14, "{target}: only {} seeds", seeds.len());
        seeds
    }

    /// Decodes a whole seed; a stream that starts with CONNECT is decoded as
    /// a server does.
    fn decode_whole(data: &[u8], v: ProtocolVersion) -> Vec<Packet> {
        let mut decoder = if data.first() == Some(&0x10) {
            Decoder::server()
        } else {
            Decoder::new(v)
        };
        let mut buf = BytesMut::from(data);
        let mut packets = Vec::new();
        while let Some(p) = decoder.decode(&mut buf).unwrap() {
            packets.push(p);
        }
        assert!(buf.is_empty(), "{} bytes left", buf.len());
        packets
    }

    #[test]
    fn decode_seeds_are_valid_packets() {
        for (target, v) in [
            ("decode_v311", ProtocolVersion::V311),
            ("decode_v5", ProtocolVersion::V5),
        ] {
            for (name, data) in checked_in(target) {
                let packets = decode_whole(&data, v);
                assert!(!packets.is_empty(), "{target}/{name}");
            }
        }
    }

    #[test]
    fn roundtrip_seeds_are_encodable_packets_of_every_type() {
        let mut classes = std::collections::BTreeSet::new();
        for (name, data) in checked_in("roundtrip") {
            let (v, packet) = roundtrip_input(&data).unwrap_or_else(|| panic!("{name}"));
            assert!(packet.to_bytes(v).is_ok(), "{name}: {packet:?}");
            classes.insert((effective_version(v, &packet), packet.packet_type()));
        }
        assert_eq!(classes.len(), 14 + 15, "{classes:?}");
    }
}
