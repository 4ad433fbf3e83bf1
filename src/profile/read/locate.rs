//! Finding the seccomp object(s) in a parsed document: which form each comes in and where it sits.
//!
//! One set of rules for every command, so that run, check, diff and lint never disagree on what a file holds.
//! The rules are tried in this order, and the first that applies decides:
//!
//! 1. `defaultAction` at the top level: a plain runtime-spec seccomp object.
//! 2. `linux` at the top level: a runtime bundle's `config.json`, whose profile is `linux.seccomp`.
//! 3. an apiVersion under `security-profiles-operator.x-k8s.io/`, or `kind: SeccompProfile`: a Security
//!    Profiles Operator object, whose profile is its `spec`. Both must hold: a SeccompProfile of another API
//!    group is not the operator's, and the operator's other kinds hold no profile.
//! 4. `kind: List`: a Kubernetes List (what `kubectl get seccompprofile -o json` writes for several), each of
//!    whose items must be an operator SeccompProfile as in 3.
//! 5. `syscalls` at the top level, without `defaultAction`: a plain object still. Only lint can say more
//!    about it (that `defaultAction` is missing, and what else is wrong) than "not a profile", so the reader
//!    keeps it; the typed readers then refuse it for the missing field, with its position.

use serde_json::{Map, Value};

/// The API group of the Security Profiles Operator's objects.
const SPO_GROUP: &str = "security-profiles-operator.x-k8s.io/";

/// The form a seccomp object came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// The runtime-spec seccomp object itself, at the top level.
    Plain,
    /// A runtime bundle's `config.json`: the object is its `linux.seccomp`.
    Bundle,
    /// A Security Profiles Operator `SeccompProfile`: the object is its `spec`.
    SeccompProfile,
    /// One `SeccompProfile` among the items of a Kubernetes `kind: List`: the object is the item's `spec`.
    ListItem,
}

impl Form {
    /// Whether the object is an operator `spec`, which may hold the operator's own fields
    /// (`baseProfileName`, `disabled`) besides the runtime-spec ones.
    pub fn is_operator_spec(self) -> bool {
        matches!(self, Form::SeccompProfile | Form::ListItem)
    }
}

/// One step from a JSON value into one of its children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(&'static str),
    Index(usize),
}

/// Where in the document a seccomp object sits, from the top.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location(Vec<Segment>);

impl Location {
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// As a JSON pointer (RFC 6901): `""` for the top level, `/linux/seccomp`, `/items/0/spec`. The keys are
    /// the reader's own, none of which needs escaping.
    pub fn pointer(&self) -> String {
        self.0
            .iter()
            .map(|segment| match segment {
                Segment::Key(key) => format!("/{key}"),
                Segment::Index(i) => format!("/{i}"),
            })
            .collect()
    }

    fn at(segments: &[Segment]) -> Location {
        Location(segments.to_vec())
    }
}

/// A seccomp object found in a document.
#[derive(Clone, Debug)]
pub struct Found<'a> {
    pub form: Form,
    pub location: Location,
    pub object: &'a Map<String, Value>,
}

/// Why a document holds no seccomp object (or, where one is needed, more than one). Each message is the
/// middle of a line: the command puts the file in front and its own advice after.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocateError {
    #[error("the top level is not a JSON object")]
    NotObject,
    #[error("a runtime config.json without a linux.seccomp object: the container runs unconfined, no profile to read")]
    BundleWithoutSeccomp,
    #[error(transparent)]
    SeccompProfile(#[from] OperatorError),
    #[error("a List without items: no profile to read")]
    EmptyList,
    #[error(
        "items[{index}] is {}, not a SeccompProfile; a List must hold SeccompProfile objects only",
        kind_text(kind)
    )]
    ListItemNotSeccompProfile { index: usize, kind: Option<String> },
    #[error("items[{index}]: {why}")]
    ListItem { index: usize, why: OperatorError },
    #[error("no defaultAction or syscalls at the top level")]
    Nothing,
    #[error(
        "a List of {count} SeccompProfile objects, but this command takes one profile; put the one you mean in a \
         file of its own (`trapline lint` reads them all)"
    )]
    Several { count: usize },
}

