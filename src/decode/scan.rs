//! The fast event decoder: a validating JSON scanner that reads only the fields rules use.
//!
//! serde_json's visitor path (kept as [`crate::decode::decode_with_serde`], the reference this
//! decoder is checked against) costs about a microsecond per 750-byte event, mostly in
//! generic machinery around values we then throw away. This scanner walks the line once:
//! known keys are decoded in place (strings borrowed unless escaped), every other value is
//! skipped by an iterative validator that jumps over string bodies with `memchr`. It still
//! rejects every malformed line the reference rejects (bad escapes, control characters,
//! bad numbers or literals, unbalanced brackets, trailing bytes), so `invalid_json` keeps
//! its meaning. Two deliberate leniencies, where the reference rejects the whole line: a lone
//! UTF-16 surrogate escape (anywhere: it decodes to U+FFFD where a field is read, and is
//! only checked for four hex digits elsewhere), and a number too large for `f64` (anywhere:
//! absent where a field reads it). Losing an event over either would be worse than reading it.

use crate::decode::{Actor, Association, Change, ChangeValue, Event, Geo, Resource, Str};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;

/// Why a line is not a usable event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Valid JSON, but not an object.
    NotAnObject,
    Eof,
    Expected(&'static str),
    ControlChar,
    BadEscape,
    BadNumber,
    BadLiteral,
    Trailing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    pub kind: ErrorKind,
    /// 1-based byte column where the problem was found.
    pub column: usize,
}

impl DecodeError {
    pub fn is_not_an_object(&self) -> bool {
        self.kind == ErrorKind::NotAnObject
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::NotAnObject => return f.write_str("a DI event must be a JSON object"),
            ErrorKind::Eof => f.write_str("the line ends inside a JSON value")?,
            ErrorKind::Expected(what) => write!(f, "expected {what}")?,
            ErrorKind::ControlChar => f.write_str("control character inside a string")?,
            ErrorKind::BadEscape => f.write_str("invalid escape in a string")?,
            ErrorKind::BadNumber => f.write_str("invalid number")?,
            ErrorKind::BadLiteral => f.write_str("invalid literal (true, false or null)")?,
            ErrorKind::Trailing => f.write_str("trailing characters after the event")?,
        }
        write!(f, " (column {})", self.column)
    }
}

impl std::error::Error for DecodeError {}

/// Internal result: the error's details wait in `P::error`, so a `Result` stays as small as
/// its value and the hot paths pass it in registers.
struct Fail;
type R<T> = Result<T, Fail>;

/// Decode one event from a JSON object.
pub fn decode(text: &str) -> Result<Event<'_>, DecodeError> {
    let mut p = P {
        s: text,
        b: text.as_bytes(),
        i: 0,
        wrong: None,
        error: None,
    };
    let mut e = Event::default();
    let parsed = match p.peek() {
        Ok(b'{') => p.event(&mut e).and_then(|_| p.end()),
        _ => p.skip_value().and_then(|_| p.end()).and_then(|_| {
            p.i = 0;
            p.err(ErrorKind::NotAnObject)
        }),
    };
    match (parsed, p.error) {
        (Ok(()), _) => {
            e.wrong_type = p.wrong;
            Ok(e)
        }
        (Err(Fail), Some(err)) => Err(err),
        (Err(Fail), None) => Err(DecodeError {
            kind: ErrorKind::Eof,
            column: text.len() + 1,
        }),
    }
}

struct P<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    /// The first field found with an unusable JSON type.
    wrong: Option<&'static str>,
    error: Option<DecodeError>,
}

/// The first this many bytes of a string are scanned with SWAR, the rest with `memchr`.
const SHORT: usize = 64;

impl<'a> P<'a> {
    #[cold]
    fn err<T>(&mut self, kind: ErrorKind) -> R<T> {
        self.error = Some(DecodeError {
            kind,
            column: self.i.min(self.b.len()) + 1,
        });
        Err(Fail)
    }

