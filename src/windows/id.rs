//! Event ids as the windows keep them: packed into 17 bytes for evidence.

/// A DI event id packed into 17 bytes: 24-hex ObjectIds and UUIDs (the two shapes DI uses)
/// round-trip exactly; other ids up to 16 bytes are kept raw; longer ones are dropped.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct CompactId {
    pub(super) kind: u8,
    pub(super) bytes: [u8; 16],
}

pub(super) fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl CompactId {
    const OBJECT_ID: u8 = 1;
    const UUID_UPPER: u8 = 2;
    const UUID_LOWER: u8 = 3;
    pub(super) const RAW: u8 = 16; // RAW + len

    pub fn encode(s: Option<&str>) -> CompactId {
        let Some(s) = s.filter(|s| !s.is_empty()) else {
            return CompactId::default();
        };
        let b = s.as_bytes();
        let mut out = CompactId::default();
        let pack = |hex: &[u8], out: &mut [u8; 16]| -> bool {
            hex.chunks(2)
                .enumerate()
                .all(|(i, p)| match (hex_val(p[0]), hex_val(p[1])) {
                    (Some(h), Some(l)) => {
                        out[i] = h << 4 | l;
                        true
                    }
                    _ => false,
                })
        };
        if b.len() == 24
            && b.iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
            && pack(b, &mut out.bytes)
        {
            out.kind = Self::OBJECT_ID;
            return out;
        }
        if b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-') {
            let hex: Vec<u8> = b.iter().copied().filter(|&c| c != b'-').collect();
            let upper = hex.iter().all(|c| !c.is_ascii_lowercase());
            let lower = hex.iter().all(|c| !c.is_ascii_uppercase());
            if hex.len() == 32 && (upper || lower) && pack(&hex, &mut out.bytes) {
                out.kind = if upper {
                    Self::UUID_UPPER
                } else {
                    Self::UUID_LOWER
                };
                return out;
            }
        }
        if b.len() <= 16 {
            out.bytes[..b.len()].copy_from_slice(b);
            out.kind = Self::RAW + b.len() as u8;
            return out;
        }
        CompactId::default()
    }

    pub fn decode(&self) -> Option<String> {
        const LO: &[u8; 16] = b"0123456789abcdef";
        const UP: &[u8; 16] = b"0123456789ABCDEF";
        let hex = |n: usize, digits: &[u8; 16]| -> String {
            self.bytes[..n]
                .iter()
                .flat_map(|b| {
                    [
                        digits[(b >> 4) as usize] as char,
                        digits[(b & 15) as usize] as char,
                    ]
                })
                .collect()
        };
        match self.kind {
            0 => None,
            Self::OBJECT_ID => Some(hex(12, LO)),
            Self::UUID_UPPER | Self::UUID_LOWER => {
                let h = hex(
                    16,
                    if self.kind == Self::UUID_UPPER {
                        UP
                    } else {
                        LO
                    },
                );
                Some(format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                ))
            }
            k if k >= Self::RAW => {
                let n = (k - Self::RAW) as usize;
                String::from_utf8(self.bytes[..n].to_vec()).ok()
            }
            _ => None,
        }
    }
}
