//! The reference decoder, on serde_json's visitor API: the fast scanner ([`super::decode`])
//! is tested and fuzzed against it. Tests only (feature `reference-decoder`): the data
//! path never builds it.

use super::*;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// The reference decoder, on serde_json: [`decode`] (the fast scanner) is tested against it.
/// Errors are JSON syntax errors or a non-object value (`is_data()`).
pub fn decode_with_serde(text: &str) -> Result<Event<'_>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let ev = EventSeed.deserialize(&mut de)?;
    de.end()?;
    Ok(ev)
}

// ---------------------------------------------------------------------------------------
// Lenient leaf values.

/// Result of decoding a leaf leniently.
enum Leaf<T> {
    Ok(T),
    Null,
    Wrong,
}

struct StrV;
impl<'de> Visitor<'de> for StrV {
    type Value = Leaf<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Leaf::Ok(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Leaf::Ok(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Leaf::Ok(Cow::Owned(v)))
    }
    wrong_scalars!();
}

struct BoolV;
impl<'de> Visitor<'de> for BoolV {
    type Value = Leaf<bool>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Leaf::Ok(v))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Leaf::Wrong)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Leaf::Wrong)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Leaf::Wrong)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Leaf::Wrong)
    }
    wrong_containers!();
}

struct NumV;
impl<'de> Visitor<'de> for NumV {
    type Value = Leaf<f64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Leaf::Ok(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Leaf::Ok(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Leaf::Ok(v))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Leaf::Wrong)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Leaf::Wrong)
    }
    wrong_containers!();
}

/// Every visitor treats `null` as null and containers as the wrong type (drained, not parsed).
macro_rules! wrong_containers {
    () => {
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Leaf::Null)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Leaf::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Leaf::Wrong)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Leaf::Wrong)
        }
    };
}
use wrong_containers;

macro_rules! wrong_scalars {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Leaf::Wrong)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Leaf::Wrong)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Leaf::Wrong)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Leaf::Wrong)
        }
        wrong_containers!();
    };
}
use wrong_scalars;

/// Context that records the first wrongly typed field of the event.
struct Ctx {
    wrong: Option<&'static str>,
}

impl Ctx {
    fn take<T>(&mut self, leaf: Leaf<T>, name: &'static str) -> Option<T> {
        match leaf {
            Leaf::Ok(v) => Some(v),
            Leaf::Null => None,
            Leaf::Wrong => {
                self.wrong.get_or_insert(name);
                None
            }
        }
    }
}

fn str_of<'de, A: MapAccess<'de>>(
    map: &mut A,
    ctx: &mut Ctx,
    name: &'static str,
) -> Result<Str<'de>, A::Error> {
    let leaf = map.next_value_seed(Seed(StrV))?;
    Ok(ctx.take(leaf, name))
}

fn bool_of<'de, A: MapAccess<'de>>(
    map: &mut A,
    ctx: &mut Ctx,
    name: &'static str,
) -> Result<Option<bool>, A::Error> {
    let leaf = map.next_value_seed(Seed(BoolV))?;
    Ok(ctx.take(leaf, name))
}

fn num_of<'de, A: MapAccess<'de>>(
    map: &mut A,
    ctx: &mut Ctx,
    name: &'static str,
) -> Result<Option<f64>, A::Error> {
    let leaf = map.next_value_seed(Seed(NumV))?;
    Ok(ctx.take(leaf, name).filter(|v| v.is_finite()))
}

/// Adapts a visitor into a seed (`deserialize_any` on the value).
struct Seed<V>(V);
impl<'de, V: Visitor<'de>> de::DeserializeSeed<'de> for Seed<V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_any(self.0)
    }
}

/// Map keys, borrowed when unescaped.
struct Key<'a>(Cow<'a, str>);
impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KV;
        impl<'de> Visitor<'de> for KV {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KV)
    }
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Nested objects. Each is an object visitor; a non-object value is recorded as wrong.

