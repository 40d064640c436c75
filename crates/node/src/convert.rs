//! JSON values between the crate's serde shapes (`snake_case` keys) and JavaScript's
//! (`camelCase` keys).

use serde_json::{Map, Value};

/// A value of the crate as JavaScript data: serialized, keys in camelCase.
pub(crate) fn to_json(value: &impl serde::Serialize) -> Value {
    camel_keys(serde_json::to_value(value).unwrap_or_default())
}

/// `value` with every object key turned into camelCase (`log_lines` → `logLines`).
pub(crate) fn camel_keys(value: Value) -> Value {
    rename_keys(value, &camel)
}

/// `value` with every object key turned into snake_case (`maxAttempts` → `max_attempts`).
pub(crate) fn snake_keys(value: Value) -> Value {
    rename_keys(value, &snake)
}

/// Fields whose value is a map of data (package names, variable names): their own keys are
/// left as they are.
const DATA_MAPS: &[&str] = &["dependencies", "env"];

fn rename_keys(value: Value, rename: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| {
                    let value = if DATA_MAPS.contains(&key.as_str()) {
                        value
                    } else {
                        rename_keys(value, rename)
                    };
                    (rename(&key), value)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| rename_keys(v, rename)).collect())
        }
        other => other,
    }
}

fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
