//! Which members of a JSON merge patch (RFC 7396) another writer changed.

use serde_json::Value;

/// The members `patch` sets whose values differ between `base` (the state
/// the patch was written against) and `current`, as `/`-separated paths,
/// sorted. Empty: the patch means the same on `current` as on `base`, and
/// may be sent again with `current`'s tag. A patch that is not an object
/// replaces the whole representation: any change conflicts, and is named
/// by the empty path.
pub(crate) fn changed_members(patch: &Value, base: &Value, current: &Value) -> Vec<String> {
    let mut changed = Vec::new();
    walk(patch, base, current, &mut String::new(), &mut changed);
    changed.sort();
    changed
}

fn walk(
    patch: &Value,
    base: &Value,
    current: &Value,
    path: &mut String,
    changed: &mut Vec<String>,
) {
    let Value::Object(members) = patch else {
        if base != current {
            changed.push(path.clone());
        }
        return;
    };
    for (name, set) in members {
        let (was, is) = (member(base, name), member(current, name));
        let len = path.len();
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(name);
        match (set, was, is) {
            // A nested patch: only the members it sets count.
            (Value::Object(_), Value::Object(_), Value::Object(_)) => {
                walk(set, was, is, path, changed);
            }
            _ if was != is => changed.push(path.clone()),
            _ => {}
        }
        path.truncate(len);
    }
}

/// `value`'s member `name`; a missing member reads as `null`, as merge
/// patch treats it.
fn member<'a>(value: &'a Value, name: &str) -> &'a Value {
    value.get(name).unwrap_or(&Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_members_the_patch_sets_count() {
        let base = json!({"title": "a", "body": "x", "meta": {"lang": "en", "n": 1}});
        let current = json!({"title": "a", "body": "y", "meta": {"lang": "en", "n": 2}});
        assert!(changed_members(&json!({"title": "b"}), &base, &current).is_empty());
        assert_eq!(
            changed_members(&json!({"body": "z"}), &base, &current),
            ["body"]
        );
        assert!(changed_members(&json!({"meta": {"lang": "fr"}}), &base, &current).is_empty());
        assert_eq!(
            changed_members(&json!({"meta": {"n": 5}, "body": null}), &base, &current),
            ["body", "meta/n"]
        );
    }

    #[test]
    fn a_member_that_appears_or_goes_is_a_change() {
        let base = json!({"tags": null});
        let current = json!({"tags": "x"});
        assert_eq!(
            changed_members(&json!({"tags": "y"}), &base, &current),
            ["tags"]
        );
        assert_eq!(
            changed_members(&json!({"tags": "y"}), &json!({}), &json!({"tags": null})),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_patch_that_is_not_an_object_conflicts_with_any_change() {
        let (base, current) = (json!({"a": 1}), json!({"a": 2}));
        assert_eq!(changed_members(&json!([1]), &base, &current), [""]);
        assert!(changed_members(&json!([1]), &base, &base).is_empty());
    }
}
