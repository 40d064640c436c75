//! `parse`, `recoverJson` and [`Diagnostic`].

use std::sync::{Arc, LazyLock, Mutex, PoisonError, mpsc};

use napi::bindgen_prelude::{Buffer, Either, Function};
use napi_derive::napi;
use selfheal::ErrorKind;
use selfheal::json::{self, Hint};
use selfheal::parse::{ParserSet, PatternSpec, WholeLogParser};
use serde_json::Value;

use crate::convert::{snake_keys, to_json};
use crate::errors::{self, Result};

/// The default parsers, built once: `parse` on a short log costs a lookup, not a build.
static DEFAULT_PARSERS: LazyLock<ParserSet> = LazyLock::new(ParserSet::new);

/// One error or warning found in a build log.
#[napi]
#[derive(Clone)]
pub struct Diagnostic {
    pub(crate) inner: selfheal::Diagnostic,
}

#[napi]
impl Diagnostic {
    /// A diagnostic from the fields of `toJSON()`; `message` is required, the rest default
    /// (tool `custom`, category `unknown`, severity `error`).
    #[napi(
        factory,
        js_name = "fromJSON",
        configurable = true,
        writable = true,
        ts_args_type = "fields: DiagnosticFields"
    )]
    pub fn from_json(fields: Value) -> Result<Diagnostic> {
        Ok(Diagnostic {
            inner: diagnostic_from(fields, "custom")?,
        })
    }

    /// The tool that reported it (`tsc`, `rustc`, `pytest`, …).
    #[napi(getter)]
    pub fn tool(&self) -> String {
        self.inner.tool.clone()
    }

    /// The family of the error.
    #[napi(getter, ts_return_type = "Category")]
    pub fn category(&self) -> String {
        self.inner.category.to_string()
    }

    /// The finer class (`missing_package`, `type_mismatch`, …).
    #[napi(getter)]
    pub fn subcategory(&self) -> String {
        self.inner.subcategory.to_string()
    }

    /// How bad it is.
    #[napi(getter, ts_return_type = "Severity")]
    pub fn severity(&self) -> String {
        self.inner.severity.to_string()
    }

    /// The tool's code (`TS2322`, `E0308`, `F401`), if any.
    #[napi(getter)]
    pub fn code(&self) -> Option<String> {
        self.inner.code.clone()
    }

    /// The message, without location or severity.
    #[napi(getter)]
    pub fn message(&self) -> String {
        self.inner.message.clone()
    }

    /// The file, relative to the project root when it is inside it.
    #[napi(getter)]
    pub fn file(&self) -> Option<String> {
        self.inner.file.clone()
    }

    /// 1-based line.
    #[napi(getter)]
    pub fn line(&self) -> Option<u32> {
        self.inner.line
    }

    /// 1-based column.
    #[napi(getter)]
    pub fn column(&self) -> Option<u32> {
        self.inner.column
    }

    /// Last line of the span, when the tool gives one.
    #[napi(getter)]
    pub fn end_line(&self) -> Option<u32> {
        self.inner.end_line
    }

    /// Last column of the span, when the tool gives one.
    #[napi(getter)]
    pub fn end_column(&self) -> Option<u32> {
        self.inner.end_column
    }

    /// The code frame the tool printed, if any.
    #[napi(getter)]
    pub fn snippet(&self) -> Option<String> {
        self.inner.snippet.clone()
    }

    /// Stack frames (innermost last, as printed), for runtime errors and test failures.
    #[napi(getter, ts_return_type = "StackFrame[]")]
    pub fn stack(&self) -> Value {
        to_json(&self.inner.stack)
    }

    /// Machine-applicable edits the tool suggested.
    #[napi(getter, ts_return_type = "Fixit[]")]
    pub fn fixits(&self) -> Value {
        to_json(&self.inner.fixits)
    }

    /// The tool's notes and help lines.
    #[napi(getter)]
    pub fn notes(&self) -> Vec<String> {
        self.inner.notes.clone()
    }

    /// What usually fixes this kind of error.
    #[napi(getter)]
    pub fn suggestions(&self) -> Vec<String> {
        self.inner.suggestions.clone()
    }

    /// How sure the classification is, 0 to 1.
    #[napi(getter)]
    pub fn confidence(&self) -> f64 {
        self.inner.confidence
    }

    /// The log lines it came from, `{ start, end }` (1-based, inclusive).
    #[napi(getter, ts_return_type = "{ start: number; end: number }")]
    pub fn log_lines(&self) -> Value {
        serde_json::to_value(self.inner.log_lines).unwrap_or_default()
    }

    /// A stable hash of what the error is (tool, code, normalized message, file), the same
    /// across runs and machines.
    #[napi(getter)]
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint.clone()
    }

    /// `file:line:column` (as much of it as is known).
    #[napi(getter)]
    pub fn location(&self) -> Option<String> {
        self.inner.location()
    }

    /// Every field, as a plain object (what `JSON.stringify` writes).
    #[napi(js_name = "toJSON", ts_return_type = "DiagnosticFields")]
    pub fn to_json(&self) -> Value {
        crate::convert::to_json(&self.inner)
    }
}

