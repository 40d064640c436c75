//! [`NextAsyncProps`]: since Next.js 15 a page's, layout's, metadata function's and route
//! handler's `params` and `searchParams` are promises. Code written for Next 14 reads them as
//! plain objects, and the build's type check rejects the module (`Type 'Props' does not satisfy
//! the constraint 'PageProps'` … `'Promise<any>'`, or a route's `Type "{ params: … }" is not a
//! valid type for the function's second argument`).
//!
//! The module is rewritten as Next's own codemod (`next-async-request-api`) rewrites it: the
//! prop types wrapped in `Promise<…>`, each function that destructures them takes `props`,
//! becomes `async`, and awaits them first thing in its body — so every use of `params` in the
//! body reads the same values as before. The request APIs of `next/headers` (`cookies()`,
//! `headers()`, `draftMode()`) became promises too (`Property 'get' does not exist on type
//! 'Promise<ReadonlyRequestCookies>'`): their calls in exported functions are awaited.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::FixProposal;
use super::client_directive::is_client_module;
use super::edited::EditedFiles;
use super::fixer::{FixInput, Fixer, Safety};
use crate::{Diagnostic, Result, Severity};

/// Rewrites the functions of a Next.js module the type check rejected for reading `params` or
/// `searchParams` synchronously. A Client Component (`"use client"`) is left alone: it may not
/// be `async` (it would call React's `use`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NextAsyncProps;

/// The props Next.js passes as promises.
const ASYNC_PROPS: [&str; 2] = ["params", "searchParams"];

/// Exported functions looked at in one module: each may scan the rest of the module once for
/// its brackets, so the work stays linear in the module's size.
const MAX_FUNCTIONS: usize = 32;

#[async_trait::async_trait]
impl Fixer for NextAsyncProps {
    fn name(&self) -> &str {
        "next-async-props"
    }

    fn safety(&self) -> Safety {
        Safety::Likely
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        let workspace = input.workspace;
        let mut files = EditedFiles::new(workspace);
        for diagnostic in input.diagnostics.iter() {
            let rewrite: fn(&str) -> Option<String> = if reads_props_in_sync(diagnostic) {
                awaiting_props
            } else if reads_request_api_in_sync(diagnostic) {
                awaiting_request_apis
            } else {
                continue;
            };
            let Some(path) = (diagnostic.file.as_deref()).and_then(|f| workspace.relative(f))
            else {
                continue;
            };
            let Some(text) = files.text(&path)? else {
                continue;
            };
            if let Some(changed) = rewrite(&text) {
                files.change(
                    &path,
                    changed,
                    format!("{path}: what Next.js 15 passes as promises is awaited"),
                );
            }
        }
        Ok(files.into_proposal())
    }
}

/// Whether `diagnostic` is Next's type check rejecting props read as plain objects.
fn reads_props_in_sync(diagnostic: &Diagnostic) -> bool {
    static REJECTED: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r#"does not satisfy the constraint '(?:Page|Layout)Props'|is not a valid type for the function's second argument"#,
        )
        .ok()
    });
    let said = std::iter::once(&diagnostic.message)
        .chain(&diagnostic.notes)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    let about_props = ASYNC_PROPS
        .iter()
        .any(|prop| said.contains(&format!("'{prop}'")) || said.contains(&format!("{prop}:")));
    diagnostic.severity <= Severity::Error
        && about_props
        && REJECTED.as_ref().is_some_and(|r| r.is_match(&said))
}

/// Whether `diagnostic` is the type check rejecting a `next/headers` API used synchronously.
fn reads_request_api_in_sync(diagnostic: &Diagnostic) -> bool {
    static REJECTED: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(
            r"^Property '[\w$]+' does not exist on type 'Promise<(?:ReadonlyRequestCookies|ReadonlyHeaders|DraftMode)>'",
        )
        .ok()
    });
    diagnostic.severity <= Severity::Error
        && REJECTED
            .as_ref()
            .is_some_and(|r| r.is_match(&diagnostic.message))
}

