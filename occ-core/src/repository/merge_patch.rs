//! JSON Merge Patch (RFC 7396).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::error::RepositoryError;
use crate::versioned::Versioned;

/// Applies `patch` to `target` in place, by the algorithm of RFC 7396 §2
/// (MP-2): an object patch merges member by member, `null` removes a member,
/// anything else replaces the target wholesale (arrays included).
///
/// ```
/// use serde_json::json;
///
/// let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
/// occ_core::repository::apply_merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
/// assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
/// ```
pub fn apply_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(object) = target {
        for (name, value) in members {
            if value.is_null() {
                object.remove(name);
            } else {
                apply_merge_patch(object.entry(name.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Applies a merge patch to a model (MP-4, PATCH-2): serializes `current`,
/// patches it, and deserializes the result, which validates it. A patch that
/// would change the id or the version is refused, and so is a patch that
/// sets a member the model does not keep (an unknown field, or a version
/// kept out of the representation): applying only part of a patch is not
/// applying it (RFC 5789 §2).
pub fn merge_patch_model<M>(current: &M, patch: &Value) -> Result<M, RepositoryError<M>>
where
    M: Versioned + Serialize + DeserializeOwned,
{
    let invalid = |why: String| RepositoryError::Invalid(why);
    let mut doc = serde_json::to_value(current).map_err(|e| invalid(e.to_string()))?;
    // A model may keep its version out of its representation (the ETag
    // carries it): then the round trip loses it, and a patch cannot touch it.
    let version_serialized = serde_json::from_value::<M>(doc.clone())
        .is_ok_and(|same| same.version() == current.version());
    apply_merge_patch(&mut doc, patch);
    if !doc.is_object() {
        return Err(invalid("a merge patch must be a JSON object".into()));
    }
    let mut patched: M = serde_path_to_error::deserialize(doc).map_err(|e| invalid(named(&e)))?;
    let kept = serde_json::to_value(&patched).map_err(|e| invalid(e.to_string()))?;
    if let Some(member) = dropped_member(patch, &kept) {
        return Err(invalid(format!(
            "the patch sets `{member}`, which this resource does not have (unknown members, \
             and a version carried by the ETag, cannot be patched)"
        )));
    }
    if !version_serialized {
        patched.set_version(current.version());
    } else if patched.version() != current.version() {
        return Err(invalid("the version cannot be changed by a patch".into()));
    }
    // The entity tag binds the id (design decision 7, docs/design.md) and its encoding is
    // injective, so comparing tags at one version compares ids without
    // asking `M::Id` for `PartialEq`.
    let version = current.version();
    if M::entity_tag_for(patched.id(), version) != M::entity_tag_for(current.id(), version) {
        return Err(invalid("the id cannot be changed by a patch".into()));
    }
    Ok(patched)
}

/// The first member the patch sets (not to `null`) that is missing from
/// `kept`, as a dotted path.
fn dropped_member(patch: &Value, kept: &Value) -> Option<String> {
    let (Value::Object(members), Value::Object(kept)) = (patch, kept) else {
        return None;
    };
    members
        .iter()
        .find_map(|(name, value)| match (value, kept.get(name)) {
            (Value::Null, _) => None,
            (_, None) => Some(name.clone()),
            (Value::Object(_), Some(inner)) => {
                dropped_member(value, inner).map(|path| format!("{name}.{path}"))
            }
            _ => None,
        })
}

/// A deserialization error with the member it happened at (`pages:
/// invalid type: string "x", expected i64`), so that a 422 names it.
pub(crate) fn named(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    match error.path().to_string().as_str() {
        "." => error.inner().to_string(),
        path => format!("`{path}`: {}", error.inner()),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Profile {
        id: u32,
        #[serde(skip)]
        version: u64,
        name: String,
        address: Address,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Address {
        city: String,
    }

    crate::testing::versioned_by_id!(Profile);

    fn ava() -> Profile {
        Profile {
            id: 42,
            version: 7,
            name: "Ava".into(),
            address: Address {
                city: "Paris".into(),
            },
        }
    }

    fn refused(patch: serde_json::Value) -> String {
        match merge_patch_model(&ava(), &patch) {
            Err(RepositoryError::Invalid(why)) => why,
            other => panic!("{patch} was not refused: {other:?}"),
        }
    }

    #[test]
    fn patch_2_applies_and_keeps_the_version() {
        let patched = merge_patch_model(&ava(), &json!({"address": {"city": "Lyon"}})).unwrap();
        assert_eq!(patched.address.city, "Lyon");
        assert_eq!(patched.version, 7);
    }

    #[test]
    fn patch_2_unknown_members_are_refused_not_dropped() {
        assert!(refused(json!({"name": "Eve", "role": "admin"})).contains("`role`"));
        assert!(refused(json!({"address": {"zip": "75001"}})).contains("`address.zip`"));
    }

    #[test]
    fn patch_2_a_version_outside_the_representation_cannot_be_patched() {
        assert!(refused(json!({"version": 99})).contains("`version`"));
    }

    #[test]
    fn patch_2_the_id_cannot_be_patched() {
        assert!(refused(json!({"id": 43})).contains("id"));
    }

    #[test]
    fn mp_2_a_non_object_patch_is_refused() {
        refused(json!(["a"]));
    }
}