/// A diagnostic from a host's plain object: the fields given over those of an empty one from
/// `tool`.
pub(crate) fn diagnostic_from(fields: Value, tool: &str) -> Result<selfheal::Diagnostic> {
    selfheal::Diagnostic::from_fields(snake_keys(fields), tool).map_err(errors::to_js)
}

/// Options of [`parse`].
#[napi(object)]
pub struct ParseOptions {
    /// Formats to add for this call: patterns (`name`, `regex` with named groups, `category`,
    /// …, as `selfheal parse --patterns` takes them) or objects with `parse(log)`.
    #[napi(ts_type = "Array<CustomFormat | HostParser>")]
    pub custom_formats: Option<Vec<Value>>,
    /// The project root: paths inside it are reported relative to it.
    pub root: Option<String>,
}

/// Parses a build or test log into diagnostics, errors first, root causes before cascades.
///
/// `log` is the tool output (a string or a `Buffer`; colors, `\r` rewrites and invalid UTF-8
/// are handled). `hosts` are parsers written in JavaScript (`index.js` passes them): each is
/// called with the whole cleaned log and returns its diagnostics as JSON.
#[napi(
    ts_args_type = "log: string | Buffer, options?: ParseOptions | null, hosts?: Array<(log: string) => string> | null, hostNames?: string[] | null"
)]
pub fn parse(
    log: Either<String, Buffer>,
    options: Option<ParseOptions>,
    hosts: Option<Vec<Function<'_, String, String>>>,
    host_names: Option<Vec<String>>,
) -> Result<Vec<Diagnostic>> {
    let bytes: &[u8] = match &log {
        Either::A(text) => text.as_bytes(),
        Either::B(buffer) => buffer,
    };
    let custom = match options {
        Some(options) => parsers_from(options)?,
        None => None,
    };
    let hosts = hosts.unwrap_or_default();
    let found = if hosts.is_empty() {
        custom.as_ref().unwrap_or(&*DEFAULT_PARSERS).parse(bytes)
    } else {
        let parsers = custom.unwrap_or_else(|| DEFAULT_PARSERS.clone());
        parse_with_hosts(parsers, bytes, &hosts, host_names.unwrap_or_default())?
    };
    Ok(found
        .into_iter()
        .map(|inner| Diagnostic { inner })
        .collect())
}

/// A request from a parse in progress to a JavaScript parser: its index, the cleaned log, and
/// where the JSON answer goes.
type HostCall = (usize, String, mpsc::SyncSender<String>);