/// The request APIs of `next/headers` that return promises since Next.js 15.
const REQUEST_APIS: [&str; 3] = ["cookies", "headers", "draftMode"];

/// `text` with each member access on a `next/headers` request API call (`cookies().get(…)`)
/// inside an exported function awaited (`(await cookies()).get(…)`), the function made `async`;
/// `None` when there is none, when one is outside an exported function's body, or in a Client
/// Component.
fn awaiting_request_apis(text: &str) -> Option<String> {
    static CALL: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"\b(cookies|headers|draftMode)\(\)\s*\.").ok());
    if is_client_module(text) || !text.contains("next/headers") {
        return None;
    }
    // (body range, where `async` goes when the function is not async)
    let mut bodies: Vec<(Range<usize>, Option<usize>)> = Vec::new();
    for function in exported_functions(text)? {
        let body = function.body?;
        bodies.push((body..closing(text, body)?, function.make_async));
    }
    let mut replacements: Vec<(Range<usize>, String)> = Vec::new();
    let mut made_async: Vec<usize> = Vec::new();
    for call in CALL.as_ref()?.captures_iter(text) {
        let name = call.get(1)?;
        if !REQUEST_APIS.contains(&name.as_str()) {
            continue;
        }
        let (_, asynchronous) = bodies
            .iter()
            .find(|(body, _)| body.contains(&name.start()))?;
        let called = name.start()..name.end() + 2;
        replacements.push((called.clone(), format!("(await {}())", name.as_str())));
        if let Some(at) = asynchronous
            && !made_async.contains(at)
        {
            made_async.push(*at);
            replacements.push((*at..*at, "async ".into()));
        }
    }
    replaced(text, replacements)
}

/// `text` with every exported function that destructures `params` or `searchParams` awaiting
/// them, and their types made promises; `None` when there is nothing to change or the module
/// is a Client Component.
fn awaiting_props(text: &str) -> Option<String> {
    if is_client_module(text) || identifier_at(text, "props") {
        return None;
    }
    let mut replacements: Vec<(Range<usize>, String)> = Vec::new();
    let mut named_types: BTreeSet<String> = BTreeSet::new();
    for function in exported_functions(text)? {
        let Some(Destructured {
            parameter,
            awaited,
            others,
            annotation,
        }) = destructured_props(text, function.parameters)
        else {
            continue;
        };
        let body = function.body?;
        let annotation_text = text[annotation].trim();
        let new_type = match promised(annotation_text) {
            Some(inline) => inline,
            None if is_identifier(annotation_text) => {
                named_types.insert(annotation_text.to_string());
                annotation_text.to_string()
            }
            None => continue,
        };
        if let Some(at) = function.make_async {
            replacements.push((at..at, "async ".into()));
        }
        replacements.push((parameter, format!("props: {new_type}")));
        let mut prologue: String = (awaited.iter())
            .map(|name| format!("\n  const {name} = await props.{name};"))
            .collect();
        if !others.is_empty() {
            prologue.push_str(&format!("\n  const {{ {} }} = props;", others.join(", ")));
        }
        replacements.push((body + 1..body + 1, prologue));
    }
    for name in named_types {
        let declared = declaration_body(text, &name)?;
        let inner = &text[declared.clone()];
        let wrapped = promised(inner)?;
        replacements.push((declared, wrapped));
    }
    replaced(text, replacements)
}

/// An exported function declaration (`export [default] [async] function name(…) {`).
struct ExportedFunction {
    /// Inside its parentheses.
    parameters: Range<usize>,
    /// Where its body's `{` is, when it has a body.
    body: Option<usize>,
    /// Where `async` goes, when it is not async.
    make_async: Option<usize>,
}