/// What is wrong with a Security Profiles Operator object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    #[error("a Security Profiles Operator object that is not of kind SeccompProfile")]
    NotSeccompProfile,
    #[error("a SeccompProfile whose apiVersion is not under {SPO_GROUP} (the Security Profiles Operator's)")]
    ForeignApiVersion,
    #[error("a SeccompProfile without a spec object")]
    NoSpec,
}

fn kind_text(kind: &Option<String>) -> String {
    match kind {
        Some(kind) => format!("a {kind}"),
        None => "an object without a kind".to_string(),
    }
}

/// Every seccomp object in the document, in document order: one, except for a List.
pub fn locate(value: &Value) -> Result<Vec<Found<'_>>, LocateError> {
    let top = value.as_object().ok_or(LocateError::NotObject)?;
    let one = |form, segments: &[Segment], object| Ok(vec![Found { form, location: Location::at(segments), object }]);
    if top.contains_key("defaultAction") {
        return one(Form::Plain, &[], top);
    }
    if let Some(linux) = top.get("linux") {
        return match linux.get("seccomp").and_then(Value::as_object) {
            Some(seccomp) => one(Form::Bundle, &[Segment::Key("linux"), Segment::Key("seccomp")], seccomp),
            None => Err(LocateError::BundleWithoutSeccomp),
        };
    }
    if api_version(top).starts_with(SPO_GROUP) || kind(top) == Some("SeccompProfile") {
        return one(Form::SeccompProfile, &[Segment::Key("spec")], operator_spec(top)?);
    }
    if kind(top) == Some("List") {
        return list_items(top);
    }
    // Kept for lint's sake (rule 5 above): it reports what is missing instead of refusing the file.
    if top.contains_key("syscalls") {
        return one(Form::Plain, &[], top);
    }
    Err(LocateError::Nothing)
}

/// The document's one seccomp object, for the commands that use a single profile.
pub fn locate_one(value: &Value) -> Result<Found<'_>, LocateError> {
    let mut found = locate(value)?;
    match found.len() {
        1 => Ok(found.remove(0)),
        count => Err(LocateError::Several { count }),
    }
}

/// The items of a List, each of which must be an operator SeccompProfile.
fn list_items(top: &Map<String, Value>) -> Result<Vec<Found<'_>>, LocateError> {
    let items = top.get("items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        return Err(LocateError::EmptyList);
    }
    let mut found = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Some(item) = list_item(index, item) else {
            let kind = items[index].get("kind").and_then(Value::as_str).map(str::to_string);
            return Err(LocateError::ListItemNotSeccompProfile { index, kind });
        };
        found.push(item?);
    }
    Ok(found)
}

/// The SeccompProfile that is item `index` of a List, or `None` when the item is something else (a manifest
/// may hold workloads beside profiles).
pub fn list_item(index: usize, item: &Value) -> Option<Result<Found<'_>, LocateError>> {
    let item = item.as_object().filter(|item| kind(item) == Some("SeccompProfile"))?;
    let location = Location::at(&[Segment::Key("items"), Segment::Index(index), Segment::Key("spec")]);
    Some(
        operator_spec(item)
            .map(|object| Found { form: Form::ListItem, location, object })
            .map_err(|why| LocateError::ListItem { index, why }),
    )
}

/// The `spec` of a Security Profiles Operator SeccompProfile, checked as the operator's.
fn operator_spec(object: &Map<String, Value>) -> Result<&Map<String, Value>, OperatorError> {
    if kind(object) != Some("SeccompProfile") {
        return Err(OperatorError::NotSeccompProfile);
    }
    if !api_version(object).starts_with(SPO_GROUP) {
        return Err(OperatorError::ForeignApiVersion);
    }
    object.get("spec").and_then(Value::as_object).ok_or(OperatorError::NoSpec)
}

fn api_version(object: &Map<String, Value>) -> &str {
    object.get("apiVersion").and_then(Value::as_str).unwrap_or_default()
}