/// Parses on a helper thread while this (the JavaScript) thread answers the JavaScript
/// parsers' calls: their functions can only be called here.
fn parse_with_hosts(
    mut parsers: ParserSet,
    log: &[u8],
    hosts: &[Function<'_, String, String>],
    names: Vec<String>,
) -> Result<Vec<selfheal::Diagnostic>> {
    let (calls, requests) = mpsc::channel::<HostCall>();
    let failure = Arc::new(Mutex::new(None));
    for index in 0..hosts.len() {
        let name = names.get(index).cloned().unwrap_or_else(|| "custom".into());
        let (calls, failure) = (calls.clone(), failure.clone());
        let tool = name.clone();
        parsers.add(Arc::new(WholeLogParser::new(name, move |log| {
            let (answer, answered) = mpsc::sync_channel(1);
            if calls.send((index, log.to_string(), answer)).is_err() {
                return Vec::new();
            }
            let found = answered
                .recv()
                .map_err(|_| errors::config("the parser did not answer"))
                .and_then(|json| {
                    serde_json::from_str::<Vec<Value>>(&json).map_err(|e| {
                        errors::config(format!("{tool}.parse must return an array of objects: {e}"))
                    })
                })
                .and_then(|found| {
                    found
                        .into_iter()
                        .map(|fields| diagnostic_from(fields, &tool))
                        .collect()
                });
            found.unwrap_or_else(|error| {
                failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(error);
                Vec::new()
            })
        })));
    }
    drop(calls);
    let found = std::thread::scope(|scope| {
        // The parsers (and the senders in them) go with the helper: when it is done, the
        // requests end.
        let parsing = scope.spawn(move || parsers.parse(log));
        for (index, log, answer) in requests {
            let json = hosts[index].call(log).unwrap_or_else(|error| {
                failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(error);
                "[]".into()
            });
            let _ = answer.send(json);
        }
        parsing.join()
    })
    .map_err(|_| errors::of_kind(ErrorKind::Io, "the parse stopped"))?;
    let failure = failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    failure.map_or(Ok(found), Err)
}

/// The parsers `options` ask for, or `None` for the defaults.
fn parsers_from(options: ParseOptions) -> Result<Option<ParserSet>> {
    let formats = options.custom_formats.unwrap_or_default();
    if formats.is_empty() && options.root.is_none() {
        return Ok(None);
    }
    let mut parsers = ParserSet::new();
    for format in formats {
        let spec: PatternSpec = serde_json::from_value(snake_keys(format))
            .map_err(|e| errors::config(format!("invalid custom format: {e}")))?;
        parsers.add_pattern(spec).map_err(errors::to_js)?;
    }
    if let Some(root) = options.root {
        let mut parse_options = parsers.options().clone();
        parse_options.root = Some(root);
        parsers = parsers.with_options(parse_options);
    }
    Ok(Some(parsers))
}

/// What `recoverJson` found: the value, how, and what had to be repaired.
#[napi(object)]
pub struct Recovered {
    /// The recovered object or array.
    pub value: Value,
    /// `strict`, `repaired`, `extracted` or `truncated`.
    #[napi(ts_type = "'strict' | 'repaired' | 'extracted' | 'truncated'")]
    pub stage: String,
    /// The repairs made, each `{ kind, count, firstOffset }`.
    #[napi(ts_type = "Array<{ kind: string; count: number; firstOffset: number }>")]
    pub repairs: Value,
    /// Byte offsets `[start, end)` of the JSON in the text.
    pub span: Vec<u32>,
}

/// Options of [`recover_json`].
#[napi(object)]
pub struct RecoverOptions {
    /// Picks the value when the text holds several: `'fix'` (an object with `analysis` and
    /// `fixes`) or the keys the object must have. By default, the first value.
    #[napi(ts_type = "'fix' | string[]")]
    pub schema: Option<Either<String, Vec<String>>>,
}

/// Recovers the JSON in an LLM reply: fenced, wrapped in prose, cut off or subtly invalid.
/// Throws `E_JSON_NOT_FOUND` when the text holds no JSON object or array, `E_JSON_TOO_DEEP`
/// when the value nests deeper than 128 levels.
#[napi]
pub fn recover_json(text: String, options: Option<RecoverOptions>) -> Result<Recovered> {
    let hint = match options.and_then(|o| o.schema) {
        None => Hint::none(),
        Some(Either::A(name)) => Hint::named(&name).ok_or_else(|| {
            errors::config(format!(
                "unknown schema `{name}`: use 'fix' or a list of keys"
            ))
        })?,
        Some(Either::B(keys)) => Hint::keys(keys),
    };
    let recovered = json::recover(&text, &hint).map_err(|e| errors::of_kind(e.into(), e))?;
    if json::nests_deeper(&recovered.value, json::HOST_DEPTH) {
        json::drop_deep(recovered.into_value());
        return Err(errors::of_kind(
            ErrorKind::JsonTooDeep,
            format!("the value nests deeper than {} levels", json::HOST_DEPTH),
        ));
    }
    let repairs = to_json(&recovered.repairs);
    let stage = serde_json::to_value(recovered.stage)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let span = [recovered.span.start, recovered.span.end]
        .map(|offset| u32::try_from(offset).unwrap_or(u32::MAX))
        .to_vec();
    Ok(Recovered {
        value: recovered.into_value(),
        stage,
        repairs,
        span,
    })
}
