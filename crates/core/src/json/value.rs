//! Deep `serde_json::Value`s without recursion.
//!
//! Recovered values may nest 100 000 levels deep. `serde_json`'s drop, serialization and
//! comparison recurse once per level and would overflow the stack, so selfheal dismantles,
//! writes and compares values with explicit stacks.

use serde_json::Value;

/// Drops a value of any depth without recursion.
pub fn drop_deep(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
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

enum Pending<'a> {
    Value(&'a Value),
    Raw(&'static str),
    Key(&'a str),
    Newline(usize),
}

fn write(value: &Value, indent: Option<&str>) -> String {
    let mut out = String::new();
    let mut stack = vec![Pending::Value(value)];
    // Depth of the value being written, for indentation.
    let mut depth: usize = 0;
    while let Some(item) = stack.pop() {
        match item {
            Pending::Raw(text) => {
                if text == "]" || text == "}" {
                    depth = depth.saturating_sub(1);
                }
                out.push_str(text);
            }
            Pending::Newline(level) => {
                if let Some(unit) = indent {
                    out.push('\n');
                    for _ in 0..level {
                        out.push_str(unit);
                    }
                }
            }
            Pending::Key(key) => {
                push_string(&mut out, key);
                out.push_str(if indent.is_some() { ": " } else { ":" });
            }
            Pending::Value(value) => match value {
                Value::Array(items) if items.is_empty() => out.push_str("[]"),
                Value::Object(map) if map.is_empty() => out.push_str("{}"),
                Value::Array(items) => {
                    out.push('[');
                    depth += 1;
                    stack.push(Pending::Raw("]"));
                    stack.push(Pending::Newline(depth - 1));
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push(Pending::Value(item));
                        stack.push(Pending::Newline(depth));
                        if i > 0 {
                            stack.push(Pending::Raw(","));
                        }
                    }
                }
                Value::Object(map) => {
                    out.push('{');
                    depth += 1;
                    stack.push(Pending::Raw("}"));
                    stack.push(Pending::Newline(depth - 1));
                    let entries: Vec<(&String, &Value)> = map.iter().collect();
                    for (i, (key, value)) in entries.into_iter().enumerate().rev() {
                        stack.push(Pending::Value(value));
                        stack.push(Pending::Key(key));
                        stack.push(Pending::Newline(depth));
                        if i > 0 {
                            stack.push(Pending::Raw(","));
                        }
                    }
                }
                Value::String(text) => push_string(&mut out, text),
                other => out.push_str(&other.to_string()),
            },
        }
    }
    out
}

fn push_string(out: &mut String, text: &str) {
    // A string has no nesting: serde_json writes it without recursion.
    out.push_str(&Value::String(text.to_string()).to_string());
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
        let value = json!({"a": [1, 2.5, "x\n\"y\""], "b": {}, "c": [], "d": null, "e": true});
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