/// The module's exported function declarations, at most [`MAX_FUNCTIONS`]; `None` when the
/// brackets of one do not close.
fn exported_functions(text: &str) -> Option<Vec<ExportedFunction>> {
    static EXPORTED: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"(?m)^export\s+(?:default\s+)?(async\s+)?function\b[^(]*\(").ok()
    });
    (EXPORTED.as_ref()?.captures_iter(text).take(MAX_FUNCTIONS))
        .map(|found| {
            let whole = found.get(0)?;
            let open = whole.end() - 1;
            let close = closing(text, open)?;
            let make_async = match found.get(1) {
                Some(_) => None,
                None => Some(whole.start() + whole.as_str().find("function")?),
            };
            Some(ExportedFunction {
                parameters: open + 1..close,
                body: body_start(text, close),
                make_async,
            })
        })
        .collect()
}

/// `text` with `replacements` (byte ranges and their new text) made, from the end; `None` when
/// there are none or two overlap.
fn replaced(text: &str, mut replacements: Vec<(Range<usize>, String)>) -> Option<String> {
    if replacements.is_empty() {
        return None;
    }
    replacements.sort_by_key(|(range, _)| std::cmp::Reverse((range.start, range.end)));
    let mut changed = text.to_string();
    let mut lowest = usize::MAX;
    for (range, replacement) in replacements {
        if range.end > lowest {
            return None;
        }
        lowest = range.start;
        changed.replace_range(range, &replacement);
    }
    Some(changed)
}

/// A parameter that destructures `params` or `searchParams` (`{ params, children }: Props`).
struct Destructured {
    /// The whole parameter.
    parameter: Range<usize>,
    /// The names it takes that Next passes as promises.
    awaited: Vec<String>,
    /// The other names it takes.
    others: Vec<String>,
    /// Its type annotation.
    annotation: Range<usize>,
}

/// The parameter among the list at `range` that destructures `params` or `searchParams`.
fn destructured_props(text: &str, range: Range<usize>) -> Option<Destructured> {
    for parameter in top_level_split(text, range, b',') {
        let start = parameter.start + leading_space(&text[parameter.clone()]);
        if text.as_bytes().get(start) != Some(&b'{') {
            continue;
        }
        let pattern_end = closing(text, start)?;
        let rest = &text[pattern_end + 1..parameter.end];
        let Some(colon) = rest.find(':').filter(|&at| rest[..at].trim().is_empty()) else {
            continue;
        };
        let annotation = pattern_end + 1 + colon + 1..parameter.end;
        let mut awaited = Vec::new();
        let mut others = Vec::new();
        for entry in top_level_split(text, start + 1..pattern_end, b',') {
            let entry = text[entry].trim();
            if entry.is_empty() {
                continue;
            }
            if !is_identifier(entry) {
                // A renamed, defaulted or nested entry: not the shape the rewrite knows.
                return None;
            }
            match ASYNC_PROPS.contains(&entry) {
                true => awaited.push(entry.to_string()),
                false => others.push(entry.to_string()),
            }
        }
        if awaited.is_empty() {
            continue;
        }
        let end = parameter.end - trailing_space(&text[parameter.clone()]);
        return Some(Destructured {
            parameter: start..end,
            awaited,
            others,
            annotation,
        });
    }
    None
}

/// An object type (`{ params: { id: string } }`, as written) with the types of `params` and
/// `searchParams` wrapped in `Promise<…>`; `None` when it is not an object type, has neither,
/// or has them as promises already.
fn promised(object_type: &str) -> Option<String> {
    let start = leading_space(object_type);
    if object_type.as_bytes().get(start) != Some(&b'{') {
        return None;
    }
    let close = closing(object_type, start)?;
    if !object_type[close + 1..].trim().is_empty() {
        return None;
    }
    let mut wrapped: Vec<(Range<usize>, String)> = Vec::new();
    for member in top_level_split_any(object_type, start + 1..close, b",;") {
        let written = &object_type[member.clone()];
        let Some((name, _)) = written.split_once(':') else {
            continue;
        };
        let name = name.trim().trim_end_matches('?');
        if !ASYNC_PROPS.contains(&name) {
            continue;
        }
        let colon = member.start + written.find(':')?;
        let value = colon + 1..member.end;
        let value_text = object_type[value.clone()].trim();
        if value_text.starts_with("Promise<") {
            return None;
        }
        let at = value.start + leading_space(&object_type[value.clone()]);
        let end = value.end - trailing_space(&object_type[value.clone()]);
        wrapped.push((at..end, format!("Promise<{}>", &object_type[at..end])));
    }
    if wrapped.is_empty() {
        return None;
    }
    let mut out = object_type.to_string();
    for (range, text) in wrapped.into_iter().rev() {
        out.replace_range(range, &text);
    }
    Some(out)
}

