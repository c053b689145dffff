//! A minimal, allocation-free JSON writer for alert records. Key order is fixed by the
//! code, floats use Rust's shortest round-trip formatting: the same alert is the same bytes
//! on every platform (native and WASM alike).

/// Bytes that must be escaped inside a JSON string: control characters, `"` and `\\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Append `s` as a JSON string literal. Runs of plain bytes are copied in one go (this is
/// the hottest part of alert encoding).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !NEEDS_ESCAPE[c as usize] {
            i += 1;
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// An object being written. Fields are appended in call order; nested objects that end up
/// empty are removed again, so optional sections never appear as `{}`.
pub struct Obj<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Obj<'a> {
    /// Start an object at the end of `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, empty: true }
    }

    fn key(&mut self, k: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        write_str(self.out, k);
        self.out.push(b':');
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        write_str(self.out, v);
        self
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            self.str(k, v);
        }
        self
    }

    pub fn int(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        // Digits from a stack buffer: `to_string` allocated and went through `fmt` per field.
        let mut buf = [0u8; 20];
        let mut n = v.unsigned_abs();
        let mut at = buf.len();
        loop {
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if v < 0 {
            self.out.push(b'-');
        }
        self.out.extend_from_slice(&buf[at..]);
        self
    }

    pub fn float(&mut self, k: &str, v: f64) -> &mut Self {
        if v.is_finite() {
            self.key(k);
            let s = format!("{v}");
            self.out.extend_from_slice(s.as_bytes());
            // `1` would read back as an integer: keep floats floats.
            if !s.contains(['.', 'e', 'E']) {
                self.out.extend_from_slice(b".0");
            }
        }
        self
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    /// A pre-encoded JSON value.
    pub fn raw(&mut self, k: &str, json: &[u8]) -> &mut Self {
        self.key(k);
        self.out.extend_from_slice(json);
        self
    }

    /// An array of strings (always written, even empty).
    pub fn str_array<'s>(
        &mut self,
        k: &str,
        items: impl IntoIterator<Item = &'s str>,
    ) -> &mut Self {
        self.key(k);
        self.out.push(b'[');
        for (i, s) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_str(self.out, s);
        }
        self.out.push(b']');
        self
    }

    /// An array of strings, omitted when empty.
    pub fn opt_str_array<'s>(
        &mut self,
        k: &str,
        items: impl IntoIterator<Item = &'s str>,
    ) -> &mut Self {
        let mut it = items.into_iter().peekable();
        if it.peek().is_some() {
            self.str_array(k, it);
        }
        self
    }

    /// A nested object, written by `f`; dropped entirely if `f` writes no field.
    pub fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        let mark = self.out.len();
        let was_empty = self.empty;
        self.key(k);
        let mut inner = Obj::new(self.out);
        f(&mut inner);
        let inner_empty = inner.empty;
        inner.out.push(b'}');
        if inner_empty {
            self.out.truncate(mark);
            self.empty = was_empty;
        }
        self
    }

    /// An array of objects, each written by `f` over the items.
    pub fn obj_array<T>(
        &mut self,
        k: &str,
        items: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Obj<'_>, T),
    ) -> &mut Self {
        self.key(k);
        self.out.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let mut inner = Obj::new(self.out);
            f(&mut inner, item);
            inner.out.push(b'}');
        }
        self.out.push(b']');
        self
    }

    /// Close the object.
    pub fn end(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_json_with_escapes_and_drops_empty_objects() {
        let mut out = Vec::new();
        let mut o = Obj::new(&mut out);
        o.str("a", "q\"\\\n\u{1}é")
            .int("n", -3)
            .float("f", 2.0)
            .float("g", 0.5)
            .obj("empty", |_| {})
            .obj("x", |o| {
                o.opt_str("none", None)
                    .opt_str("blank", Some(""))
                    .bool("t", true);
            })
            .str_array("l", ["x", "y"])
            .opt_str_array("nl", std::iter::empty::<&str>());
        o.end();
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            r#"{"a":"q\"\\\n\u0001é","n":-3,"f":2.0,"g":0.5,"x":{"t":true},"l":["x","y"]}"#
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "q\"\\\n\u{1}é");
    }

    #[test]
    fn integers_match_display() {
        for v in [0, 7, -7, 10, 1_717_200_000_123, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            let mut o = Obj::new(&mut out);
            o.int("n", v);
            o.end();
            assert_eq!(String::from_utf8(out).unwrap(), format!("{{\"n\":{v}}}"));
        }
    }
}
