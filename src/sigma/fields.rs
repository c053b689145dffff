//! The fields the loaded Sigma rules read, pulled out of an event's JSON in one pass: every
//! path any rule names gets a number when the rules load ([`Paths`], a trie), and a line is
//! walked once, keeping only the values on those paths ([`Fields`], a table by path number;
//! everything else is skipped by `IgnoredAny`, which builds nothing). Each rule then reads its
//! fields by number, and what several rules ask of one field (its lower-cased text, its
//! address) is computed once per event.
//!
//! A path through an array fans out: every element is looked into, and an array at the end
//! of a path gives each of its elements as a value. A keyword search (no field) reads every
//! string of the event, so a rule set that has one parses whole lines.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
use std::net::IpAddr;

/// One value found at a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf<'a> {
    Str(Cow<'a, str>),
    /// A number and its JSON text.
    Num(f64, String),
    Bool(bool),
    Null,
    /// An object (or an empty array's place): there, but no text.
    Other,
}

impl Leaf<'_> {
    /// The text patterns compare with: a string as is, a number or boolean written out.
    pub fn text(&self) -> Option<&str> {
        match self {
            Leaf::Str(s) => Some(s),
            Leaf::Num(_, t) => Some(t),
            Leaf::Bool(b) => Some(if *b { "true" } else { "false" }),
            Leaf::Null | Leaf::Other => None,
        }
    }

    fn of(v: &Value) -> Leaf<'static> {
        match v {
            Value::String(s) => Leaf::Str(Cow::Owned(s.clone())),
            Value::Number(n) => Leaf::Num(n.as_f64().unwrap_or(f64::NAN), n.to_string()),
            Value::Bool(b) => Leaf::Bool(*b),
            Value::Null => Leaf::Null,
            _ => Leaf::Other,
        }
    }
}

/// The values at one path, and what rules derive from them (once per event).
#[derive(Debug, Default)]
pub struct Field<'a> {
    pub vals: SmallVec<[Leaf<'a>; 2]>,
    folded: OnceCell<SmallVec<[Cow<'a, str>; 2]>>,
    ips: OnceCell<SmallVec<[IpAddr; 2]>>,
}

impl<'a> Field<'a> {
    /// Each value's text.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.vals.iter().filter_map(Leaf::text)
    }

    /// Each value's text, lower-cased (case-insensitive matching).
    pub fn folded(&self) -> &[Cow<'a, str>] {
        self.folded.get_or_init(|| {
            self.vals
                .iter()
                .filter_map(|v| match v {
                    Leaf::Str(Cow::Borrowed(s)) => Some(lower(s)),
                    other => other.text().map(|t| Cow::Owned(t.to_lowercase())),
                })
                .collect()
        })
    }

    /// The string values that are IP addresses.
    pub fn ips(&self) -> &[IpAddr] {
        self.ips.get_or_init(|| {
            self.vals
                .iter()
                .filter_map(|v| match v {
                    Leaf::Str(s) => s.parse().ok(),
                    _ => None,
                })
                .collect()
        })
    }
}

/// Lower case, borrowed when it already is.
pub fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|c| c.is_ascii_uppercase() || !c.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// The fields of one event, by path number.
#[derive(Debug, Default)]
pub struct Fields<'a> {
    pub by_path: Vec<Field<'a>>,
    /// Every string of the event, lower-cased (only when a keyword search needs them).
    pub strings: Vec<String>,
}

impl<'a> Fields<'a> {
    pub fn get(&self, path: usize) -> &Field<'a> {
        &self.by_path[path]
    }
}

/// A set of dotted paths (`initiated_by.username`), numbered in the order added.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    root: Trie,
    names: Vec<String>,
    /// Some rule reads the whole event (a keyword search).
    everything: bool,
}

#[derive(Debug, Clone, Default)]
struct Trie {
    /// The number of the path that ends here.
    leaf: Option<usize>,
    children: Vec<(String, Trie)>,
}