/// The range of the object type `name` is declared as in this module (`type Name = { … }`
/// or `interface Name { … }`).
fn declaration_body(text: &str, name: &str) -> Option<Range<usize>> {
    let declared = Regex::new(&format!(
        r"(?m)^(?:export\s+)?(?:type\s+{0}\s*=\s*|interface\s+{0}\s*)\{{",
        regex::escape(name)
    ))
    .ok()?;
    let found = declared.find(text)?;
    let open = found.end() - 1;
    Some(open..closing(text, open)? + 1)
}

/// Where the body of the function whose parameter list closes at `close` opens: the first
/// `{` after it that is not in its return type's generics.
fn body_start(text: &str, close: usize) -> Option<usize> {
    let mut angles = 0usize;
    for (at, byte) in text.bytes().enumerate().skip(close + 1) {
        match byte {
            b'<' => angles += 1,
            b'>' if text.as_bytes()[at - 1] != b'=' => angles = angles.saturating_sub(1),
            b'{' if angles == 0 => return Some(at),
            b';' => return None,
            _ => {}
        }
    }
    None
}

/// The index of the bracket closing the one at `open` (`(`, `{`, `[`, or `<` of a type),
/// skipping strings, template literals and comments.
fn closing(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut at = open;
    while at < bytes.len() {
        match bytes[at] {
            b'(' | b'{' | b'[' => depth += 1,
            b'<' if bytes[open] == b'<' => depth += 1,
            b'>' if bytes[open] == b'<' && bytes[at - 1] != b'=' => depth -= 1,
            b')' | b'}' | b']' => depth = depth.checked_sub(1)?,
            quote @ (b'"' | b'\'' | b'`') => at = string_end(bytes, at, quote)?,
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                at += memchr_or_end(bytes, at, b'\n');
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                at = text[at + 2..].find("*/").map(|end| at + 2 + end + 1)?;
            }
            _ => {}
        }
        if depth == 0 {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// The index of the quote closing the string that opens at `open`.
fn string_end(bytes: &[u8], open: usize, quote: u8) -> Option<usize> {
    let mut at = open + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 1,
            byte if byte == quote => return Some(at),
            _ => {}
        }
        at += 1;
    }
    None
}

/// Bytes from `at` to the next `byte` (or the end).
fn memchr_or_end(bytes: &[u8], at: usize, byte: u8) -> usize {
    bytes[at..]
        .iter()
        .position(|&b| b == byte)
        .unwrap_or(bytes.len() - at)
}

/// The parts of `range` between top-level `separator`s.
fn top_level_split(text: &str, range: Range<usize>, separator: u8) -> Vec<Range<usize>> {
    top_level_split_any(text, range, &[separator])
}

/// The parts of `range` between top-level bytes of `separators` (brackets, generics, strings
/// and comments skipped).
fn top_level_split_any(text: &str, range: Range<usize>, separators: &[u8]) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut start = range.start;
    let mut at = range.start;
    while at < range.end {
        match bytes[at] {
            b'(' | b'{' | b'[' | b'<' | b'"' | b'\'' | b'`' => match closing_or_string(text, at) {
                Some(end) if end < range.end => at = end,
                _ => return vec![range],
            },
            byte if separators.contains(&byte) => {
                parts.push(start..at);
                start = at + 1;
            }
            _ => {}
        }
        at += 1;
    }
    parts.push(start..range.end);
    parts
}