macro_rules! object_visitor {
    ($vis:ident, $out:ident, $label:literal, |$ctx:ident, $key:ident, $map:ident, $obj:ident| $body:block) => {
        struct $vis<'c> {
            ctx: &'c mut Ctx,
        }
        impl<'de, 'c> Visitor<'de> for $vis<'c> {
            type Value = Option<$out<'de>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str($label)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut $map: A) -> Result<Self::Value, A::Error> {
                let $ctx = self.ctx;
                let mut $obj = $out::default();
                while let Some(Key($key)) = $map.next_key::<Key<'de>>()? {
                    $body
                }
                Ok(Some($obj))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                self.ctx.wrong.get_or_insert($label);
                Ok(None)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                self.ctx.wrong.get_or_insert($label);
                Ok(None)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                self.ctx.wrong.get_or_insert($label);
                Ok(None)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                self.ctx.wrong.get_or_insert($label);
                Ok(None)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                self.ctx.wrong.get_or_insert($label);
                Ok(None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                self.ctx.wrong.get_or_insert($label);
                Ok(None)
            }
        }
    };
}

object_visitor!(ActorV, Actor, "initiated_by", |ctx, key, map, o| {
    match key.as_ref() {
        "id" => o.id = str_of(&mut map, ctx, "initiated_by.id")?,
        "type" => o.kind = str_of(&mut map, ctx, "initiated_by.type")?,
        "email" => o.email = str_of(&mut map, ctx, "initiated_by.email")?,
        "username" => o.username = str_of(&mut map, ctx, "initiated_by.username")?,
        _ => skip(&mut map)?,
    }
});

object_visitor!(ResourceV, Resource, "resource", |ctx, key, map, o| {
    match key.as_ref() {
        "type" => o.kind = str_of(&mut map, ctx, "resource.type")?,
        "id" => o.id = str_of(&mut map, ctx, "resource.id")?,
        "username" => o.username = str_of(&mut map, ctx, "resource.username")?,
        "email" => o.email = str_of(&mut map, ctx, "resource.email")?,
        "displayName" => o.display_name = str_of(&mut map, ctx, "resource.displayName")?,
        "name" => o.name = str_of(&mut map, ctx, "resource.name")?,
        "hostname" => o.hostname = str_of(&mut map, ctx, "resource.hostname")?,
        _ => skip(&mut map)?,
    }
});

object_visitor!(GeoV, Geo, "geoip", |ctx, key, map, o| {
    match key.as_ref() {
        "country_code" => {
            // The current spelling wins over the legacy one whatever the key order.
            if let Some(v) = str_of(&mut map, ctx, "geoip.country_code")? {
                o.country_code = Some(v);
            }
        }
        "country_code2" => {
            let v = str_of(&mut map, ctx, "geoip.country_code2")?;
            if o.country_code.is_none() {
                o.country_code = v;
            }
        }
        "region_name" => o.region_name = str_of(&mut map, ctx, "geoip.region_name")?,
        "latitude" => o.latitude = num_of(&mut map, ctx, "geoip.latitude")?,
        "longitude" => o.longitude = num_of(&mut map, ctx, "geoip.longitude")?,
        _ => skip(&mut map)?,
    }
});

/// `association.connection.{from,to}` endpoint.
#[derive(Default)]
struct Endpoint<'a> {
    kind: Str<'a>,
    name: Str<'a>,
}
object_visitor!(
    EndpointV,
    Endpoint,
    "association.connection",
    |ctx, key, map, o| {
        match key.as_ref() {
            "type" => o.kind = str_of(&mut map, ctx, "association.connection.type")?,
            "name" => o.name = str_of(&mut map, ctx, "association.connection.name")?,
            _ => skip(&mut map)?,
        }
    }
);

#[derive(Default)]
struct Connection<'a> {
    from: Option<Endpoint<'a>>,
    to: Option<Endpoint<'a>>,
}
object_visitor!(
    ConnectionV,
    Connection,
    "association.connection",
    |ctx, key, map, o| {
        match key.as_ref() {
            "from" => o.from = map.next_value_seed(Seed(EndpointV { ctx }))?,
            "to" => o.to = map.next_value_seed(Seed(EndpointV { ctx }))?,
            _ => skip(&mut map)?,
        }
    }
);

