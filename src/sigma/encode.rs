//! The value modifiers that rewrite a value before it is matched: `windash`'s spellings of
//! option dashes, `utf16*` encodings and `base64`/`base64offset`.

/// The dashes Windows option parsers accept where a `-` or `/` begins an option.
pub const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Most option positions `windash` expands (5 spellings each: 5^6 variants).
pub const MAX_WINDASH: usize = 6;

/// Every spelling of `s` with each option dash (a `-` or `/` not after a word character and
/// before one) written as any of [`DASHES`], independently; `None` with too many of them.
pub fn windash(s: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = s.chars().collect();
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    let at: Vec<usize> = (0..chars.len())
        .filter(|&i| {
            matches!(chars[i], '-' | '/')
                && !word(i.checked_sub(1).and_then(|j| chars.get(j)))
                && word(chars.get(i + 1))
        })
        .collect();
    if at.len() > MAX_WINDASH {
        return None;
    }
    let mut out = vec![chars];
    for &i in &at {
        out = out
            .into_iter()
            .flat_map(|v| {
                DASHES.iter().map(move |&d| {
                    let mut w = v.clone();
                    w[i] = d;
                    w
                })
            })
            .collect();
    }
    Some(out.into_iter().map(|v| v.into_iter().collect()).collect())
}

pub fn encode_utf16(s: &str, how: Option<&str>) -> Vec<u8> {
    match how {
        None => s.as_bytes().to_vec(),
        Some("utf16be") => s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect(),
        // `utf16` is little-endian with a byte-order mark; `wide` and `utf16le` without.
        Some("utf16") => [0xff, 0xfe]
            .into_iter()
            .chain(s.encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect(),
        Some(_) => s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
    }
}

pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three encodings of `bytes` at any offset in a longer base64 text: the stable middle
/// of each (what pySigma's `base64offset` produces).
pub fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    // Cut from the padded encoding: the first characters depend on what precedes, the last
    // ones on what follows.
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(bytes);
            let enc = base64(&padded);
            let end = END[(bytes.len() + i) % 3];
            enc.get(START[i]..enc.len().saturating_sub(end))
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_its_offsets() {
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
        // A known triple: "/bin/sh" at the three offsets of a longer text.
        let o = base64_offsets(b"/bin/sh");
        assert_eq!(o, ["L2Jpbi9za", "9iaW4vc2", "vYmluL3No"]);
        assert_eq!(windash("-enc x").unwrap().len(), 5);
        let all = windash("-a /b").unwrap();
        assert_eq!(all.len(), 25);
        assert!(
            all.contains(&"/a -b".to_string()) && all.contains(&"\u{2013}a \u{2015}b".to_string())
        );
        // Not an option dash: inside a word, or before a space.
        assert_eq!(windash("a-b - c").unwrap(), ["a-b - c"]);
    }
}