impl Paths {
    /// The number of `path`, added if new.
    pub fn add(&mut self, path: &str) -> usize {
        let mut node = &mut self.root;
        for key in path.split('.') {
            let at = match node.children.iter().position(|(k, _)| k == key) {
                Some(i) => i,
                None => {
                    node.children.push((key.to_string(), Trie::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[at].1;
        }
        *node.leaf.get_or_insert_with(|| {
            self.names.push(path.to_string());
            self.names.len() - 1
        })
    }

    pub fn add_everything(&mut self) {
        self.everything = true;
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && !self.everything
    }

    /// The values on these paths in `text`, one JSON object.
    pub fn extract<'a>(&self, text: &'a str) -> Result<Fields<'a>, serde_json::Error> {
        let mut out = self.empty();
        if self.everything {
            let v: Value = serde_json::from_str(text)?;
            self.fill(&v, &mut out);
            return Ok(out);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        Walk {
            node: &self.root,
            out: &mut out,
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok(out)
    }

    /// The values on these paths in an already parsed event.
    pub fn fill<'a>(&self, v: &Value, out: &mut Fields<'a>) {
        fill(&self.root, v, out);
        if self.everything {
            strings(v, &mut out.strings);
        }
    }

    pub fn empty<'a>(&self) -> Fields<'a> {
        Fields {
            by_path: (0..self.names.len()).map(|_| Field::default()).collect(),
            strings: Vec::new(),
        }
    }
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.to_lowercase()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Fill from a parsed value: a node that is both the end of one path and on the way of
/// another, or a whole event for a keyword search.
fn fill(node: &Trie, v: &Value, out: &mut Fields<'_>) {
    if let Value::Array(items) = v {
        return items.iter().for_each(|i| fill(node, i, out));
    }
    if let Some(id) = node.leaf {
        out.by_path[id].vals.push(Leaf::of(v));
    }
    if let Value::Object(m) = v {
        for (k, child) in &node.children {
            if let Some(x) = m.get(k) {
                fill(child, x, out);
            }
        }
    }
}

/// The streaming walk of one node of the trie.
struct Walk<'t, 'f, 'a> {
    node: &'t Trie,
    out: &'f mut Fields<'a>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.node.leaf.is_some() && !self.node.children.is_empty() {
            let v: Value = serde::Deserialize::deserialize(d)?;
            fill(self.node, &v, self.out);
            return Ok(());
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if let Some(id) = self.node.leaf {
            self.out.by_path[id].vals.push(Leaf::Other);
        }
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.node.children.iter().find(|(k, _)| *k == key) {
                Some((_, child)) => map.next_value_seed(Walk {
                    node: child,
                    out: &mut *self.out,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Walk {
                node: self.node,
                out: &mut *self.out,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.leaf(Leaf::Str(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.leaf(Leaf::Str(Cow::Owned(v.to_string())));
        Ok(())
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.leaf(Leaf::Bool(v));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.leaf(Leaf::Num(v as f64, v.to_string()));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.leaf(Leaf::Num(v as f64, v.to_string()));
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        // As serde_json writes it, so text matching sees what `Value` would.
        let text = serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string());
        self.leaf(Leaf::Num(v, text));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.leaf(Leaf::Null);
        Ok(())
    }
}

impl<'a> Walk<'_, '_, 'a> {
    /// A scalar: a value where a path ends; nothing where it goes on.
    fn leaf(self, v: Leaf<'a>) {
        if let Some(id) = self.node.leaf {
            self.out.by_path[id].vals.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_paths_asked_for_arrays_fanned_out() {
        let mut p = Paths::default();
        let user = p.add("initiated_by.username");
        let field = p.add("changes.field");
        let geo = p.add("geoip");
        let cc = p.add("geoip.country_code");
        let n = p.add("n");
        assert_eq!(p.add("changes.field"), field);
        let text = r#"{"id":"x","initiated_by":{"id":"1","username":"A\u0062"},"changes":[{"field":"mfa","to":true},{"field":"x"},[{"field":"deep"}]],"geoip":{"country_code":"DE"},"big":{"deep":[1,2,{"k":"v"}]},"n":[1.5,2,null]}"#;
        let f = p.extract(text).unwrap();
        assert_eq!(f.get(user).vals.as_slice(), [Leaf::Str("Ab".into())]);
        assert_eq!(f.get(user).folded(), ["ab"]);
        let fields: Vec<&str> = f.get(field).texts().collect();
        assert_eq!(fields, ["mfa", "x", "deep"]);
        assert_eq!(f.get(geo).vals.as_slice(), [Leaf::Other]);
        assert_eq!(f.get(cc).vals.as_slice(), [Leaf::Str("DE".into())]);
        let ns: Vec<&str> = f.get(n).texts().collect();
        assert_eq!(ns, ["1.5", "2"]);
        assert_eq!(f.get(n).vals[2], Leaf::Null);
        // The same from a parsed value.
        let mut g = p.empty();
        p.fill(&serde_json::from_str(text).unwrap(), &mut g);
        for id in 0..p.len() {
            assert_eq!(f.get(id).vals, g.get(id).vals, "path {}", p.names[id]);
        }
        // A path through a scalar gives nothing; bad JSON is an error.
        let f = p.extract(r#"{"initiated_by":"x"}"#).unwrap();
        assert!(f.get(user).vals.is_empty());
        assert!(p.extract(r#"{"initiated_by":{"#).is_err());
    }
}