#[derive(Default)]
struct Sudo<'a> {
    enabled: Option<bool>,
    _p: std::marker::PhantomData<&'a ()>,
}
object_visitor!(
    SudoV,
    Sudo,
    "association.attributes.sudo",
    |ctx, key, map, o| {
        match key.as_ref() {
            "enabled" => o.enabled = bool_of(&mut map, ctx, "association.attributes.sudo.enabled")?,
            _ => skip(&mut map)?,
        }
    }
);

#[derive(Default)]
struct Attributes<'a> {
    sudo: Option<Sudo<'a>>,
}
object_visitor!(
    AttributesV,
    Attributes,
    "association.attributes",
    |ctx, key, map, o| {
        match key.as_ref() {
            "sudo" => o.sudo = map.next_value_seed(Seed(SudoV { ctx }))?,
            _ => skip(&mut map)?,
        }
    }
);

object_visitor!(
    AssociationV,
    Association,
    "association",
    |ctx, key, map, o| {
        match key.as_ref() {
            "op" => o.op = str_of(&mut map, ctx, "association.op")?,
            "connection" => {
                if let Some(c) = map.next_value_seed(Seed(ConnectionV { ctx: &mut *ctx }))? {
                    if let Some(f) = c.from {
                        o.from_type = f.kind;
                        o.from_name = f.name;
                    }
                    if let Some(t) = c.to {
                        o.to_type = t.kind;
                        o.to_name = t.name;
                    }
                }
            }
            "attributes" => {
                if let Some(a) = map.next_value_seed(Seed(AttributesV { ctx: &mut *ctx }))? {
                    o.sudo_enabled = a.sudo.and_then(|s| s.enabled);
                }
            }
            _ => skip(&mut map)?,
        }
    }
);

#[derive(Default)]
struct MfaMeta<'a> {
    kind: Str<'a>,
}
object_visitor!(MfaMetaV, MfaMeta, "mfa_meta", |ctx, key, map, o| {
    match key.as_ref() {
        "type" => o.kind = str_of(&mut map, ctx, "mfa_meta.type")?,
        _ => skip(&mut map)?,
    }
});

#[derive(Default)]
struct SystemObj<'a> {
    hostname: Str<'a>,
}
object_visitor!(SystemV, SystemObj, "system", |ctx, key, map, o| {
    match key.as_ref() {
        "hostname" => o.hostname = str_of(&mut map, ctx, "system.hostname")?,
        _ => skip(&mut map)?,
    }
});

/// Summarise any JSON value as a [`ChangeValue`] without keeping it.
struct ChangeValueV;
impl<'de> Visitor<'de> for ChangeValueV {
    type Value = ChangeValue;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E>(self) -> Result<ChangeValue, E> {
        Ok(ChangeValue::Null)
    }
    fn visit_none<E>(self) -> Result<ChangeValue, E> {
        Ok(ChangeValue::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<ChangeValue, E> {
        Ok(ChangeValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<ChangeValue, E> {
        Ok(ChangeValue::Number { zero: v == 0 })
    }
    fn visit_u64<E>(self, v: u64) -> Result<ChangeValue, E> {
        Ok(ChangeValue::Number { zero: v == 0 })
    }
    fn visit_f64<E>(self, v: f64) -> Result<ChangeValue, E> {
        Ok(ChangeValue::Number { zero: v == 0.0 })
    }
    fn visit_str<E>(self, v: &str) -> Result<ChangeValue, E> {
        let t = v.trim();
        let off_word = ["false", "disabled", "off", "none"]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w));
        Ok(ChangeValue::Text {
            empty: t.is_empty(),
            off_word,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ChangeValue, A::Error> {
        let mut empty = true;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            empty = false;
        }
        Ok(ChangeValue::Container { empty })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChangeValue, A::Error> {
        let mut empty = true;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            empty = false;
        }
        Ok(ChangeValue::Container { empty })
    }
}

object_visitor!(ChangeV, Change, "changes[]", |ctx, key, map, o| {
    match key.as_ref() {
        "field" => o.field = str_of(&mut map, ctx, "changes[].field")?,
        "to" => o.to = map.next_value_seed(Seed(ChangeValueV))?,
        _ => skip(&mut map)?,
    }
});

/// `changes`: an array of change objects. At most 64 entries are kept (the rules look for
/// one matching field; a larger list is still fully skipped over).
struct ChangesV<'c, 'a> {
    ctx: &'c mut Ctx,
    out: &'c mut SmallVec<[Change<'a>; 4]>,
}
impl<'de, 'c> Visitor<'de> for ChangesV<'c, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of changes")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        const MAX_CHANGES: usize = 64;
        loop {
            if self.out.len() >= MAX_CHANGES {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                continue;
            }
            match seq.next_element_seed(Seed(ChangeV {
                ctx: &mut *self.ctx,
            }))? {
                Some(Some(c)) => self.out.push(c),
                Some(None) => {}
                None => break,
            }
        }
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.ctx.wrong.get_or_insert("changes");
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.ctx.wrong.get_or_insert("changes");
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.ctx.wrong.get_or_insert("changes");
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.ctx.wrong.get_or_insert("changes");
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.ctx.wrong.get_or_insert("changes");
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.ctx.wrong.get_or_insert("changes");
        Ok(())
    }
}

/// The top-level event.
struct EventSeed;
impl<'de> de::DeserializeSeed<'de> for EventSeed {
    type Value = Event<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Event<'de>, D::Error> {
        d.deserialize_map(EventV)
    }
}

