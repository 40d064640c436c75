//! `selfheal json-repair`: an LLM reply in, the JSON value in it out.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use selfheal::json::{self, Hint, Recovered};
use serde::Deserialize;

use crate::{Outcome, finish_output, read_input};

#[derive(Debug, clap::Args)]
pub(crate) struct JsonRepairArgs {
    /// The reply to read (in batch mode: the request lines); `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// The value wanted: `fix` prefers the first object with `analysis` and `fixes` over other
    /// JSON in the reply; `generic` takes the first value. In batch mode, the default for
    /// requests without a `schema`.
    #[arg(long, value_enum, default_value_t = Schema::Generic)]
    schema: Schema,
    /// Print the value indented.
    #[arg(long, conflicts_with = "jsonl")]
    pretty: bool,
    /// Also print the stage and the repairs made, to standard error.
    #[arg(long, conflicts_with = "jsonl")]
    explain: bool,
    /// Batch mode: answer each request line `{"input": str, "schema": "fix"|"generic"}` with one
    /// line `{"value": <json or null>, "ok": bool, "stage": str}`, flushed, until the end of the
    /// input. A line that is not a request is answered with `{"value": null, "ok": false,
    /// "error": "..."}`.
    #[arg(long)]
    jsonl: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Schema {
    Generic,
    Fix,
}

impl Schema {
    fn hint(self) -> Hint {
        match self {
            Schema::Generic => Hint::none(),
            Schema::Fix => Hint::fix_proposal(),
        }
    }
}

pub(crate) fn run(args: JsonRepairArgs) -> Outcome {
    if args.jsonl {
        return batch(&args);
    }
    let input = read_input(args.file.as_ref())?;
    let reply = String::from_utf8_lossy(&input);
    let recovered = match json::recover(&reply, &args.schema.hint()) {
        Ok(recovered) => recovered,
        Err(reason) => {
            eprintln!("selfheal: nothing sensible found: {reason}");
            return Ok(ExitCode::from(1));
        }
    };
    if args.explain {
        eprintln!("{}", explanation(&recovered));
    }
    let text = if args.pretty {
        json::to_string_pretty(&recovered.value)
    } else {
        json::to_string(&recovered.value)
    };
    let mut out = io::stdout().lock();
    finish_output(writeln!(out, "{text}").and_then(|()| out.flush()))?;
    Ok(ExitCode::SUCCESS)
}

/// `stage: repaired; repairs: trailing_comma ×2 (first at byte 40), comment ×1 (...)`.
fn explanation(recovered: &Recovered) -> String {
    let mut line = format!("stage: {}", recovered.stage.as_str());
    if !recovered.repairs.is_empty() {
        let repairs: Vec<String> = recovered
            .repairs
            .iter()
            .map(|r| {
                format!(
                    "{} ×{} (first at byte {})",
                    r.kind.as_str(),
                    r.count,
                    r.first_offset
                )
            })
            .collect();
        line.push_str("; repairs: ");
        line.push_str(&repairs.join(", "));
    }
    line
}

#[derive(Deserialize)]
struct Request {
    input: String,
    schema: Option<Schema>,
}

fn batch(args: &JsonRepairArgs) -> Outcome {
    let mut requests: Box<dyn BufRead> = match &args.file {
        Some(path) if path.as_os_str() != "-" => Box::new(BufReader::new(
            File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        )),
        _ => Box::new(io::stdin().lock()),
    };
    let mut out = io::stdout().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = requests
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read requests: {e}"))?;
        if read == 0 {
            return Ok(ExitCode::SUCCESS);
        }
        let response = answer(&line, args.schema);
        let written = out
            .write_all(response.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if let Err(e) = written {
            // Nobody is listening any more: stop quietly.
            finish_output(Err(e))?;
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// The response line to one request line.
fn answer(line: &[u8], default_schema: Schema) -> String {
    let request: Request = match serde_json::from_slice(line) {
        Ok(request) => request,
        Err(e) => {
            let error = if line.trim_ascii().is_empty() {
                "empty request line".to_string()
            } else {
                format!("not a request {{\"input\": str, \"schema\": \"fix\"|\"generic\"}}: {e}")
            };
            return format!(r#"{{"value":null,"ok":false,"error":{}}}"#, quoted(&error));
        }
    };
    let schema = request.schema.unwrap_or(default_schema);
    match json::recover(&request.input, &schema.hint()) {
        Ok(recovered) => format!(
            r#"{{"value":{},"ok":true,"stage":"{}"}}"#,
            json::to_string(&recovered.value),
            recovered.stage.as_str()
        ),
        Err(reason) => format!(
            r#"{{"value":null,"ok":false,"stage":null,"reason":{}}}"#,
            quoted(&reason.to_string())
        ),
    }
}

fn quoted(text: &str) -> String {
    json::to_string(&serde_json::Value::String(text.to_string()))
}
