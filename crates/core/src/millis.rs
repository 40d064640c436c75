//! Durations in JSON as whole milliseconds (`#[serde(with = "crate::millis")]`).

use std::time::Duration;

use serde::Serializer;

pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
