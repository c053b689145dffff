//! Frame: a byte stream into lines. Chunks of NDJSON arrive in any sizes; [`Framer`] hands
//! out each complete line (borrowed from the chunk when it lies inside one) and carries a
//! partial line to the next chunk. A line over the size limit is never buffered: its length
//! is counted and (optionally) its first bytes kept for the dead-letter record.
//!
//! Also here: the Fluent Bit `{"log": "<line>"}` record, whose `log` string is a line to
//! frame again ([`log_field`]).

use serde_json::value::RawValue;

/// With `keep_rejected`, the first bytes of an over-long line kept for its dead-letter record.
pub const REJECTED_PREFIX_BYTES: usize = 64 << 10;

/// What the framer found.
#[derive(Debug)]
pub enum Frame<'a> {
    /// A whole line, without its newline.
    Line(&'a [u8]),
    /// A line of `len` bytes over the limit, dropped; `prefix` is its start when kept.
    TooLong { len: usize, prefix: Vec<u8> },
}

/// Splits chunks into lines, carrying a partial line between chunks.
#[derive(Debug, Default)]
pub struct Framer {
    max_line_bytes: usize,
    keep_prefix: bool,
    /// Partial line carried between `feed` calls.
    carry: Vec<u8>,
    /// Discarding the rest of an over-long line; holds its length so far.
    discarding: Option<usize>,
    /// With `keep_prefix`: the first bytes of the over-long line being discarded.
    long_prefix: Vec<u8>,
}

impl Framer {
    pub fn new(max_line_bytes: usize, keep_prefix: bool) -> Framer {
        Framer {
            max_line_bytes,
            keep_prefix,
            ..Framer::default()
        }
    }

    /// A new input starts: forget a partial line of the previous one.
    pub fn reset(&mut self) {
        self.carry.clear();
        self.discarding = None;
        self.long_prefix.clear();
    }

    /// Frame a chunk. Complete lines go to `on` straight from `chunk`; a trailing partial
    /// line is kept until the next call or [`Framer::finish`].
    pub fn feed(&mut self, mut chunk: &[u8], mut on: impl FnMut(Frame<'_>)) {
        while !chunk.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', chunk) else {
                self.hold(chunk);
                return;
            };
            let (head, rest) = (&chunk[..nl], &chunk[nl + 1..]);
            chunk = rest;
            if let Some(len) = self.discarding.take() {
                self.keep(head);
                on(self.too_long(len + head.len()));
            } else if !self.carry.is_empty() {
                if self.carry.len() + head.len() > self.max_line_bytes {
                    let len = self.carry.len() + head.len();
                    let carry = std::mem::take(&mut self.carry);
                    self.keep(&carry);
                    self.keep(head);
                    self.carry = carry;
                    self.carry.clear();
                    on(self.too_long(len));
                } else {
                    let mut line = std::mem::take(&mut self.carry);
                    line.extend_from_slice(head);
                    on(Frame::Line(&line));
                    line.clear();
                    self.carry = line;
                }
            } else if head.len() > self.max_line_bytes {
                self.keep(head);
                on(self.too_long(head.len()));
            } else {
                on(Frame::Line(head));
            }
        }
    }

    /// End of input: a final line that had no newline.
    pub fn finish(&mut self, mut on: impl FnMut(Frame<'_>)) {
        if let Some(len) = self.discarding.take() {
            on(self.too_long(len));
        } else if !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            on(Frame::Line(&line));
        }
    }

    /// Bytes of a line fed but not finished yet (its newline has not arrived).
    pub fn pending_bytes(&self) -> usize {
        self.carry.len() + self.discarding.unwrap_or(0)
    }

    /// A line the host framed itself and dropped for its length, with the start it kept.
    pub fn dropped(&mut self, len: usize, prefix: &[u8]) -> Frame<'static> {
        self.long_prefix.clear();
        self.keep(prefix);
        self.too_long(len)
    }

    fn hold(&mut self, part: &[u8]) {
        if let Some(len) = self.discarding.as_mut() {
            *len += part.len();
            self.keep(part);
        } else if self.carry.len() + part.len() > self.max_line_bytes {
            self.discarding = Some(self.carry.len() + part.len());
            let carry = std::mem::take(&mut self.carry);
            self.keep(&carry);
            self.keep(part);
            self.carry = carry;
            self.carry.clear();
            self.carry.shrink_to(64 << 10);
        } else {
            self.carry.extend_from_slice(part);
        }
    }

    /// Append what fits of `part` to the kept start of an over-long line (bounded: the
    /// line itself is never buffered).
    fn keep(&mut self, part: &[u8]) {
        if self.keep_prefix {
            let room = REJECTED_PREFIX_BYTES.saturating_sub(self.long_prefix.len());
            self.long_prefix
                .extend_from_slice(&part[..room.min(part.len())]);
        }
    }

    fn too_long(&mut self, len: usize) -> Frame<'static> {
        Frame::TooLong {
            len,
            prefix: std::mem::take(&mut self.long_prefix),
        }
    }
}

