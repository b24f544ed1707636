//! Request bodies as JSON: parsed, with whole numbers read as integers,
//! completed with the members the URL and the server own, and read as the
//! model (400 for what is not JSON, 422 for what is not a resource).

use http::StatusCode;
use occ_core::{VersionNumber, Versioned};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::problem::Problem;

/// Parses JSON text: anything that is not one JSON value is 400.
pub(super) fn parse_value(bytes: &[u8]) -> Result<Value, Problem> {
    let mut value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(StatusCode::BAD_REQUEST)
            .with_detail(format!("the body is not valid JSON: {e}"))
    })?;
    whole_numbers(&mut value);
    Ok(value)
}

/// Takes a number written with a fraction or an exponent that is a whole
/// number (`42.0`, `1e3`) as the integer it is, as JSON Schema does, so
/// that an integer member accepts it (a float member accepts the integer
/// all the same). Only within ±2^53, where a float holds every integer
/// (RFC 8259 §6): beyond, one float stands for several integers, and such
/// a number is left for the model to refuse.
pub(super) fn whole_numbers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            const EXACT: f64 = 9_007_199_254_740_992.0;
            let Some(float) = number.as_f64().filter(|_| number.is_f64()) else {
                return;
            };
            if float.fract() == 0.0 && (-EXACT..=EXACT).contains(&float) {
                *value = Value::from(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(members) => members.values_mut().for_each(whole_numbers),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// Reads a model from valid JSON: a value of the wrong shape is 422.
pub(super) fn model_from<M: DeserializeOwned>(value: Value) -> Result<M, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e: serde_path_to_error::Error<_>| {
        // The member it failed at, where it was one: `pages: invalid type …`.
        let why = match e.path().to_string().as_str() {
            "." => e.inner().to_string(),
            path => format!("`{path}`: {}", e.inner()),
        };
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(format!(
            "the body does not describe a valid resource: {why}"
        ))
    })
}

/// A JSON object of members to merge (PUT in merge mode).
pub(super) fn require_object(members: Value) -> Result<Value, Problem> {
    if members.is_object() {
        Ok(members)
    } else {
        Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
            .with_detail("the body must be a JSON object"))
    }
}

pub(super) fn id_differs() -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
        .with_detail("the id in the body differs from the id in the URL")
}

/// The version a new representation gets, as JSON.
pub(super) fn initial_version<M: Versioned>() -> Option<Value> {
    M::Version::INITIAL.to_i64().map(Value::from)
}

/// Completes a whole representation sent for the resource at `id`: the
/// URL names the resource, so the body need not repeat its id, and the
/// server owns the version, so the body need not carry one. Only members
/// the derive could name are filled; otherwise the body must be complete
/// (and the version it carries is ignored all the same).
pub(super) fn fill_owned_members<M: Versioned>(value: &mut Value, id: &M::Id)
where
    M::Id: Serialize,
{
    let Value::Object(object) = value else {
        return;
    };
    if let Some(member) = M::MEMBERS.id {
        if !object.contains_key(member) {
            if let Ok(id) = serde_json::to_value(id) {
                object.insert(member.to_owned(), id);
            }
        }
    }
    if let (Some(member), Some(version)) = (M::MEMBERS.version, initial_version::<M>()) {
        object.entry(member).or_insert(version);
    }
}

/// The whole representation from a PUT body, for the resource at `id`.
pub(super) fn model_for_put<M>(value: Value, id: &M::Id) -> Result<M, Problem>
where
    M: Versioned + DeserializeOwned,
    M::Id: Serialize,
{
    let mut value = value;
    fill_owned_members::<M>(&mut value, id);
    let model: M = model_from(value)?;
    if model.id() == id {
        Ok(model)
    } else {
        Err(id_differs())
    }
}

/// Members to merge into the resource at `id` (PATCH, merging PUT): an id
/// among them must be the URL's (422 otherwise) and is then dropped, since
/// it changes nothing. A `null` id is left for the merge to refuse (a
/// patch cannot remove the id).
pub(super) fn members_for<M>(patch: Value, id: &M::Id) -> Result<Value, Problem>
where
    M: Versioned,
    M::Id: DeserializeOwned,
{
    let Some(member) = M::MEMBERS.id else {
        return Ok(patch);
    };
    let Value::Object(mut members) = patch else {
        return Ok(patch);
    };
    match members.get(member) {
        None | Some(Value::Null) => {}
        Some(given) => match M::Id::deserialize(given) {
            Ok(given) if &given == id => {
                members.remove(member);
            }
            Ok(_) => return Err(id_differs()),
            Err(e) => {
                return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY)
                    .with_detail(format!("the id in the body is not valid: {e}")))
            }
        },
    }
    Ok(Value::Object(members))
}
