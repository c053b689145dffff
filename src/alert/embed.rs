//! `--emit all` and embedded mode: a passed-on event keeps its bytes and gains one
//! `jcdetect` object (its category, the rules it fired, and in embedded mode its alerts).

use serde_json::value::RawValue;

/// Write the event unchanged but for an added `jcdetect` object before its closing brace.
/// With `alerts` (NDJSON, one encoded alert per line) they go into its `alerts` array.
pub fn pass_tagged(
    raw: &str,
    category: &str,
    fired: &[&str],
    alerts: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    let owned;
    let raw = match without_own_key(raw) {
        Some(s) => {
            owned = s;
            owned.as_str()
        }
        None => raw,
    };
    let body = raw.trim_end();
    let Some(inner) = body.strip_suffix('}') else {
        out.extend_from_slice(raw.as_bytes());
        out.push(b'\n');
        return;
    };
    out.extend_from_slice(inner.as_bytes());
    let empty_object = inner
        .trim_start()
        .strip_prefix('{')
        .is_some_and(|r| r.trim().is_empty());
    if !empty_object {
        out.push(b',');
    }
    out.extend_from_slice(b"\"jcdetect\":");
    let mut o = crate::alert::json::Obj::new(out);
    o.str("category", category)
        .str_array("rules", fired.iter().copied());
    if let Some(alerts) = alerts {
        // The encoder escapes control characters, so each alert is exactly one line.
        let mut list = Vec::with_capacity(alerts.len() + 2);
        list.push(b'[');
        for (i, a) in alerts
            .split(|&b| b == b'\n')
            .filter(|a| !a.is_empty())
            .enumerate()
        {
            if i > 0 {
                list.push(b',');
            }
            list.extend_from_slice(a);
        }
        list.push(b']');
        o.raw("alerts", &list);
    }
    o.end();
    out.extend_from_slice(b"}\n");
}

/// `raw` without its top-level `jcdetect` members, or `None` when it has none (the usual
/// case, found without parsing): the object written carries exactly one `jcdetect` key,
/// ours, as Fluent Bit would keep only one.
fn without_own_key(raw: &str) -> Option<String> {
    memchr::memmem::find(raw.as_bytes(), b"\"jcdetect\"")?;
    struct Members<'a>(Vec<(String, &'a RawValue)>);
    impl<'de> serde::Deserialize<'de> for Members<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Members<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Self::Value, A::Error> {
                    let mut m = Vec::new();
                    while let Some(k) = map.next_key::<String>()? {
                        m.push((k, map.next_value::<&'de RawValue>()?));
                    }
                    Ok(Members(m))
                }
            }
            d.deserialize_map(V)
        }
    }
    let members: Members<'_> = serde_json::from_str(raw).ok()?;
    if !members.0.iter().any(|(k, _)| k == "jcdetect") {
        return None;
    }
    let mut s = String::with_capacity(raw.len());
    s.push('{');
    for (k, v) in members.0.iter().filter(|(k, _)| k != "jcdetect") {
        if s.len() > 1 {
            s.push(',');
        }
        s.push_str(&serde_json::to_string(k).ok()?);
        s.push(':');
        s.push_str(v.get());
    }
    s.push('}');
    Some(s)
}