struct EventV;
impl<'de> Visitor<'de> for EventV {
    type Value = Event<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object (one DI event)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event<'de>, A::Error> {
        let mut ctx = Ctx { wrong: None };
        let c = &mut ctx;
        let mut e = Event::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match key.as_ref() {
                "id" => e.id = str_of(&mut map, c, "id")?,
                "timestamp" => e.timestamp = str_of(&mut map, c, "timestamp")?,
                "event_type" => e.event_type = str_of(&mut map, c, "event_type")?,
                "service" => e.service = str_of(&mut map, c, "service")?,
                "organization" => e.organization = str_of(&mut map, c, "organization")?,
                "client_ip" => e.client_ip = str_of(&mut map, c, "client_ip")?,
                "src_ip" => e.src_ip = str_of(&mut map, c, "src_ip")?,
                "success" => e.success = bool_of(&mut map, c, "success")?,
                "sso_token_success" => {
                    e.sso_token_success = bool_of(&mut map, c, "sso_token_success")?
                }
                "mfa" => e.mfa = bool_of(&mut map, c, "mfa")?,
                "username" => e.username = str_of(&mut map, c, "username")?,
                "error_message" => e.error_message = str_of(&mut map, c, "error_message")?,
                "auth_method" => e.auth_method = str_of(&mut map, c, "auth_method")?,
                "priority" => e.priority = str_of(&mut map, c, "priority")?,
                "severity" => {
                    let v = str_of(&mut map, c, "severity")?;
                    if e.priority.is_none() {
                        e.priority = v;
                    }
                }
                "initiated_by" => e.initiated_by = map.next_value_seed(Seed(ActorV { ctx: c }))?,
                "resource" => e.resource = map.next_value_seed(Seed(ResourceV { ctx: c }))?,
                "geoip" => e.geoip = map.next_value_seed(Seed(GeoV { ctx: c }))?,
                "association" => {
                    e.association = map.next_value_seed(Seed(AssociationV { ctx: c }))?
                }
                "mfa_meta" => {
                    e.mfa_type = map
                        .next_value_seed(Seed(MfaMetaV { ctx: c }))?
                        .and_then(|m| m.kind)
                }
                "system" => {
                    e.system_hostname = map
                        .next_value_seed(Seed(SystemV { ctx: c }))?
                        .and_then(|s| s.hostname)
                }
                "changes" => {
                    e.changes.clear();
                    map.next_value_seed(Seed(ChangesV {
                        ctx: c,
                        out: &mut e.changes,
                    }))?
                }
                _ => skip(&mut map)?,
            }
        }
        e.wrong_type = ctx.wrong;
        Ok(e)
    }
}