    #[inline(always)]
    fn peek(&mut self) -> R<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Ok(c);
            }
            self.i += 1;
        }
        self.err(ErrorKind::Eof)
    }

    #[inline]
    fn expect(&mut self, c: u8, what: &'static str) -> R<()> {
        if self.peek()? == c {
            self.i += 1;
            Ok(())
        } else {
            self.err(ErrorKind::Expected(what))
        }
    }

    fn end(&mut self) -> R<()> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return self.err(ErrorKind::Trailing);
            }
            self.i += 1;
        }
        Ok(())
    }

    fn wrong(&mut self, name: &'static str) {
        self.wrong.get_or_insert(name);
    }

    fn literal(&mut self, word: &'static [u8]) -> R<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            self.err(ErrorKind::BadLiteral)
        }
    }

    /// A number's text, checked against the JSON grammar.
    fn number(&mut self) -> R<&'a str> {
        let (b, st) = (self.b, self.i);
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = st + usize::from(b.get(st) == Some(&b'-'));
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i + 1),
            _ => {
                self.i = i;
                return self.err(ErrorKind::BadNumber);
            }
        }
        if b.get(i) == Some(&b'.') {
            let d = digits(i + 1);
            if d == i + 1 {
                self.i = d;
                return self.err(ErrorKind::BadNumber);
            }
            i = d;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let d = digits(i);
            if d == i {
                self.i = d;
                return self.err(ErrorKind::BadNumber);
            }
            i = d;
        }
        self.i = i;
        Ok(&self.s[st..i])
    }

    /// Position of the next `"` or `\` from `from`, rejecting control characters before it.
    /// Eight bytes at a time (SWAR) for the short strings DI is made of; `memchr` past that.
    #[inline(always)]
    fn string_stop(&mut self, from: usize) -> R<usize> {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        let b = self.b;
        let mut j = from;
        let swar_end = (from + SHORT).min(b.len());
        while j + 8 <= swar_end {
            let Some(&w) = b[j..].first_chunk::<8>() else {
                break;
            };
            let x = u64::from_le_bytes(w);
            // A byte is flagged when it is `"`, `\` or below 0x20; the lowest flag is exact.
            let q = x ^ (LO * u64::from(b'"'));
            let bs = x ^ (LO * u64::from(b'\\'));
            let m =
                (q.wrapping_sub(LO) & !q | bs.wrapping_sub(LO) & !bs | x.wrapping_sub(LO * 0x20))
                    & !x
                    & HI;
            if m != 0 {
                return self.stop_at(j + (m.trailing_zeros() / 8) as usize);
            }
            j += 8;
        }
        while j < swar_end {
            if matches!(b[j], b'"' | b'\\' | 0..=0x1f) {
                return self.stop_at(j);
            }
            j += 1;
        }
        let Some(n) = memchr::memchr2(b'"', b'\\', &b[j..]) else {
            self.i = b.len();
            return self.err(ErrorKind::Eof);
        };
        let stop = j + n;
        if let Some(k) = b[j..stop].iter().position(|&c| c < 0x20) {
            self.i = j + k;
            return self.err(ErrorKind::ControlChar);
        }
        Ok(stop)
    }

    #[inline(always)]
    fn stop_at(&mut self, j: usize) -> R<usize> {
        if self.b[j] < 0x20 {
            self.i = j;
            return self.err(ErrorKind::ControlChar);
        }
        Ok(j)
    }

    /// A string value (at its opening quote): borrowed from the line unless it has escapes.
    #[inline]
    fn string(&mut self) -> R<Cow<'a, str>> {
        let start = self.i + 1;
        let stop = self.string_stop(start)?;
        if self.b[stop] == b'"' {
            self.i = stop + 1;
            return Ok(Cow::Borrowed(&self.s[start..stop]));
        }
        self.escaped_string(start, stop).map(Cow::Owned)
    }

    /// The rest of a string that has escapes, from its first backslash at `at`.
    #[cold]
    #[inline(never)]
    fn escaped_string(&mut self, start: usize, mut at: usize) -> R<String> {
        let mut out = String::with_capacity(at - start + 16);
        out.push_str(&self.s[start..at]);
        loop {
            // `at` is a backslash.
            self.i = at + 1;
            self.escape(Some(&mut out))?;
            let next = self.string_stop(self.i)?;
            out.push_str(&self.s[self.i..next]);
            if self.b[next] == b'"' {
                self.i = next + 1;
                return Ok(out);
            }
            at = next;
        }
    }

    /// Skip a string (at its opening quote), validating it.
    fn skip_string(&mut self) -> R<()> {
        let mut at = self.string_stop(self.i + 1)?;
        while self.b[at] == b'\\' {
            self.i = at + 1;
            self.escape(None)?;
            at = self.string_stop(self.i)?;
        }
        self.i = at + 1;
        Ok(())
    }

    /// One escape, after its backslash; appended to `out` when decoding.
    fn escape(&mut self, out: Option<&mut String>) -> R<()> {
        let Some(&c) = self.b.get(self.i) else {
            return self.err(ErrorKind::Eof);
        };
        self.i += 1;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                let Some(out) = out else {
                    return Ok(()); // skipped strings: any code unit is acceptable
                };
                let ch = if (0xD800..0xDC00).contains(&hi) && self.b[self.i..].starts_with(b"\\u") {
                    let save = self.i;
                    self.i += 2;
                    let lo = self.hex4()?;
                    if (0xDC00..0xE000).contains(&lo) {
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                    } else {
                        self.i = save; // not a pair: the next escape stands alone
                        None
                    }
                } else {
                    char::from_u32(hi)
                };
                out.push(ch.unwrap_or('\u{FFFD}'));
                return Ok(());
            }
            _ => {
                self.i -= 1;
                return self.err(ErrorKind::BadEscape);
            }
        };
        if let Some(out) = out {
            out.push(ch);
        }
        Ok(())
    }

    fn hex4(&mut self) -> R<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.b.get(self.i) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                Some(_) => return self.err(ErrorKind::BadEscape),
                None => return self.err(ErrorKind::Eof),
            };
            v = v << 4 | u32::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    /// Skip any value, validating it. Iterative: nesting depth costs one bit per level.
    fn skip_value(&mut self) -> R<()> {
        // Bit set: that open container is an object.
        let mut stack: SmallVec<[u64; 2]> = SmallVec::new();
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => self.skip_string()?,
                c @ (b'{' | b'[') => {
                    self.i += 1;
                    let obj = c == b'{';
                    if self.peek()? == if obj { b'}' } else { b']' } {
                        self.i += 1;
                    } else {
                        if depth % 64 == 0 {
                            stack.push(0);
                        }
                        let w = stack.len() - 1;
                        stack[w] = stack[w] << 1 | u64::from(obj);
                        depth += 1;
                        if obj {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                _ => return self.err(ErrorKind::Expected("a JSON value")),
            }
            // A value ended: move to the next element, or close containers.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let w = stack.len() - 1;
                let obj = stack[w] & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        if obj {
                            self.key()?;
                        }
                        break;
                    }
                    b'}' if obj => {}
                    b']' if !obj => {}
                    _ => {
                        return self.err(ErrorKind::Expected(if obj {
                            "`,` or `}`"
                        } else {
                            "`,` or `]`"
                        }))
                    }
                }
                self.i += 1;
                stack[w] >>= 1;
                depth -= 1;
                if depth % 64 == 0 {
                    stack.pop();
                }
            }
        }
    }

    /// An object key and its colon, skipped.
    fn key(&mut self) -> R<()> {
        if self.peek()? != b'"' {
            return self.err(ErrorKind::Expected("a string key"));
        }
        self.skip_string()?;
        self.expect(b':', "`:` after an object key")
    }

    /// An object whose keys are handed to `f` (which must consume each value). `Ok(false)`
    /// for null, and for a non-object value, which is skipped and recorded as `label`.
    #[inline]
    fn object<F>(&mut self, label: &'static str, mut f: F) -> R<bool>
    where
        F: FnMut(&mut P<'a>, &str) -> R<()>,
    {
        match self.peek()? {
            b'{' => {
                self.i += 1;
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Ok(true);
                }
                loop {
                    if self.peek()? != b'"' {
                        return self.err(ErrorKind::Expected("a string key"));
                    }
                    let key = self.string()?;
                    self.expect(b':', "`:` after an object key")?;
                    f(self, &key)?;
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Ok(true);
                        }
                        _ => return self.err(ErrorKind::Expected("`,` or `}`")),
                    }
                }
            }
            b'n' => {
                self.literal(b"null")?;
                Ok(false)
            }
            _ => {
                self.skip_value()?;
                self.wrong(label);
                Ok(false)
            }
        }
    }

    /// A string field; null is absent, any other type is recorded and ignored.
    fn str_field(&mut self, name: &'static str) -> R<Str<'a>> {
        match self.peek()? {
            b'"' => Ok(Some(self.string()?)),
            b'n' => self.literal(b"null").map(|_| None),
            _ => {
                self.skip_value()?;
                self.wrong(name);
                Ok(None)
            }
        }
    }

    fn bool_field(&mut self, name: &'static str) -> R<Option<bool>> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|_| Some(true)),
            b'f' => self.literal(b"false").map(|_| Some(false)),
            b'n' => self.literal(b"null").map(|_| None),
            _ => {
                self.skip_value()?;
                self.wrong(name);
                Ok(None)
            }
        }
    }

    /// A number field; a value too large for `f64` is absent.
    fn num_field(&mut self, name: &'static str) -> R<Option<f64>> {
        match self.peek()? {
            b'-' | b'0'..=b'9' => {
                let text = self.number()?;
                Ok(text.parse::<f64>().ok().filter(|v| v.is_finite()))
            }
            b'n' => self.literal(b"null").map(|_| None),
            _ => {
                self.skip_value()?;
                self.wrong(name);
                Ok(None)
            }
        }
    }

    /// The `to` of a change, summarised.
    fn change_value(&mut self) -> R<ChangeValue> {
        Ok(match self.peek()? {
            b'"' => {
                let s = self.string()?;
                let t = s.trim();
                ChangeValue::Text {
                    empty: t.is_empty(),
                    off_word: ["false", "disabled", "off", "none"]
                        .iter()
                        .any(|w| t.eq_ignore_ascii_case(w)),
                }
            }
            b't' => self.literal(b"true").map(|_| ChangeValue::Bool(true))?,
            b'f' => self.literal(b"false").map(|_| ChangeValue::Bool(false))?,
            b'n' => self.literal(b"null").map(|_| ChangeValue::Null)?,
            c @ (b'{' | b'[') => {
                let at = self.i;
                self.i += 1;
                let close = if c == b'{' { b'}' } else { b']' };
                let empty = self.peek()? == close;
                self.i = at;
                self.skip_value()?;
                ChangeValue::Container { empty }
            }
            _ => {
                let text = self.number()?;
                ChangeValue::Number {
                    zero: text.parse::<f64>().is_ok_and(|v| v == 0.0),
                }
            }
        })
    }

    fn event(&mut self, e: &mut Event<'a>) -> R<()> {
        self.object("event", |p, key| {
            match key {
                "id" => e.id = p.str_field("id")?,
                "timestamp" => e.timestamp = p.str_field("timestamp")?,
                "event_type" => e.event_type = p.str_field("event_type")?,
                "service" => e.service = p.str_field("service")?,
                "organization" => e.organization = p.str_field("organization")?,
                "client_ip" => e.client_ip = p.str_field("client_ip")?,
                "src_ip" => e.src_ip = p.str_field("src_ip")?,
                "success" => e.success = p.bool_field("success")?,
                "sso_token_success" => e.sso_token_success = p.bool_field("sso_token_success")?,
                "mfa" => e.mfa = p.bool_field("mfa")?,
                "username" => e.username = p.str_field("username")?,
                "error_message" => e.error_message = p.str_field("error_message")?,
                "auth_method" => e.auth_method = p.str_field("auth_method")?,
                "priority" => e.priority = p.str_field("priority")?,
                "severity" => {
                    let v = p.str_field("severity")?;
                    if e.priority.is_none() {
                        e.priority = v;
                    }
                }
                "initiated_by" => e.initiated_by = p.actor()?,
                "resource" => e.resource = p.resource()?,
                "geoip" => e.geoip = p.geo()?,
                "association" => e.association = p.association()?,
                "mfa_meta" => e.mfa_type = p.one_str("mfa_meta", "type", "mfa_meta.type")?,
                "system" => {
                    e.system_hostname = p.one_str("system", "hostname", "system.hostname")?
                }
                "changes" => {
                    e.changes.clear();
                    p.changes(&mut e.changes)?;
                }
                _ => p.skip_value()?,
            }
            Ok(())
        })
        .map(|_| ())
    }

    fn actor(&mut self) -> R<Option<Actor<'a>>> {
        let mut o = Actor::default();
        let is = self.object("initiated_by", |p, key| {
            match key {
                "id" => o.id = p.str_field("initiated_by.id")?,
                "type" => o.kind = p.str_field("initiated_by.type")?,
                "email" => o.email = p.str_field("initiated_by.email")?,
                "username" => o.username = p.str_field("initiated_by.username")?,
                _ => p.skip_value()?,
            }
            Ok(())
        })?;
        Ok(is.then_some(o))
    }

    fn resource(&mut self) -> R<Option<Resource<'a>>> {
        let mut o = Resource::default();
        let is = self.object("resource", |p, key| {
            match key {
                "type" => o.kind = p.str_field("resource.type")?,
                "id" => o.id = p.str_field("resource.id")?,
                "username" => o.username = p.str_field("resource.username")?,
                "email" => o.email = p.str_field("resource.email")?,
                "displayName" => o.display_name = p.str_field("resource.displayName")?,
                "name" => o.name = p.str_field("resource.name")?,
                "hostname" => o.hostname = p.str_field("resource.hostname")?,
                _ => p.skip_value()?,
            }
            Ok(())
        })?;
        Ok(is.then_some(o))
    }

    fn geo(&mut self) -> R<Option<Geo<'a>>> {
        let mut o = Geo::default();
        let is = self.object("geoip", |p, key| {
            match key {
                // The current spelling wins over the legacy one whatever the key order.
                "country_code" => {
                    if let Some(v) = p.str_field("geoip.country_code")? {
                        o.country_code = Some(v);
                    }
                }
                "country_code2" => {
                    let v = p.str_field("geoip.country_code2")?;
                    if o.country_code.is_none() {
                        o.country_code = v;
                    }
                }
                "region_name" => o.region_name = p.str_field("geoip.region_name")?,
                "latitude" => o.latitude = p.num_field("geoip.latitude")?,
                "longitude" => o.longitude = p.num_field("geoip.longitude")?,
                _ => p.skip_value()?,
            }
            Ok(())
        })?;
        Ok(is.then_some(o))
    }

    /// An object from which one string field is read (`mfa_meta.type`, `system.hostname`).
    fn one_str(&mut self, label: &'static str, field: &str, name: &'static str) -> R<Str<'a>> {
        let mut v = None;
        self.object(label, |p, key| {
            if key == field {
                v = p.str_field(name)?;
            } else {
                p.skip_value()?;
            }
            Ok(())
        })?;
        Ok(v)
    }

    /// `association.connection.{from,to}`: `(type, name)`.
    fn endpoint(&mut self) -> R<Option<(Str<'a>, Str<'a>)>> {
        let (mut kind, mut name) = (None, None);
        let is = self.object("association.connection", |p, key| {
            match key {
                "type" => kind = p.str_field("association.connection.type")?,
                "name" => name = p.str_field("association.connection.name")?,
                _ => p.skip_value()?,
            }
            Ok(())
        })?;
        Ok(is.then_some((kind, name)))
    }

    fn association(&mut self) -> R<Option<Association<'a>>> {
        let mut o = Association::default();
        let is = self.object("association", |p, key| {
            match key {
                "op" => o.op = p.str_field("association.op")?,
                "connection" => {
                    // As in the reference: the last `from`/`to` key of the connection
                    // decides, and a null or missing endpoint leaves the fields alone.
                    let (mut from, mut to) = (None, None);
                    let is = p.object("association.connection", |p, key| {
                        match key {
                            "from" => from = p.endpoint()?,
                            "to" => to = p.endpoint()?,
                            _ => p.skip_value()?,
                        }
                        Ok(())
                    })?;
                    if is {
                        if let Some((k, n)) = from {
                            (o.from_type, o.from_name) = (k, n);
                        }
                        if let Some((k, n)) = to {
                            (o.to_type, o.to_name) = (k, n);
                        }
                    }
                }
                "attributes" => {
                    let mut sudo = None;
                    let is = p.object("association.attributes", |p, key| {
                        if key == "sudo" {
                            let mut enabled = None;
                            p.object("association.attributes.sudo", |p, key| {
                                if key == "enabled" {
                                    enabled =
                                        p.bool_field("association.attributes.sudo.enabled")?;
                                } else {
                                    p.skip_value()?;
                                }
                                Ok(())
                            })?;
                            sudo = enabled;
                        } else {
                            p.skip_value()?;
                        }
                        Ok(())
                    })?;
                    if is {
                        o.sudo_enabled = sudo;
                    }
                }
                _ => p.skip_value()?,
            }
            Ok(())
        })?;
        Ok(is.then_some(o))
    }

    /// `changes`: at most 64 entries are kept; the rest are validated and skipped.
    fn changes(&mut self, out: &mut SmallVec<[Change<'a>; 4]>) -> R<()> {
        const MAX_CHANGES: usize = 64;
        match self.peek()? {
            b'[' => {
                self.i += 1;
                if self.peek()? == b']' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    if out.len() >= MAX_CHANGES {
                        self.skip_value()?;
                    } else {
                        let mut c = Change::default();
                        let is = self.object("changes[]", |p, key| {
                            match key {
                                "field" => c.field = p.str_field("changes[].field")?,
                                "to" => c.to = p.change_value()?,
                                _ => p.skip_value()?,
                            }
                            Ok(())
                        })?;
                        if is {
                            out.push(c);
                        }
                    }
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return self.err(ErrorKind::Expected("`,` or `]`")),
                    }
                }
            }
            b'n' => self.literal(b"null"),
            _ => {
                self.skip_value()?;
                self.wrong("changes");
                Ok(())
            }
        }
    }
}
