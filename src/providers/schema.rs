//! Checking a JSON document against a provider's published field list: every key of every
//! object must be one the provider documents. For the unit tests and the conformance suite;
//! the documents we write are typed, so this guards the types against drifting from the docs.

use serde_json::Value;

/// Adds a problem for each key of `object` not in `allowed` (or for `object` not being an
/// object), naming `what` it is.
pub fn keys_in(object: &Value, allowed: &[&str], what: &str, problems: &mut Vec<String>) {
    let Some(object) = object.as_object() else {
        problems.push(format!("{what} is not an object: {object}"));
        return;
    };
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            problems.push(format!("`{key}` is not a documented field of {what}"));
        }
    }
}

/// The array a document must be, or a problem saying it is not.
pub fn array<'a>(doc: &'a Value, what: &str, problems: &mut Vec<String>) -> &'a [Value] {
    match doc.as_array() {
        Some(items) => items,
        None => {
            problems.push(format!("{what} is not an array: {doc}"));
            &[]
        }
    }
}
