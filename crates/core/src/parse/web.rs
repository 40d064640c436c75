//! Web bundlers and frameworks: esbuild, vite, webpack and Next.js builds.
//!
//! ```text
//! ✘ [ERROR] Expected ")" but found "}"                  esbuild (0-based columns)
//!     src/App.tsx:4:50:
//! error during build:                                  vite
//! [vite:esbuild] Transform failed with 1 error:
//! /app/src/cart.ts:7:0: ERROR: Unexpected end of file
//! ERROR in ./src/index.js 5:12-18                      webpack (0-based columns)
//! Module not found: Error: Can't resolve 'lodash' in '/app/src'
//! Failed to compile.                                   Next.js (webpack)
//! ./src/app/page.tsx:5:10
//! Type error: Property 'foo' does not exist on type '{}'.
//! Error: Turbopack build failed with 1 errors:         Next.js (turbopack)
//! ./components/header.tsx:2:1
//! Export LayoutDashbord doesn't exist in target module
//! ```
//!
//! Columns are converted to 1-based where the tool prints 0-based ones.

use super::classify::{self, lazy_regex};
use super::{Line, ParserSession, Sink, number, tsc};
use crate::{Category, Diagnostic, Fixit, Severity, Subcategory};

/// The project files a Next.js build artefact was compiled from, likeliest first:
/// `.next/server/app/about/page.js` → `app/about/page.tsx` … `src/app/about/page.js`;
/// `.next/server/pages/about.js` → `pages/about.tsx` … `src/pages/about/index.js`. Empty for
/// any other path. A prerender error's stack points at the artefact; the fix belongs in these.
pub(crate) fn next_sources(artefact: &str) -> Vec<String> {
    const EXTENSIONS: [&str; 4] = ["tsx", "ts", "jsx", "js"];
    let path = artefact.trim_start_matches("./");
    let Some(inside) =
        (path.strip_prefix(".next/")).or_else(|| path.rsplit_once("/.next/").map(|(_, rest)| rest))
    else {
        return Vec::new();
    };
    let Some((router, module)) = (inside.strip_prefix("server/app/").map(|m| ("app", m)))
        .or_else(|| inside.strip_prefix("server/pages/").map(|m| ("pages", m)))
    else {
        return Vec::new();
    };
    let Some(stem) = module.strip_suffix(".js") else {
        return Vec::new();
    };
    if stem
        .split('/')
        .any(|segment| segment.is_empty() || segment == "..")
    {
        return Vec::new();
    }
    let stems = match router {
        "app" => vec![stem.to_string()],
        _ => vec![stem.to_string(), format!("{stem}/index")],
    };
    let mut sources = Vec::new();
    for base in ["", "src/"] {
        for stem in &stems {
            for extension in EXTENSIONS {
                sources.push(format!("{base}{router}/{stem}.{extension}"));
            }
        }
    }
    sources
}

/// 0-based column as printed → 1-based.
fn one_based(column: Option<u32>) -> Option<u32> {
    column.map(|c| c.saturating_add(1))
}

/// A stylesheet error a PostCSS plugin reported through the bundler: its tool, its message
/// without the file and position the diagnostic already has, and its class.
struct CssError {
    tool: &'static str,
    message: String,
    class: (Category, Subcategory),
}

/// `Syntax error: tailwindcss: /app/globals.css Cannot apply unknown utility class `x` (1:1)`
/// or `CssSyntaxError: …` from postcss: an unknown utility is an unknown name, anything else
/// stylesheet syntax.
fn postcss_error(message: &str) -> Option<CssError> {
    let caps = lazy_regex!(
        r"^(?:Syntax error: |CssSyntaxError: )(?:(?P<plugin>tailwindcss|postcss[\w-]*|autoprefixer): )?(?:\S+\.(?:s?css|less|sass|pcss)(?::\d+:\d+:)? )?(?P<msg>.+?)(?: \(\d+:\d+\))?$"
    )
    .captures(message)?;
    let text = caps["msg"].to_string();
    let tool = match caps.name("plugin").map(|p| p.as_str()) {
        Some("tailwindcss") => "tailwindcss",
        _ => "postcss",
    };
    let class = match lazy_regex!(
        r"[Uu]nknown utility class|class does not exist|is not a valid utility|Cannot apply unknown"
    )
    .is_match(&text)
    {
        true => (Category::Type, Subcategory::UndefinedName),
        false => (Category::Syntax, Subcategory::ParseError),
    };
    Some(CssError {
        tool,
        message: text,
        class,
    })
}

