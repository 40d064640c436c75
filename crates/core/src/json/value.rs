//! Deep `serde_json::Value`s without recursion.
//!
//! Recovered values may nest 100 000 levels deep. `serde_json`'s drop, serialization and
//! comparison recurse once per level and would overflow the stack, so selfheal dismantles,
//! writes and compares values with explicit stacks.

use serde_json::Value;

/// The deepest value the Python and Node packages hand to their language: both convert values
/// recursively, so a recovered value nesting deeper is refused there
/// ([`ErrorKind::JsonTooDeep`](crate::ErrorKind::JsonTooDeep)) rather than risking the stack.
pub const HOST_DEPTH: usize = 128;

/// Whether `value` nests more than `limit` levels deep (a scalar is one level), checked
/// without recursion.
pub fn nests_deeper(value: &Value, limit: usize) -> bool {
    let mut pending = vec![(value, 1)];
    while let Some((value, depth)) = pending.pop() {
        if depth > limit {
            return true;
        }
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|item| (item, depth + 1))),
            Value::Object(fields) => pending.extend(fields.values().map(|item| (item, depth + 1))),
            _ => {}
        }
    }
    false
}

/// Drops a value of any depth without recursion, holding at most one container per level.
pub fn drop_deep(value: Value) {
    let mut stack = vec![value];
    while let Some(top) = stack.last_mut() {
        let child = match top {
            Value::Array(items) => items.pop(),
            Value::Object(map) => {
                // Objects give up their values as an array: members are dropped one by one.
                let values = std::mem::take(map).into_iter().map(|(_, v)| v).collect();
                *top = Value::Array(values);
                continue;
            }
            _ => None,
        };
        match child {
            Some(child) if has_children(&child) => stack.push(child),
            Some(_) => {}
            None => {
                stack.pop();
            }
        }
    }
}

fn has_children(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => false,
    }
}

/// Compact JSON text of a value of any depth.
pub fn to_string(value: &Value) -> String {
    write(value, None)
}

/// Indented JSON text (two spaces) of a value of any depth.
pub fn to_string_pretty(value: &Value) -> String {
    write(value, Some("  "))
}

/// A container being written: the members still to write.
enum Open<'a> {
    Array(std::slice::Iter<'a, Value>),
    Object(serde_json::map::Iter<'a>),
}

/// Writes with one iterator per open container: memory grows with depth, not with size.
fn write(value: &Value, indent: Option<&str>) -> String {
    let mut out = String::new();
    let mut open: Vec<(Open<'_>, bool)> = Vec::new();
    let mut next = Some(value);
    loop {
        if let Some(value) = next.take() {
            match value {
                Value::Array(items) if !items.is_empty() => {
                    out.push('[');
                    open.push((Open::Array(items.iter()), true));
                }
                Value::Object(map) if !map.is_empty() => {
                    out.push('{');
                    open.push((Open::Object(map.iter()), true));
                }
                Value::Array(_) => out.push_str("[]"),
                Value::Object(_) => out.push_str("{}"),
                Value::String(text) => push_string(&mut out, text),
                Value::Number(number) => out.push_str(&number.to_string()),
                Value::Bool(true) => out.push_str("true"),
                Value::Bool(false) => out.push_str("false"),
                Value::Null => out.push_str("null"),
            }
        }
        let depth = open.len();
        let Some((members, first)) = open.last_mut() else {
            return out;
        };
        let member = match members {
            Open::Array(items) => items.next().map(|v| (None, v)),
            Open::Object(entries) => entries.next().map(|(k, v)| (Some(k), v)),
        };
        match member {
            Some((key, value)) => {
                if !std::mem::replace(first, false) {
                    out.push(',');
                }
                newline(&mut out, indent, depth);
                if let Some(key) = key {
                    push_string(&mut out, key);
                    out.push_str(if indent.is_some() { ": " } else { ":" });
                }
                next = Some(value);
            }
            None => {
                let closer = match members {
                    Open::Array(_) => ']',
                    Open::Object(_) => '}',
                };
                open.pop();
                newline(&mut out, indent, depth - 1);
                out.push(closer);
            }
        }
    }
}

fn newline(out: &mut String, indent: Option<&str>, level: usize) {
    if let Some(unit) = indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(unit);
        }
    }
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn push_string(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let mut plain = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[plain..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{byte:04x}"));
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(&text[plain..]);
    out.push('"');
}

/// Structural equality of values of any depth; numbers compare as floats.
pub fn equal(a: &Value, b: &Value) -> bool {
    let mut stack = vec![(a, b)];
    while let Some((a, b)) = stack.pop() {
        match (a, b) {
            (Value::Null, Value::Null) => {}
            (Value::Bool(x), Value::Bool(y)) if x == y => {}
            (Value::String(x), Value::String(y)) if x == y => {}
            (Value::Number(x), Value::Number(y)) => {
                if x.as_f64() != y.as_f64() {
                    return false;
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                stack.extend(x.iter().zip(y));
            }
            (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
                for (key, value) in x {
                    match y.get(key) {
                        Some(other) => stack.push((value, other)),
                        None => return false,
                    }
                }
            }
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deep(levels: usize) -> Value {
        let mut value = json!(1);
        for i in 0..levels {
            value = if i % 2 == 0 {
                Value::Array(vec![value])
            } else {
                Value::Object(serde_json::Map::from_iter([("k".to_string(), value)]))
            };
        }
        value
    }

    #[test]
    fn writes_like_serde_json() {
        let value = json!({
            "a": [1, 2.5, "x\n\"y\"", -3, 1e300],
            "b": {},
            "c": [],
            "d": null,
            "e": true,
            "f": false,
            "g": {"h": [[], {}, [{"i": "\u{1}\u{8}\u{c}\t\r\\/é😀\u{1f}"}]]},
        });
        assert_eq!(to_string(&value), serde_json::to_string(&value).unwrap());
        assert_eq!(
            to_string_pretty(&value),
            serde_json::to_string_pretty(&value).unwrap()
        );
    }

    #[test]
    fn deep_values_are_written_compared_and_dropped_without_recursion() {
        let a = deep(200_000);
        let b = deep(200_000);
        assert!(equal(&a, &b));
        let text = to_string(&a);
        assert!(text.starts_with("{\"k\":[{\"k\":"));
        assert_eq!(text.len(), 100_000 * 2 + 100_000 * 6 + 1);
        drop_deep(a);
        drop_deep(b);
    }

    #[test]
    fn numbers_compare_as_floats() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(!equal(&json!({"a": 1}), &json!({"b": 1})));
        assert!(!equal(&json!([1, 2]), &json!([1])));
    }
}