/// The `log` string of a record that is not a DI event (Fluent Bit's raw-line key).
pub fn log_field(text: &str) -> Option<String> {
    if !text.contains("\"log\"") {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Wrapper<'a> {
        #[serde(borrow)]
        log: Option<&'a RawValue>,
    }
    let w: Wrapper<'_> = serde_json::from_str(text).ok()?;
    serde_json::from_str::<String>(w.log?.get()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as the framer hands them out: `Ok(line)` or `Err(len)` for a dropped one.
    fn frames(max: usize, chunks: &[&[u8]]) -> Vec<Result<String, usize>> {
        let mut f = Framer::new(max, false);
        let mut got = Vec::new();
        let mut on = |fr: Frame<'_>| {
            got.push(match fr {
                Frame::Line(l) => Ok(String::from_utf8_lossy(l).into_owned()),
                Frame::TooLong { len, .. } => Err(len),
            })
        };
        for c in chunks {
            f.feed(c, &mut on);
        }
        f.finish(&mut on);
        got
    }

    /// (max line bytes, chunks, frames)
    type Case<'a> = (usize, &'a [&'a [u8]], Vec<Result<String, usize>>);

    #[test]
    fn lines_across_chunks_and_over_the_limit() {
        let ok = |s: &str| Ok(s.to_string());
        let cases: &[Case] = &[
            (10, &[b"a\nb\n"], vec![ok("a"), ok("b")]),
            (10, &[b"ab", b"c\nd"], vec![ok("abc"), ok("d")]),
            (10, &[b"\n\n"], vec![ok(""), ok("")]),
            (3, &[b"abcd\nx\n"], vec![Err(4), ok("x")]),
            (3, &[b"ab", b"cd", b"ef\nx"], vec![Err(6), ok("x")]),
            (3, &[b"ab", b"cd\n"], vec![Err(4)]),
            (3, &[b"abcdef"], vec![Err(6)]),
            (3, &[b"abc"], vec![ok("abc")]),
        ];
        for (max, chunks, want) in cases {
            assert_eq!(&frames(*max, chunks), want, "max {max}, chunks {chunks:?}");
        }
    }

    #[test]
    fn the_kept_prefix_is_bounded() {
        let mut f = Framer::new(4, true);
        let long = vec![b'x'; REJECTED_PREFIX_BYTES + 10];
        let mut got = Vec::new();
        f.feed(&long, |_| unreachable!("no newline yet"));
        f.feed(b"\n", |fr| {
            if let Frame::TooLong { len, prefix } = fr {
                got.push((len, prefix.len()));
            }
        });
        assert_eq!(got, [(REJECTED_PREFIX_BYTES + 10, REJECTED_PREFIX_BYTES)]);
    }

    #[test]
    fn log_field_reads_fluent_bits_wrapper() {
        assert_eq!(log_field(r#"{"log":"[1,2]"}"#).as_deref(), Some("[1,2]"));
        assert_eq!(log_field(r#"{"log":5}"#), None);
        assert_eq!(log_field(r#"{"message":"x"}"#), None);
    }
}