/// Whether a message says a page, layout or route module does not export what Next.js needs:
/// `Page "app/page.tsx" does not match the required types of a Next.js Page.`
pub(crate) fn is_module_exports(message: &str) -> bool {
    lazy_regex!(r#"^\w+ "[^"]+" does not match the required types of a Next\.js \w+\."#)
        .is_match(message)
}

/// Whether a message is about a React Server Component boundary (Next's `"use client"` family).
fn is_component_boundary(message: &str) -> bool {
    lazy_regex!(r#""use client"|"use server"|only works in a Client Component|Client Component|Server Component|[`'"]client-only[`'"]|[`'"]server-only[`'"]"#)
        .is_match(message)
}

/// Category of a bundler message.
fn classify_message(message: &str, severity: Severity) -> (Category, Subcategory) {
    use Category as C;
    use Subcategory as S;
    let m = message;
    if is_component_boundary(m) {
        return (C::Configuration, S::ComponentBoundary);
    }
    if lazy_regex!(r"Could not resolve|Can't resolve|[Ff]ailed to resolve (import|module|entry)|Cannot find module|Cannot find package|Module not found|Rollup failed to resolve").is_match(m) {
        return (C::Dependency, S::MissingPackage);
    }
    if lazy_regex!(r"No matching export|is not exported by|does not provide an export|was not found in '|export '[^']+' .*was not found|^Export \S+ doesn't exist in target module").is_match(m) {
        return (C::Type, S::MissingExport);
    }
    if lazy_regex!(r"size limit|performance recommendations|exceeds? the recommended").is_match(m) {
        return (C::Resource, S::BundleSize);
    }
    if lazy_regex!(r"Unexpected end of (file|input)|Unterminated|Unexpected EOF").is_match(m) {
        return (C::Syntax, S::UnexpectedEof);
    }
    if lazy_regex!(r"Expected .* but found|Expected .+, got |Unexpected token|Unexpected character|Unexpected \S|Expected ['\x22]|SyntaxError|Syntax Error|Module parse failed|[Ii]nvalid (?:character|token)|Unexpected keyword").is_match(m) {
        return (C::Syntax, S::UnexpectedToken);
    }
    if lazy_regex!(r"Invalid configuration object|failed to load config|Invalid options? |Unknown option|configuration\.").is_match(m) {
        return (C::Configuration, S::BundlerConfig);
    }
    if let Some(class) = classify::by_message(m) {
        return class;
    }
    if severity == Severity::Warning {
        (C::Unknown, S::Other)
    } else {
        (C::Syntax, S::ParseError)
    }
}

builtin_parser! {
    /// Parses esbuild output.
    Esbuild, "esbuild", EsbuildSession,
    ["[ERROR]", "[WARNING]", ": ERROR: ", ": WARNING: ", "> "]
}

#[derive(Debug, Default)]
struct EsbuildSession {
    open: Option<EsbuildOpen>,
}

#[derive(Debug)]
struct EsbuildOpen {
    diagnostic: Diagnostic,
    frame: Vec<String>,
    caret_offset: Option<usize>,
}

/// `file:line:col: ERROR: message`, esbuild's one-line form (also inside vite's messages).
fn esbuild_line(text: &str) -> Option<Diagnostic> {
    // Upper-case levels since esbuild 0.14; `> file: error:` before.
    let caps = lazy_regex!(
        r"^(?P<file>[^\s:>][^:]*?|[A-Za-z]:[^:]+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>ERROR|WARNING): (?P<msg>.+)$"
    )
    .captures(text)
    .or_else(|| {
        lazy_regex!(
            r"^> (?P<file>[^\s:][^:]*?|[A-Za-z]:[^:]+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): (?P<msg>.+)$"
        )
        .captures(text)
    })?;
    let severity = if caps["sev"].eq_ignore_ascii_case("warning") {
        Severity::Warning
    } else {
        Severity::Error
    };
    let message = caps["msg"].trim();
    let (category, subcategory) = classify_message(message, severity);
    let mut d = Diagnostic::new("esbuild", message)
        .at(
            &caps["file"],
            number(caps.name("line")),
            one_based(number(caps.name("col"))),
        )
        .with_severity(severity)
        .with_class(category, subcategory)
        .with_confidence(0.95);
    d.fixits.extend(expected_punctuation(&d));
    Some(d)
}

/// `Expected ")" but found ";"` → the punctuation mark inserted where esbuild stopped, as tsc's
/// `')' expected` is (Vite prints no suggestion line for it).
fn expected_punctuation(d: &Diagnostic) -> Option<Fixit> {
    let wanted = lazy_regex!(r#"^Expected "([)\]};,:])" but found "#)
        .captures(&d.message)?
        .get(1)?
        .as_str();
    Some(Fixit::insertion(d.file.clone(), d.line?, d.column?, wanted))
}

impl ParserSession for EsbuildSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if let Some(open) = self.open.as_mut() {
            if open_continuation(open, text) {
                open.diagnostic.log_lines.end = n;
                return true;
            }
            self.close(out);
        }
        if let Some(caps) = lazy_regex!(
            r"^\s*(?:✘|X|×|▲|⚠)\s*\[(?P<sev>ERROR|WARNING)\] (?P<msg>.+?)(?: \[(?P<code>[\w-]+)\])?$"
        )
        .captures(text)
        {
            let severity = if &caps["sev"] == "WARNING" {
                Severity::Warning
            } else {
                Severity::Error
            };
            let message = caps["msg"].trim();
            let (category, subcategory) = classify_message(message, severity);
            let mut d = Diagnostic::new("esbuild", message)
                .with_severity(severity)
                .with_class(category, subcategory)
                .from_lines(n, n)
                .with_confidence(0.96);
            d.code = caps.name("code").map(|c| c.as_str().to_string());
            self.open = Some(EsbuildOpen {
                diagnostic: d,
                frame: Vec::new(),
                caret_offset: None,
            });
            return true;
        }
        if let Some(d) = esbuild_line(text) {
            out.emit(d.from_lines(n, n));
            return true;
        }
        false
    }

    fn busy(&self) -> bool {
        self.open.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

/// Location, code frame and notes after an esbuild header.
fn open_continuation(open: &mut EsbuildOpen, text: &str) -> bool {
    let d = &mut open.diagnostic;
    if text.trim().is_empty() {
        return true;
    }
    if lazy_regex!(r"^\d+ (errors?|warnings?)").is_match(text) {
        return false;
    }
    if !text.starts_with([' ', '\t']) {
        return false;
    }
    if let Some(caps) =
        lazy_regex!(r"^\s+(?P<file>\S.*?):(?P<line>\d+):(?P<col>\d+):$").captures(text)
    {
        if d.file.is_none() {
            d.file = Some(caps["file"].to_string());
            d.line = number(caps.name("line"));
            d.column = one_based(number(caps.name("col")));
        }
        return true;
    }
    if let Some(caps) = lazy_regex!(r"^\s*(?:\d+\s*)?[│╵|](.*)$").captures(text) {
        if d.notes.is_empty() && open.frame.len() < 20 {
            open.frame.push(text.trim_end().to_string());
            let body = &caps[1];
            if let Some(offset) = body.find('^') {
                open.caret_offset = Some(offset);
            } else if text.trim_start().starts_with('╵') {
                // The replacement esbuild suggests, printed under the caret.
                if let (Some(offset), Some(line), Some(column)) =
                    (open.caret_offset, d.line, d.column)
                {
                    let hint = body.get(offset..).unwrap_or("").trim();
                    if !hint.is_empty() {
                        d.fixits
                            .push(Fixit::insertion(d.file.clone(), line, column, hint));
                    }
                }
            }
        }
        return true;
    }
    if d.notes.len() < 10 {
        d.notes.push(text.trim().to_string());
    }
    true
}

impl EsbuildSession {
    fn close(&mut self, out: &mut Sink) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        if !open.frame.is_empty() {
            open.diagnostic.snippet = Some(open.frame.join("\n"));
        }
        if open.diagnostic.fixits.is_empty() {
            let inserted = expected_punctuation(&open.diagnostic);
            open.diagnostic.fixits.extend(inserted);
        }
        out.emit(open.diagnostic);
    }
}

builtin_parser! {
    /// Parses `vite build` and vite dev-server errors.
    Vite, "vite", ViteSession,
    ["error during build", "[vite", "[plugin:", "Internal server error", "Pre-transform error"]
}

#[derive(Debug, Default)]
struct ViteSession {
    open: Option<ViteError>,
}

#[derive(Debug, Default)]
struct ViteError {
    first_line: u32,
    last_line: u32,
    plugin: Option<String>,
    message: Option<String>,
    location: Option<(String, Option<u32>, Option<u32>)>,
    esbuild: Vec<Diagnostic>,
    in_stack: bool,
    frame: Vec<String>,
}

impl ParserSession for ViteSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if text.trim_end() == "error during build:" {
            self.close(out);
            self.open = Some(ViteError {
                first_line: n,
                last_line: n,
                ..ViteError::default()
            });
            return true;
        }
        let server = lazy_regex!(
            r"^(?:.*?\s)?\[vite\] (?:Internal server error|Pre-transform error): (?P<msg>.+)$"
        )
        .captures(text);
        if let Some(caps) = server {
            self.close(out);
            self.open = Some(ViteError {
                first_line: n,
                last_line: n,
                plugin: Some("vite".into()),
                message: Some(caps["msg"].trim().to_string()),
                ..ViteError::default()
            });
            return true;
        }
        let Some(open) = self.open.as_mut() else {
            return false;
        };
        if vite_continuation(open, text) {
            open.last_line = n;
            return true;
        }
        self.close(out);
        false
    }

    fn busy(&self) -> bool {
        self.open.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

/// Lines of a vite error before its stack trace; past this many it has none.
const VITE_MESSAGE_LINES: u32 = 60;

fn vite_continuation(open: &mut ViteError, text: &str) -> bool {
    let at = lazy_regex!(r"^\s+at ").is_match(text);
    if open.in_stack {
        return at || text.trim().is_empty();
    }
    if open.last_line.saturating_sub(open.first_line) > VITE_MESSAGE_LINES {
        return false;
    }
    if at {
        open.in_stack = true;
        return true;
    }
    if let Some(caps) =
        lazy_regex!(r"^(?:\[plugin:(?P<p2>[^\]\s]+)\]|\[(?P<p1>[^\]\s]+)\]:?) (?P<msg>.+)$")
            .captures(text)
        && open.plugin.is_none()
    {
        open.plugin = caps
            .name("p1")
            .or(caps.name("p2"))
            .map(|p| p.as_str().to_string());
        let message = caps["msg"].trim();
        if !lazy_regex!(r"^Transform failed with \d+ errors?:?$").is_match(message) {
            open.message = Some(message.to_string());
            if let Some(from) = lazy_regex!(r#"from "([^"]+)""#).captures(message) {
                open.location
                    .get_or_insert((from[1].to_string(), None, None));
            }
        }
        return true;
    }
    if let Some(d) = esbuild_line(text) {
        open.esbuild.push(d);
        return true;
    }
    if let Some(caps) =
        lazy_regex!(r"^\s*[Ff]ile: (?P<file>.+?)(?::(?P<line>\d+)(?::(?P<col>\d+))?)?\s*$")
            .captures(text)
    {
        open.location = Some((
            caps["file"].to_string(),
            number(caps.name("line")),
            one_based(number(caps.name("col"))),
        ));
        return true;
    }
    if let Some(caps) = lazy_regex!(r"^\s*Plugin: (\S+)$").captures(text) {
        open.plugin = Some(caps[1].to_string());
        return true;
    }
    if let Some(caps) =
        lazy_regex!(r"^(?P<file>\S+) \((?P<line>\d+):(?P<col>\d+)\): (?P<msg>.+)$").captures(text)
    {
        open.message.get_or_insert_with(|| caps["msg"].to_string());
        open.location.get_or_insert((
            caps["file"].to_string(),
            number(caps.name("line")),
            one_based(number(caps.name("col"))),
        ));
        return true;
    }
    if open.message.is_none() && open.esbuild.is_empty() && !text.trim().is_empty() {
        open.message = Some(text.trim().to_string());
        return true;
    }
    if lazy_regex!(r"^\s*\d+\s*\|").is_match(text) && open.frame.len() < 20 {
        open.frame.push(text.trim_end().to_string());
    }
    // Message text, code frames and blank lines until the stack trace.
    true
}

impl ViteSession {
    fn close(&mut self, out: &mut Sink) {
        let Some(open) = self.open.take() else {
            return;
        };
        let plugin = open.plugin.clone();
        if !open.esbuild.is_empty() {
            for mut d in open.esbuild {
                d.tool = "vite".into();
                d.code.clone_from(&plugin);
                out.emit(d.from_lines(open.first_line, open.last_line));
            }
            return;
        }
        let Some(message) = open.message else {
            return;
        };
        let (category, subcategory) = classify_message(&message, Severity::Error);
        let mut d = Diagnostic::new("vite", message)
            .with_class(category, subcategory)
            .from_lines(open.first_line, open.last_line)
            .with_confidence(0.9);
        d.code = plugin;
        if let Some((file, line, column)) = open.location {
            // CSS tools count columns from 1.
            let css = d.code.as_deref().is_some_and(|p| p.contains("css"));
            d = d.at(
                file,
                line,
                if css {
                    column.map(|c| c.saturating_sub(1))
                } else {
                    column
                },
            );
        }
        if !open.frame.is_empty() {
            d.snippet = Some(open.frame.join("\n"));
        }
        out.emit(d);
    }
}

builtin_parser! {
    /// Parses webpack's `ERROR in` / `WARNING in` blocks.
    Webpack, "webpack", WebpackSession,
    ["ERROR in ", "WARNING in "]
}

#[derive(Debug, Default)]
struct WebpackSession {
    open: Option<(Diagnostic, bool)>,
}

impl ParserSession for WebpackSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if let Some(caps) =
            lazy_regex!(r"^(?P<sev>ERROR|WARNING) in (?P<rest>.+?)\s*$").captures(text)
        {
            self.close(out);
            let severity = if &caps["sev"] == "WARNING" {
                Severity::Warning
            } else {
                Severity::Error
            };
            let d = header(&caps["rest"])
                .with_severity(severity)
                .from_lines(n, n);
            let needs_message = d.message.is_empty();
            self.open = Some((d, needs_message));
            return true;
        }
        let Some((d, needs_message)) = self.open.as_mut() else {
            return false;
        };
        if text.trim().is_empty() || text.starts_with("webpack ") {
            self.close(out);
            return false;
        }
        d.log_lines.end = n;
        let trimmed = text.trim();
        if *needs_message {
            if trimmed.starts_with("Module build failed") {
                d.notes.push(trimmed.to_string());
                return true;
            }
            if let Some(caps) = lazy_regex!(
                r"^\[tsl\] (?:ERROR|WARNING) in (?P<file>.+)\((?P<line>\d+),(?P<col>\d+)\)$"
            )
            .captures(trimmed)
            {
                d.file = Some(caps["file"].to_string());
                d.line = number(caps.name("line"));
                d.column = number(caps.name("col"));
                d.tool = "ts-loader".into();
                return true;
            }
            d.message = trimmed.to_string();
            *needs_message = false;
            if let Some(caps) = lazy_regex!(r"^(?P<code>TS\d+): (?P<msg>.+)$").captures(trimmed) {
                d.message = caps["msg"].to_string();
                d.code = Some(caps["code"].to_string());
            }
            // Babel names the position in the message: `Unexpected token (5:10)`.
            if d.line.is_none()
                && let Some(caps) =
                    lazy_regex!(r"\((?P<line>\d+):(?P<col>\d+)\)$").captures(trimmed)
            {
                d.line = number(caps.name("line"));
                d.column = one_based(number(caps.name("col")));
            }
        } else if d.notes.len() < 20 {
            d.notes.push(trimmed.to_string());
        }
        true
    }

    fn busy(&self) -> bool {
        self.open.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

/// The part after `ERROR in `: a module with a position, a file, or the message itself.
fn header(rest: &str) -> Diagnostic {
    if let Some(caps) = lazy_regex!(
        r"^(?P<file>\S+) (?P<line>\d+):(?P<col>\d+)(?:-(?:(?P<eline>\d+):)?(?P<ecol>\d+))?$"
    )
    .captures(rest)
    {
        let mut d = Diagnostic::new("webpack", "").at(
            &caps["file"],
            number(caps.name("line")),
            one_based(number(caps.name("col"))),
        );
        if let Some(end) = caps.name("ecol") {
            d.end_line = number(caps.name("eline")).or(d.line);
            d.end_column = one_based(number(Some(end)));
        }
        return d;
    }
    if let Some(caps) =
        lazy_regex!(r"^(?P<file>\S+?)(?::(?P<line>\d+):(?P<col>\d+)|\((?P<l2>\d+),(?P<c2>\d+)\))$")
            .captures(rest)
    {
        // fork-ts-checker and ts-loader print 1-based positions.
        return Diagnostic::new("fork-ts-checker", "").at(
            &caps["file"],
            number(caps.name("line").or(caps.name("l2"))),
            number(caps.name("col").or(caps.name("c2"))),
        );
    }
    if lazy_regex!(r"^(?:\.{1,2}/|/)\S*$|^\S+\.[A-Za-z]{1,5}$").is_match(rest) {
        return Diagnostic::new("webpack", "").at(rest, None, None);
    }
    Diagnostic::new("webpack", rest)
}

impl WebpackSession {
    fn close(&mut self, out: &mut Sink) {
        let Some((mut d, _)) = self.open.take() else {
            return;
        };
        if d.message.is_empty() {
            return;
        }
        (d.category, d.subcategory) = match &d.code {
            Some(code) if code.starts_with("TS") => tsc::classify(code, &d.message),
            _ => classify_message(&d.message, d.severity),
        };
        if d.category == Category::Syntax && d.severity == Severity::Warning {
            d.category = Category::Unknown;
        }
        d.confidence = 0.93;
        out.emit(d);
    }
}

/// The longest a Next.js error report runs after its location line.
const NEXT_REPORT_LINES: u32 = 80;

builtin_parser! {
    /// Parses the errors `next build` reports while prerendering pages: `⨯ message` and the
    /// stack through the page's server bundle (`.next/server/app/search/page.js`), or the block
    /// `Error occurred prerendering page "/"` opens (the error, its notes, its stack) — which
    /// names the page's bundle by its route when the stack does not. The heal loop points the
    /// bundle back at the page's source.
    NextPrerender, "next", NextPrerenderSession,
    ["⨯ ", "Error occurred prerendering page"]
}

#[derive(Debug, Default)]
struct NextPrerenderSession {
    open: Option<Diagnostic>,
    /// The route of the `Error occurred prerendering page` block being read.
    route: Option<String>,
    /// A stack frame of the open report was read: what follows is not its notes.
    frames: bool,
}

impl ParserSession for NextPrerenderSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        let trimmed = text.trim();
        if let Some(caps) = lazy_regex!(r#"^Error occurred prerendering page "(?P<route>/[^"]*)""#)
            .captures(trimmed)
        {
            self.close(out);
            self.route = Some(caps["route"].to_string());
            return true;
        }
        if let Some(d) = self.open.as_mut() {
            if let Some(frame) = trimmed.strip_prefix("at ") {
                self.frames = true;
                d.log_lines.end = n;
                if d.file.is_none()
                    && let Some(caps) = lazy_regex!(
                        r"\(?(?P<file>[^\s()]*\.next/server/(?:app|pages)/[^\s():]+\.js):(?P<line>\d+):(?P<col>\d+)\)?$"
                    )
                    .captures(frame)
                {
                    d.file = Some(caps["file"].to_string());
                    d.line = number(caps.name("line"));
                    d.column = number(caps.name("col"));
                }
                return true;
            }
            let ends = trimmed.is_empty()
                || trimmed.starts_with("Export encountered an error")
                || trimmed.starts_with('⨯')
                || trimmed.starts_with("digest:")
                || trimmed == "}";
            if self.route.is_some() && !self.frames && !ends {
                if d.notes.len() < 10 {
                    d.notes.push(trimmed.to_string());
                }
                d.log_lines.end = n;
                return true;
            }
            self.close(out);
        }
        if self.route.is_some() {
            if trimmed.starts_with("Export encountered an error") {
                self.route = None;
                return true;
            }
            if let Some(caps) =
                lazy_regex!(r"^(?P<kind>\w*Error): (?P<msg>.+?)(?: \{)?$").captures(trimmed)
            {
                self.open = Some(prerender_error(&caps["msg"], n).with_code(&caps["kind"]));
                return true;
            }
            if trimmed.starts_with("digest:") || trimmed == "}" {
                return true;
            }
        }
        let Some(caps) = lazy_regex!(r"^\s*⨯ (?P<msg>.+)$").captures(text) else {
            return false;
        };
        let message = caps["msg"].trim();
        if lazy_regex!(r"^(?:Next\.js build worker exited|Failed to |Static worker exited)")
            .is_match(message)
        {
            return false;
        }
        self.open = Some(prerender_error(message, n));
        true
    }

    fn busy(&self) -> bool {
        self.open.is_some() || self.route.is_some()
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

/// A report of prerendering: a component-boundary error when it is about Client Components or
/// a Suspense boundary, else an exception the page threw.
fn prerender_error(message: &str, line: u32) -> Diagnostic {
    let boundary = is_component_boundary(message)
        || lazy_regex!(r"should be wrapped in a suspense boundary").is_match(message);
    let (category, subcategory) = match boundary {
        true => (Category::Configuration, Subcategory::ComponentBoundary),
        false => (Category::Runtime, Subcategory::Exception),
    };
    Diagnostic::new("next", message.trim())
        .with_class(category, subcategory)
        .from_lines(line, line)
        .with_confidence(0.85)
}

impl NextPrerenderSession {
    /// Emits the open report when it names a page: by its stack through the page's bundle, or
    /// by the route of its block. A `⨯` line with neither is the build's own progress.
    fn close(&mut self, out: &mut Sink) {
        self.frames = false;
        let Some(mut d) = self.open.take() else {
            return;
        };
        if d.file.is_none()
            && let Some(route) = &self.route
        {
            let route = route.trim_end_matches('/');
            d.file = Some(format!(".next/server/app{route}/page.js"));
        }
        if d.file.is_some() {
            out.emit(d);
        }
    }
}

builtin_parser! {
    /// Parses `next build` failures.
    Next, "next", NextSession,
    ["Failed to compile", "Turbopack build failed"]
}

#[derive(Debug, Default)]
struct NextSession {
    inside: bool,
    /// Lines read since the last location line: a report is short, so past
    /// [`NEXT_REPORT_LINES`] the build output has moved on.
    since_location: u32,
    import_trace: bool,
    open: Option<Diagnostic>,
    frame: Vec<String>,
    /// The file of the ESLint findings being listed.
    lint_file: Option<String>,
    /// Inside webpack's `-- inner error --` repetition of the error just read.
    repeated: bool,
    /// Reading Turbopack's reports: a title line after the location, details below the frame.
    turbopack: bool,
}

impl ParserSession for NextSession {
    fn line(&mut self, line: &Line<'_>, out: &mut Sink) -> bool {
        let text = line.text();
        let n = line.number();
        if text.trim() == "Failed to compile." {
            self.close(out);
            self.inside = true;
            self.turbopack = false;
            return true;
        }
        if lazy_regex!(r"^(?:Error: )?Turbopack build failed with \d+ errors?:$")
            .is_match(text.trim())
        {
            self.close(out);
            self.inside = true;
            self.turbopack = true;
            return true;
        }
        if !self.inside {
            return false;
        }
        if self.turbopack {
            let trimmed = text.trim_start();
            if trimmed.starts_with("at <unknown> (") {
                // The stack of the build's own error, which lists the reports' locations again.
                self.close(out);
                self.inside = false;
                return true;
            }
            if trimmed.starts_with("at ")
                || trimmed.starts_with("[at ")
                || trimmed.starts_with("https://nextjs.org/docs/messages/")
            {
                // A Node stack inside a report (a PostCSS plugin's), or the docs link.
                return true;
            }
        }
        self.since_location += 1;
        if self.since_location > NEXT_REPORT_LINES {
            self.close(out);
            self.inside = false;
            return false;
        }
        if text.starts_with("> Build failed")
            || text.starts_with("Next.js build worker exited")
            || text.starts_with("> Build error occurred")
        {
            self.close(out);
            self.inside = false;
            return true;
        }
        if text.trim().is_empty() {
            self.import_trace = false;
            return true;
        }
        if text.starts_with("Import trace for requested module") {
            self.import_trace = true;
            self.repeated = false;
            return true;
        }
        if self.import_trace {
            return true;
        }
        if text.trim() == "-- inner error --" {
            self.close(out);
            self.repeated = true;
            return true;
        }
        if self.repeated {
            return true;
        }
        // `./app/page.tsx:5:10`, or a project file alone (`app/dashboard/page.tsx`: the
        // type check of a page, layout or route module's exports).
        if let Some(caps) = lazy_regex!(
            r"^(?P<file>\./\S+?|[\w@()\[\].-]+(?:/[\w@()\[\].-]+)*\.(?:tsx?|jsx?|mjs|cjs))(?::(?P<line>\d+):(?P<col>\d+))?$"
        )
        .captures(text)
        {
            self.close(out);
            self.since_location = 0;
            self.open = Some(
                Diagnostic::new("next", "")
                    .at(
                        &caps["file"],
                        number(caps.name("line")),
                        number(caps.name("col")),
                    )
                    .from_lines(n, n)
                    .with_confidence(0.9),
            );
            return true;
        }
        // ESLint inside `next build`: `5:7  Error: message  rule` under the file's line.
        if let Some(caps) = lazy_regex!(
            r"^(?P<line>\d+):(?P<col>\d+)\s+(?P<sev>Error|Warning):\s+(?P<msg>.+?)(?:\s{2,}(?P<rule>@?[\w-]+(?:/[\w-]+)*))?$"
        )
        .captures(text)
        {
            let file = match self.open.take() {
                Some(open) if open.message.is_empty() => open.file,
                other => {
                    self.open = other;
                    self.close(out);
                    self.lint_file.clone()
                }
            };
            if let Some(file) = file {
                let severity = caps["sev"].to_ascii_lowercase();
                let d = super::eslint::diagnostic(
                    file.clone(),
                    number(caps.name("line")),
                    number(caps.name("col")),
                    &severity,
                    &caps["msg"],
                    caps.name("rule").map(|m| m.as_str()),
                );
                out.emit(d.from_lines(n, n));
                self.lint_file = Some(file);
                self.since_location = 0;
            }
            return true;
        }
        let Some(d) = self.open.as_mut() else {
            return true;
        };
        d.log_lines.end = n;
        if let Some(caps) =
            lazy_regex!(r"^\s*,-\[(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)\]$").captures(text)
        {
            d.file = Some(caps["file"].to_string());
            d.line = number(caps.name("line"));
            d.column = number(caps.name("col"));
            return true;
        }
        if lazy_regex!(r"^\s*>?\s*\d+ \||^\s+[|:] ").is_match(text) {
            if self.frame.len() < 20 {
                self.frame.push(text.trim_end().to_string());
            }
            return true;
        }
        let trimmed = text.trim();
        if let Some(caps) = lazy_regex!(r"^(?:Error:\s+)?(?:x|×) (?P<msg>.+)$").captures(trimmed) {
            d.message = caps["msg"].to_string();
            d.category = Category::Syntax;
            return true;
        }
        if d.message.is_empty() && trimmed != "Error:" {
            d.message = trimmed.to_string();
        } else if d.notes.len() < 10 {
            d.notes.push(trimmed.to_string());
        }
        true
    }

    fn busy(&self) -> bool {
        self.inside
    }

    fn finish(&mut self, out: &mut Sink) {
        self.close(out);
    }
}

impl NextSession {
    fn close(&mut self, out: &mut Sink) {
        let frame = std::mem::take(&mut self.frame);
        let Some(mut d) = self.open.take() else {
            return;
        };
        if d.message.is_empty() {
            return;
        }
        self.turbopack_message(&mut d);
        (d.category, d.subcategory) = if let Some(css) = postcss_error(&d.message) {
            d.tool = css.tool.to_string();
            d.message = css.message;
            if css.class.0 == Category::Type {
                // Tailwind reports these at the stylesheet's first line, not the `@apply`.
                (d.line, d.column) = (None, None);
            }
            css.class
        } else if let Some(message) = d.message.strip_prefix("Type error: ") {
            let message = message.to_string();
            d.message = message;
            d.fixits.extend(tsc::chain_suggestion(&d));
            match is_module_exports(&d.message) {
                true => (Category::Type, Subcategory::MissingExport),
                false => tsc::classify("", &d.message),
            }
        } else if is_component_boundary(&d.message) {
            (Category::Configuration, Subcategory::ComponentBoundary)
        } else if d.category == Category::Syntax {
            (Category::Syntax, Subcategory::UnexpectedToken)
        } else {
            classify_message(&d.message, Severity::Error)
        };
        if !frame.is_empty() {
            d.snippet = Some(frame.join("\n"));
        }
        out.emit(d);
    }

    /// Turbopack titles some reports with what failed (`Parsing ecmascript source code failed`)
    /// and prints the error itself below the code frame: that error is the message, the title a
    /// note. A parse failure is a syntax error whatever its wording.
    fn turbopack_message(&self, d: &mut Diagnostic) {
        let generic = lazy_regex!(
            r"^(?:Ecmascript file had an error|Parsing \w+ source code failed|Error evaluating Node\.js code|Reading source code for parsing failed|Processing image failed)$"
        );
        if !self.turbopack || !generic.is_match(&d.message) || d.notes.is_empty() {
            return;
        }
        if d.message.starts_with("Parsing ") {
            d.category = Category::Syntax;
        }
        let detail = d.notes.remove(0);
        let title = std::mem::replace(&mut d.message, detail);
        d.notes.insert(0, title);
    }
}

#[cfg(test)]
mod tests {
    use super::next_sources;
    use crate::parse::parse;
    use crate::{Category, FixitEdit, Severity, Subcategory};

    #[test]
    fn eslint_findings_next_build_prints_are_eslints() {
        let log = "Failed to compile.\n\n./lib/utils.ts\n5:7  Error: 'merged' is never reassigned. Use 'const' instead.  prefer-const\n9:3  Warning: Unexpected console statement.  no-console\n\n./app/page.tsx\n12:20  Error: `'` can be escaped with `&apos;`.  react/no-unescaped-entities\n\ninfo  - Need to disable some ESLint rules? Learn more here: https://nextjs.org/docs/app/api-reference/config/eslint#disabling-rules\n";
        let found = parse(log);
        let seen: Vec<(&str, Option<u32>, Option<&str>, Severity)> = (found.iter())
            .map(|d| {
                (
                    d.file.as_deref().unwrap_or(""),
                    d.line,
                    d.code.as_deref(),
                    d.severity,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "lib/utils.ts",
                    Some(5),
                    Some("prefer-const"),
                    Severity::Error
                ),
                (
                    "app/page.tsx",
                    Some(12),
                    Some("react/no-unescaped-entities"),
                    Severity::Error
                ),
                (
                    "lib/utils.ts",
                    Some(9),
                    Some("no-console"),
                    Severity::Warning
                ),
            ]
        );
        assert!(
            found
                .iter()
                .all(|d| d.tool == "eslint" && d.subcategory == Subcategory::Lint)
        );
    }

    #[test]
    fn turbopack_reports_are_read_once_with_their_real_error() {
        let frame = "> 1 | import { useState } from \"react\";\n    |          ^^^^^^^^\n  2 | import Link from \"next/link\";\n";
        let log = format!(
            "> Build error occurred\nError: Turbopack build failed with 3 errors:\n./components/header.tsx:1:10\nEcmascript file had an error\n{frame}\nYou're importing a component that needs `useState`. This React Hook only works in a Client Component. To fix, mark the file (or its parent) with the `\"use client\"` directive.\n\n Learn more: https://nextjs.org/docs/app/api-reference/directives/use-client\n\n\n./app/page.tsx:4:1\nModule not found: Can't resolve '@/components/feature-cards'\n> 4 | import {{ FeatureCard }} from \"@/components/feature-cards\";\n    | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n\nhttps://nextjs.org/docs/messages/module-not-found\n\n\n./app/page.tsx:4:1\nModule not found: Can't resolve '@/components/feature-cards'\n> 4 | import {{ FeatureCard }} from \"@/components/feature-cards\";\n    | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n\nhttps://nextjs.org/docs/messages/module-not-found\n\n\n    at <unknown> (./components/header.tsx:1:10)\n    at <unknown> (./app/page.tsx:4:1)\n    at <unknown> (https://nextjs.org/docs/messages/module-not-found)\n"
        );
        let found = parse(log);
        let seen: Vec<(&str, Option<u32>, Option<u32>, Subcategory)> = (found.iter())
            .map(|d| {
                (
                    d.file.as_deref().unwrap_or(""),
                    d.line,
                    d.column,
                    d.subcategory,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "components/header.tsx",
                    Some(1),
                    Some(10),
                    Subcategory::ComponentBoundary
                ),
                (
                    "app/page.tsx",
                    Some(4),
                    Some(1),
                    Subcategory::MissingPackage
                ),
            ],
            "{found:#?}"
        );
        let boundary = &found[0];
        assert!(boundary.message.starts_with("You're importing a component"));
        assert_eq!(boundary.notes[0], "Ecmascript file had an error");
        assert!(found.iter().all(|d| d.tool == "next"));
    }

    #[test]
    fn turbopack_parse_failures_and_missing_exports() {
        let log = "Error: Turbopack build failed with 2 errors:\n./app/page.tsx:41:17\nParsing ecmascript source code failed\n> 41 |       </sectoin>\n     |                 ^\n\nExpected '</', got 'jsx text (\n      )'\n\n\n./components/header.tsx:2:1\nExport LayoutDashbord doesn't exist in target module\n> 2 | import { LayoutDashbord } from \"lucide-react\";\n\nThe export LayoutDashbord was not found in module [project]/node_modules/lucide-react/dist/esm/lucide-react.js [app-rsc] (ecmascript).\nDid you mean to import LayoutDashboard?\n\n\n    at <unknown> (./app/page.tsx:41:17)\n";
        let found = parse(log);
        assert_eq!(found.len(), 2, "{found:#?}");
        let syntax = found
            .iter()
            .find(|d| d.line == Some(41))
            .expect("parse failure");
        assert_eq!(syntax.category, Category::Syntax);
        assert_eq!(syntax.message, "Expected '</', got 'jsx text (");
        let export = found
            .iter()
            .find(|d| d.line == Some(2))
            .expect("missing export");
        assert_eq!(export.subcategory, Subcategory::MissingExport);
        assert!(
            export
                .notes
                .contains(&"Did you mean to import LayoutDashboard?".to_string())
        );
    }

    #[test]
    fn esbuild_block_with_zero_based_column_and_suggestion() {
        let log = "✘ [ERROR] Expected \")\" but found \"}\"\n\n    src/App.tsx:4:50:\n      4 │       {props.items.map((i) => <li key={i}>{i}</li>}\n        │                                                   ^\n        ╵                                                   )\n\n1 error\n";
        let found = parse(log);
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert_eq!((d.line, d.column), (Some(4), Some(51)));
        assert_eq!(d.category, Category::Syntax);
        assert_eq!(
            d.fixits[0].edit,
            FixitEdit::Span {
                line: 4,
                column: 51,
                end_line: 4,
                end_column: 51,
                replacement: ")".into()
            }
        );
    }

    #[test]
    fn vite_wrapping_esbuild() {
        let log = "error during build:\n[vite:esbuild] Transform failed with 1 error:\n/app/src/cart.ts:7:0: ERROR: Unexpected end of file\nfile: /app/src/cart.ts:7:0\n\nUnexpected end of file\n5  |    return sum;\n    at failureErrorWithLog (/x/node_modules/esbuild/lib/main.js:1467:15)\n    at /x/node_modules/esbuild/lib/main.js:736:50\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        let d = &found[0];
        assert_eq!(
            (d.tool.as_str(), d.code.as_deref()),
            ("vite", Some("vite:esbuild"))
        );
        assert_eq!((d.line, d.column), (Some(7), Some(1)));
        assert_eq!(d.subcategory, Subcategory::UnexpectedEof);
        assert!(d.fixits.is_empty());
        let paren = "error during build:\n[vite:esbuild] Transform failed with 1 error:\n/app/src/lib/format.ts:2:35: ERROR: Expected \")\" but found \";\"\nfile: /app/src/lib/format.ts:2:35\n";
        let d = &parse(paren)[0];
        assert_eq!(
            d.fixits[0].edit,
            FixitEdit::Span {
                line: 2,
                column: 36,
                end_line: 2,
                end_column: 36,
                replacement: ")".into()
            }
        );
    }

    #[test]
    fn vite_unresolved_import() {
        let log = "error during build:\n[vite]: Rollup failed to resolve import \"axios\" from \"/app/src/api.ts\".\nThis is most likely unintended because it can break your application at runtime.\n    at viteWarn (file:///app/node_modules/vite/dist/node/chunks/dep.js:65855:17)\n";
        let d = &parse(log)[0];
        assert_eq!(d.category, Category::Dependency);
        assert_eq!((d.file.as_deref(), d.line), (Some("/app/src/api.ts"), None));
    }

    #[test]
    fn webpack_blocks() {
        let log = "WARNING in ./src/index.js 2:28-38\nexport 'parseMoney' (imported as 'parseMoney') was not found in './money' (possible exports: formatMoney)\n\nERROR in ./src/a.js 5:12-18\nModule not found: Error: Can't resolve 'lodash' in '/app/src'\n\nWARNING in asset size limit: The following asset(s) exceed the recommended size limit (244 KiB).\nThis can impact web performance.\n\nwebpack 5.112.2 compiled with 1 error and 2 warnings in 490 ms\n";
        let found = parse(log);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert_eq!(found[0].category, Category::Dependency);
        assert_eq!((found[0].column, found[0].end_column), (Some(13), Some(19)));
        let export = found
            .iter()
            .find(|d| d.subcategory == Subcategory::MissingExport)
            .unwrap();
        assert_eq!(export.severity, Severity::Warning);
        let size = found.iter().find(|d| d.file.is_none()).unwrap();
        assert_eq!(size.category, Category::Resource);
    }

    #[test]
    fn next_module_export_checks_name_the_module_and_the_export() {
        let log = "Failed to compile.\n\napp/api/tasks/route.ts\nType error: Route \"app/api/tasks/route.ts\" does not match the required types of a Next.js Route.\n  \"get\" is not a valid Route export field.\n\nNext.js build worker exited with code: 1 and signal: null\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        let d = &found[0];
        assert_eq!(d.file.as_deref(), Some("app/api/tasks/route.ts"));
        assert_eq!(
            (d.category, d.subcategory),
            (Category::Type, Subcategory::MissingExport)
        );
        assert_eq!(d.notes, ["\"get\" is not a valid Route export field."]);
    }

    #[test]
    fn tailwind_errors_through_next_build_are_tailwinds_and_said_once() {
        let log = "Failed to compile.\n\n./app/globals.css\nSyntax error: tailwindcss: /tmp/gn/app/globals.css Cannot apply unknown utility class `bg-brand-500` (1:1)\n\n> 1 | @import \"tailwindcss\";\n    | ^\n  2 | \n\n-- inner error --\nSyntax error: tailwindcss: /tmp/gn/app/globals.css Cannot apply unknown utility class `bg-brand-500` (1:1)\n\n> 1 | @import \"tailwindcss\";\n    | ^\n\nGenerated code for /tmp/gn/node_modules/next/dist/build/webpack/loaders/css-loader/src/index.js!/tmp/gn/app/globals.css\n\nImport trace for requested module:\n./app/globals.css\n\n\n> Build failed because of webpack errors\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        let d = &found[0];
        assert_eq!(d.tool, "tailwindcss");
        assert_eq!(
            d.message,
            "Cannot apply unknown utility class `bg-brand-500`"
        );
        assert_eq!((d.file.as_deref(), d.line), (Some("app/globals.css"), None));
        assert_eq!(
            (d.category, d.subcategory),
            (Category::Type, Subcategory::UndefinedName)
        );
        let syntax = "Failed to compile.\n\n./app/globals.css:4:3\nSyntax error: /app/app/globals.css Unknown word (4:3)\n\n> Build failed because of webpack errors\n";
        let found = parse(syntax);
        assert_eq!(
            (
                found[0].tool.as_str(),
                found[0].message.as_str(),
                found[0].line
            ),
            ("postcss", "Unknown word", Some(4))
        );
        assert_eq!(found[0].category, Category::Syntax);
    }

    #[test]
    fn a_prerender_error_names_the_page_bundle_its_stack_went_through() {
        let log = "   Generating static pages (1/7) \n \u{2a2f} useSearchParams() should be wrapped in a suspense boundary at page \"/search\". Read more: https://nextjs.org/docs/messages/missing-suspense-with-csr-bailout\n    at g (/app/.next/server/chunks/62.js:11:86924)\n    at f (/app/.next/server/app/search/page.js:1:1877)\n    at n3 (/app/node_modules/next/dist/compiled/next-server/app-page.runtime.prod.js:2:82831)\nError occurred prerendering page \"/search\". Read more: https://nextjs.org/docs/messages/prerender-error\nExport encountered an error on /search/page: /search, exiting the build.\n \u{2a2f} Next.js build worker exited with code: 1 and signal: null\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        let d = &found[0];
        assert!(d.message.starts_with("useSearchParams() should be wrapped"));
        assert_eq!(
            (d.file.as_deref(), d.line, d.subcategory),
            (
                Some("/app/.next/server/app/search/page.js"),
                Some(1),
                Subcategory::ComponentBoundary
            )
        );
        let progress = " \u{2a2f} Next.js build worker exited with code: 1 and signal: null\n \u{2a2f} Something without a stack\n";
        assert!(
            parse(progress)
                .iter()
                .all(|d| !d.message.starts_with("Something")),
            "no page's stack, no report"
        );
    }

    #[test]
    fn a_prerender_block_names_its_page_by_the_stack_or_the_route() {
        let log = "Error occurred prerendering page \"/\". Read more: https://nextjs.org/docs/messages/prerender-error\nError: Event handlers cannot be passed to Client Component props.\n  {className: ..., onClick: function onClick, children: ...}\n                            ^^^^^^^^^^^^^^^^\nIf you need interactivity, consider converting part of this to a Client Component.\n    at stringify (<anonymous>) {\n  digest: '4019625493'\n}\nExport encountered an error on /page: /, exiting the build.\n \u{2a2f} Next.js build worker exited with code: 1 and signal: null\n";
        let found = parse(log);
        assert_eq!(found.len(), 1, "{found:#?}");
        let d = &found[0];
        assert_eq!(
            (d.file.as_deref(), d.code.as_deref(), d.subcategory),
            (
                Some(".next/server/app/page.js"),
                Some("Error"),
                Subcategory::ComponentBoundary
            )
        );
        assert_eq!(d.notes.len(), 3, "{:?}", d.notes);
        let thrown = "Error occurred prerendering page \"/about\". Read more: https://nextjs.org/docs/messages/prerender-error\nTypeError: Cannot read properties of undefined (reading 'map')\n    at f (.next/server/app/about/page.js:2:8143)\n    at stringify (<anonymous>) {\n  digest: '1802176089'\n}\nExport encountered an error on /about/page: /about, exiting the build.\n";
        let d = &parse(thrown)[0];
        assert_eq!(
            (d.file.as_deref(), d.line, d.code.as_deref(), d.category),
            (
                Some(".next/server/app/about/page.js"),
                Some(2),
                Some("TypeError"),
                Category::Runtime
            )
        );
        assert_eq!(
            d.message,
            "Cannot read properties of undefined (reading 'map')"
        );
    }

    #[test]
    fn next_artefacts_lead_to_their_sources() {
        let sources = next_sources(".next/server/app/(shop)/about/page.js");
        assert_eq!(sources[0], "app/(shop)/about/page.tsx");
        assert_eq!(sources.len(), 8);
        assert!(sources.contains(&"src/app/(shop)/about/page.js".to_string()));
        let pages = next_sources("/tmp/nt/.next/server/pages/blog/[slug].js");
        assert_eq!(pages[0], "pages/blog/[slug].tsx");
        assert!(pages.contains(&"src/pages/blog/[slug]/index.jsx".to_string()));
        for elsewhere in [
            "app/about/page.tsx",
            ".next/static/chunks/main.js",
            ".next/server/app/../../etc/page.js",
            "dist/assets/index.js",
        ] {
            assert!(next_sources(elsewhere).is_empty(), "{elsewhere}");
        }
    }

    #[test]
    fn next_build_failures() {
        let log = "Failed to compile.\n\n./src/app/page.tsx:5:10\nType error: Property 'foo' does not exist on type '{}'.\n\n  3 | export default function Page() {\n> 5 |   return x.foo;\n    |            ^\nNext.js build worker exited with code: 1 and signal: null\n";
        let d = &parse(log)[0];
        assert_eq!(
            (d.tool.as_str(), d.line, d.column),
            ("next", Some(5), Some(10))
        );
        assert_eq!(d.message, "Property 'foo' does not exist on type '{}'.");
        assert_eq!(d.subcategory, Subcategory::MissingProperty);
    }
}
