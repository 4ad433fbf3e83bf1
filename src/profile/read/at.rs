//! Reading a typed value out of JSON or YAML text at a location, skipping everything around it.
//!
//! A `serde_json::Value` keeps no positions, so a profile read from the document value could only say what is
//! wrong, not where. Reading it again from the text, along the path the reader found it at, keeps the line
//! and column of every error, whatever form the profile came in.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, de::DeserializeOwned};

use super::locate::Segment;

/// The `T` at `path` in the JSON text `bytes`.
pub(super) fn from_slice_at<T: DeserializeOwned>(bytes: &[u8], path: &[Segment]) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let found = Walk::<T> { path, into: PhantomData }.deserialize(&mut de)?;
    de.end()?;
    // Only a path that is not in the text gets here; the reader takes its paths from the same text.
    found.ok_or_else(|| serde_json::Error::custom("no value at the profile's location"))
}

/// The `T` at `path` in the YAML text `bytes`. In a stream of several documents, which the reader sees as the
/// List they form, `items[i]` is the `i`th document that is not empty (`streamed[i]` is its index).
pub(super) fn from_yaml_at<T: DeserializeOwned>(
    bytes: &[u8],
    path: &[Segment],
    streamed: Option<&[usize]>,
) -> Result<T, serde_norway::Error> {
    let (document, path) = match (streamed, path) {
        (Some(streamed), [Segment::Key("items"), Segment::Index(item), rest @ ..]) => {
            (streamed.get(*item).copied().unwrap_or(usize::MAX), rest)
        }
        _ => (0, path),
    };
    let walk = Walk::<T> { path, into: PhantomData };
    let found = match serde_norway::Deserializer::from_slice(bytes).nth(document) {
        Some(de) => walk.deserialize(de)?,
        None => None,
    };
    found.ok_or_else(|| serde_norway::Error::custom("no value at the profile's location"))
}

/// Walks `path` down the text; the value at its end is read as a `T`, every other value skipped.
struct Walk<'p, T> {
    path: &'p [Segment],
    into: PhantomData<fn() -> T>,
}

impl<T> Clone for Walk<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Walk<'_, T> {}

impl<'p, T> Walk<'p, T> {
    fn rest(self) -> Walk<'p, T> {
        Walk { path: self.path.get(1..).unwrap_or_default(), into: PhantomData }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Walk<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        match self.path.first() {
            None => T::deserialize(deserializer).map(Some),
            Some(Segment::Key(_)) => deserializer.deserialize_map(self),
            Some(Segment::Index(_)) => deserializer.deserialize_seq(self),
        }
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Walk<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the object or array on the way to the profile")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let Some(Segment::Key(want)) = self.path.first() else { return Ok(None) };
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == *want {
                // A repeated key: the last one counts, as in the document value.
                found = map.next_value_seed(self.rest())?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
        let Some(&Segment::Index(want)) = self.path.first() else { return Ok(None) };
        let mut found = None;
        for index in 0.. {
            let more = if index == want {
                seq.next_element_seed(self.rest())?.map(|value| found = value).is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                break;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_at_the_path_is_read_and_errors_keep_their_position() {
        let text = br#"{"kind": "List", "items": [{"spec": {"a": 1}}, {"spec": {"a": 2}, "other": [1, 2]}]}"#;
        let path = [Segment::Key("items"), Segment::Index(1), Segment::Key("spec")];
        let value: serde_json::Value = from_slice_at(text, &path).unwrap();
        assert_eq!(value, serde_json::json!({"a": 2}));

        let text = b"{\"linux\": {\n  \"seccomp\": {\"a\": \"x\"}}}";
        let err = from_slice_at::<std::collections::BTreeMap<String, u32>>(
            text,
            &[Segment::Key("linux"), Segment::Key("seccomp")],
        )
        .unwrap_err();
        assert_eq!(err.line(), 2, "{err}");

        let missing = from_slice_at::<serde_json::Value>(b"{}", &[Segment::Key("spec")]).unwrap_err();
        assert!(missing.to_string().contains("no value"), "{missing}");
    }

    #[test]
    fn yaml_documents_of_a_stream_are_the_items_of_a_list() {
        let text = b"spec: {a: 1}\n---\n---\nspec:\n  a: x\n";
        let path = [Segment::Key("items"), Segment::Index(1), Segment::Key("spec")];
        let err = from_yaml_at::<std::collections::BTreeMap<String, u32>>(text, &path, Some(&[0, 2])).unwrap_err();
        assert_eq!(err.location().map(|l| l.line()), Some(5), "{err}");
        let first: serde_json::Value = from_yaml_at(text, &path[..0], None).unwrap_or_default();
        assert_eq!(first, serde_json::json!({"spec": {"a": 1}}));
    }
}
