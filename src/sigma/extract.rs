//! The fields the loaded Sigma rules read, pulled out of an event's JSON without building the
//! rest of it: the paths every rule references are compiled into a trie when the rules load,
//! and one serde pass over the line keeps only the subtrees on those paths (everything else is
//! skipped by `IgnoredAny`, which allocates nothing). Rules then run on that small `Value`.
//! A keyword search (no field) reads every string, so it keeps the whole event.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A set of dotted JSON paths (`initiated_by.username`), as a trie.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    root: Trie,
    /// Some rule reads the whole event (a keyword search).
    everything: bool,
}

#[derive(Debug, Clone, Default)]
struct Trie {
    /// The path ends here: the whole subtree is kept.
    leaf: bool,
    children: Vec<(String, Trie)>,
}

impl Paths {
    pub fn add(&mut self, path: &str) {
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
        node.leaf = true;
    }

    pub fn add_everything(&mut self) {
        self.everything = true;
    }

    pub fn is_empty(&self) -> bool {
        !self.everything && self.root.children.is_empty()
    }

    /// The event with only the subtrees on these paths (arrays on the way are kept, with the
    /// same paths looked for in each element). `text` is one JSON object.
    pub fn extract(&self, text: &str) -> Result<Value, serde_json::Error> {
        if self.everything {
            return serde_json::from_str(text);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let v = Seed(&self.root).deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }
}

struct Seed<'t>(&'t Trie);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.leaf {
            return serde::Deserialize::deserialize(d);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match self.0.children.iter().find(|(k, _)| *k == key) {
                Some((k, child)) => {
                    let v = map.next_value_seed(Seed(child))?;
                    out.insert(k.clone(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed(self.0))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    // A scalar where the path goes on deeper: nothing under it.
    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_the_paths_asked_for() {
        let mut p = Paths::default();
        p.add("initiated_by.username");
        p.add("changes.field");
        p.add("geoip");
        let text = r#"{"id":"x","initiated_by":{"id":"1","username":"a\u0062"},"changes":[{"field":"mfa","to":true},{"field":"x"}],"geoip":{"country_code":"DE"},"big":{"deep":[1,2,{"k":"v"}]},"client_ip":"1.2.3.4"}"#;
        assert_eq!(
            p.extract(text).unwrap(),
            json!({"initiated_by":{"username":"ab"},"changes":[{"field":"mfa"},{"field":"x"}],"geoip":{"country_code":"DE"}})
        );
        // A path through a scalar, and bad JSON.
        assert_eq!(
            p.extract(r#"{"initiated_by":"x"}"#).unwrap(),
            json!({"initiated_by": null})
        );
        assert!(p.extract(r#"{"initiated_by":{"#).is_err());
        let mut all = Paths::default();
        all.add_everything();
        assert_eq!(all.extract(text).unwrap()["client_ip"], "1.2.3.4");
    }
}