fn closing_or_string(text: &str, at: usize) -> Option<usize> {
    match text.as_bytes()[at] {
        quote @ (b'"' | b'\'' | b'`') => string_end(text.as_bytes(), at, quote),
        _ => closing(text, at),
    }
}

fn leading_space(text: &str) -> usize {
    text.len() - text.trim_start().len()
}

fn trailing_space(text: &str) -> usize {
    text.len() - text.trim_end().len()
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// Whether `name` is used as an identifier anywhere in `text`.
fn identifier_at(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
        !part(before) && !part(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_prop_type_is_made_a_promise_and_awaited() {
        let page = "import { initialTasks } from \"@/lib/data\";\n\n\
                    export default function TaskPage({ params }: { params: { id: string } }) {\n  \
                    const task = initialTasks.find((t) => String(t.id) === params.id);\n  \
                    return <h1>{task?.title}</h1>;\n}\n";
        assert_eq!(
            awaiting_props(page).unwrap(),
            "import { initialTasks } from \"@/lib/data\";\n\n\
             export default async function TaskPage(props: { params: Promise<{ id: string }> }) {\n  \
             const params = await props.params;\n  \
             const task = initialTasks.find((t) => String(t.id) === params.id);\n  \
             return <h1>{task?.title}</h1>;\n}\n"
        );
    }

    #[test]
    fn a_named_prop_type_shared_by_page_and_metadata_is_wrapped_once() {
        let page = "type Props = {\n  params: { slug: string };\n  searchParams?: { [key: string]: string | string[] | undefined };\n};\n\n\
                    export async function generateMetadata({ params }: Props): Promise<Metadata> {\n  \
                    return { title: params.slug };\n}\n\n\
                    export default function Post({ params, searchParams }: Props) {\n  \
                    return <p>{params.slug}{String(searchParams?.q)}</p>;\n}\n";
        assert_eq!(
            awaiting_props(page).unwrap(),
            "type Props = {\n  params: Promise<{ slug: string }>;\n  searchParams?: Promise<{ [key: string]: string | string[] | undefined }>;\n};\n\n\
             export async function generateMetadata(props: Props): Promise<Metadata> {\n  \
             const params = await props.params;\n  \
             return { title: params.slug };\n}\n\n\
             export default async function Post(props: Props) {\n  \
             const params = await props.params;\n  \
             const searchParams = await props.searchParams;\n  \
             return <p>{params.slug}{String(searchParams?.q)}</p>;\n}\n"
        );
    }

    #[test]
    fn a_layout_keeps_its_children_and_a_route_handler_its_request() {
        let layout = "export default function Layout({ children, params }: { children: React.ReactNode; params: { team: string } }) {\n  \
                      return <div data-team={params.team}>{children}</div>;\n}\n";
        assert_eq!(
            awaiting_props(layout).unwrap(),
            "export default async function Layout(props: { children: React.ReactNode; params: Promise<{ team: string }> }) {\n  \
             const params = await props.params;\n  \
             const { children } = props;\n  \
             return <div data-team={params.team}>{children}</div>;\n}\n"
        );
        let route = "export async function GET(\n  request: Request,\n  { params }: { params: { id: string } },\n) {\n  \
                     return Response.json({ id: params.id, url: request.url });\n}\n";
        assert_eq!(
            awaiting_props(route).unwrap(),
            "export async function GET(\n  request: Request,\n  props: { params: Promise<{ id: string }> },\n) {\n  \
             const params = await props.params;\n  \
             return Response.json({ id: params.id, url: request.url });\n}\n"
        );
    }

    #[test]
    fn modules_the_rewrite_does_not_know_are_left_alone() {
        let client = "\"use client\";\nexport default function P({ params }: { params: { id: string } }) {\n  return params.id;\n}\n";
        assert_eq!(awaiting_props(client), None, "a Client Component");
        let already = "export default async function P({ params }: { params: Promise<{ id: string }> }) {\n  const { id } = await params;\n  return id;\n}\n";
        assert_eq!(awaiting_props(already), None, "promises already");
        let renamed = "export default function P({ params: p }: { params: { id: string } }) {\n  return p.id;\n}\n";
        assert_eq!(awaiting_props(renamed), None, "a renamed entry");
        let imported = "import type { Props } from './types';\nexport default function P({ params }: Props) {\n  return params.id;\n}\n";
        assert_eq!(awaiting_props(imported), None, "a type declared elsewhere");
        let props = "export default function P({ params }: { params: { id: string } }) {\n  const props = 1;\n  return params.id + props;\n}\n";
        assert_eq!(awaiting_props(props), None, "`props` is taken");
        assert_eq!(awaiting_props("export default function P() {\n"), None);
        assert_eq!(
            awaiting_props("export default function P({ params }: {"),
            None
        );
    }

    #[test]
    fn request_api_calls_are_awaited_in_exported_functions() {
        let route = "import { cookies, headers } from \"next/headers\";\n\n\
                     export async function GET() {\n  const theme = cookies().get(\"theme\")?.value;\n  \
                     return Response.json({ theme, agent: headers().get(\"user-agent\") });\n}\n";
        assert_eq!(
            awaiting_request_apis(route).unwrap(),
            "import { cookies, headers } from \"next/headers\";\n\n\
             export async function GET() {\n  const theme = (await cookies()).get(\"theme\")?.value;\n  \
             return Response.json({ theme, agent: (await headers()).get(\"user-agent\") });\n}\n"
        );
        let page = "import { cookies } from 'next/headers';\nexport default function Page() {\n  return <p>{cookies().get('a')?.value}</p>;\n}\n";
        assert_eq!(
            awaiting_request_apis(page).unwrap(),
            "import { cookies } from 'next/headers';\nexport default async function Page() {\n  return <p>{(await cookies()).get('a')?.value}</p>;\n}\n"
        );
        let helper = "import { cookies } from 'next/headers';\nfunction theme() {\n  return cookies().get('t');\n}\nexport async function GET() {}\n";
        assert_eq!(
            awaiting_request_apis(helper),
            None,
            "a call outside an export"
        );
        assert_eq!(
            awaiting_request_apis(
                "export function headers() {}\nexport function f() { headers().x; }\n"
            ),
            None,
            "not next/headers"
        );
    }

    #[test]
    fn the_next_messages_are_recognised() {
        let page = Diagnostic {
            notes: vec![
                "Types of property 'params' are incompatible.".into(),
                "Type '{ id: string; }' is missing the following properties from type 'Promise<any>': then, catch, finally, [Symbol.toStringTag]".into(),
            ],
            ..Diagnostic::new("next", "Type 'Props' does not satisfy the constraint 'PageProps'.")
        };
        assert!(reads_props_in_sync(&page));
        let route = Diagnostic {
            notes: vec!["Type \"{ params: { id: string; }; }\" is not a valid type for the function's second argument.".into()],
            ..Diagnostic::new("next", "Route \"app/api/tasks/[id]/route.ts\" has an invalid \"GET\" export:")
        };
        assert!(reads_props_in_sync(&route));
        let other = Diagnostic {
            notes: vec!["Types of property 'title' are incompatible.".into()],
            ..Diagnostic::new(
                "next",
                "Type 'Props' does not satisfy the constraint 'PageProps'.",
            )
        };
        assert!(!reads_props_in_sync(&other));
        let cookies = Diagnostic::new(
            "next",
            "Property 'get' does not exist on type 'Promise<ReadonlyRequestCookies>'.",
        );
        assert!(reads_request_api_in_sync(&cookies));
        let elsewhere = Diagnostic::new(
            "next",
            "Property 'get' does not exist on type 'Promise<User>'.",
        );
        assert!(!reads_request_api_in_sync(&elsewhere));
    }
}
