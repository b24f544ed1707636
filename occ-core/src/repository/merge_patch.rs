//! JSON Merge Patch (RFC 7396).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::RepositoryError;
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
/// would change the id or the version is refused.
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
    let mut patched: M = serde_json::from_value(doc).map_err(|e| invalid(e.to_string()))?;
    if !version_serialized {
        patched.set_version(current.version());
    } else if patched.version() != current.version() {
        return Err(invalid("the version cannot be changed by a patch".into()));
    }
    // The entity tag binds the id (DESIGN decision 7) and its encoding is
    // injective, so comparing tags at one version compares ids without
    // asking `M::Id` for `PartialEq`.
    let version = current.version();
    if M::entity_tag_for(patched.id(), version) != M::entity_tag_for(current.id(), version) {
        return Err(invalid("the id cannot be changed by a patch".into()));
    }
    Ok(patched)
}