fn kind(object: &Map<String, Value>) -> Option<&str> {
    object.get("kind").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spo(spec: Value) -> Value {
        json!({"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile", "spec": spec})
    }

    /// (form, pointer) of everything found.
    fn places(value: &Value) -> Result<Vec<(Form, String)>, LocateError> {
        Ok(locate(value)?.into_iter().map(|f| (f.form, f.location.pointer())).collect())
    }

    #[test]
    fn each_form_is_found_at_its_location() {
        let profile = json!({"defaultAction": "SCMP_ACT_ERRNO"});
        assert_eq!(places(&profile), Ok(vec![(Form::Plain, String::new())]));
        let bundle = json!({"ociVersion": "1.1.0", "linux": {"seccomp": profile}});
        assert_eq!(places(&bundle), Ok(vec![(Form::Bundle, "/linux/seccomp".to_string())]));
        assert_eq!(places(&spo(profile.clone())), Ok(vec![(Form::SeccompProfile, "/spec".to_string())]));
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [spo(profile.clone()), spo(json!({}))]});
        assert_eq!(
            places(&list),
            Ok(vec![(Form::ListItem, "/items/0/spec".to_string()), (Form::ListItem, "/items/1/spec".to_string())])
        );
        // Lint's bare `syscalls`, kept on purpose.
        assert_eq!(places(&json!({"syscalls": []})), Ok(vec![(Form::Plain, String::new())]));
    }

    #[test]
    fn the_object_found_is_the_one_at_the_pointer() {
        let list = json!({"kind": "List", "items": [spo(json!({"defaultAction": "SCMP_ACT_LOG"}))]});
        let found = locate_one(&list).unwrap();
        assert_eq!(list.pointer(&found.location.pointer()).and_then(Value::as_object), Some(found.object));
    }

    #[test]
    fn a_list_of_two_is_refused_where_one_is_needed() {
        let list = json!({"kind": "List", "items": [spo(json!({})), spo(json!({}))]});
        assert_eq!(locate_one(&list).unwrap_err(), LocateError::Several { count: 2 });
        let err = LocateError::Several { count: 2 }.to_string();
        assert!(err.starts_with("a List of 2 SeccompProfile objects") && !err.contains('\n'), "{err}");
        let one = json!({"kind": "List", "items": [spo(json!({}))]});
        assert_eq!(locate_one(&one).map(|f| f.location.pointer()), Ok("/items/0/spec".to_string()));
    }

    #[test]
    fn a_list_item_that_is_not_a_seccomp_profile_is_refused() {
        let list = json!({"kind": "List", "items": [spo(json!({})), {"apiVersion": "v1", "kind": "ConfigMap"}]});
        let err = locate(&list).unwrap_err();
        assert_eq!(err, LocateError::ListItemNotSeccompProfile { index: 1, kind: Some("ConfigMap".to_string()) });
        assert_eq!(
            err.to_string(),
            "items[1] is a ConfigMap, not a SeccompProfile; a List must hold SeccompProfile objects only"
        );
        let list = json!({"kind": "List", "items": [3]});
        assert!(locate(&list).unwrap_err().to_string().starts_with("items[0] is an object without a kind"));
        let foreign =
            json!({"kind": "List", "items": [{"apiVersion": "example.com/v1", "kind": "SeccompProfile", "spec": {}}]});
        assert_eq!(
            locate(&foreign).unwrap_err(),
            LocateError::ListItem { index: 0, why: OperatorError::ForeignApiVersion }
        );
        assert_eq!(locate(&json!({"kind": "List", "items": []})).unwrap_err(), LocateError::EmptyList);
    }

    #[test]
    fn operator_objects_need_the_group_the_kind_and_a_spec() {
        let foreign = json!({"apiVersion": "example.com/v1", "kind": "SeccompProfile", "spec": {}});
        assert_eq!(locate(&foreign).unwrap_err(), OperatorError::ForeignApiVersion.into());
        let other = json!({"apiVersion": "security-profiles-operator.x-k8s.io/v1", "kind": "ProfileBinding"});
        assert_eq!(locate(&other).unwrap_err(), OperatorError::NotSeccompProfile.into());
        let no_spec = json!({"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile"});
        assert_eq!(locate(&no_spec).unwrap_err(), OperatorError::NoSpec.into());
    }

    #[test]
    fn documents_without_a_profile_say_why() {
        assert_eq!(locate(&json!([])).unwrap_err(), LocateError::NotObject);
        assert_eq!(locate(&json!({"linux": {}})).unwrap_err(), LocateError::BundleWithoutSeccomp);
        assert_eq!(locate(&json!({"hello": 1})).unwrap_err(), LocateError::Nothing);
    }
}
