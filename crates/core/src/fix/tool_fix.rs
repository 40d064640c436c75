//! [`ToolFix`]: a linter's own fixer (`eslint --fix`, `ruff check --fix`), run the way the build
//! runs the linter; what it changed becomes the proposal.

use std::collections::BTreeMap;

use super::fixer::{FixInput, Fixer, Safety};
use super::{FixProposal, RelativePath};
use crate::build::{BuildStep, Command, quoted};
use crate::workspace::Workspace;
use crate::{Diagnostic, Result};

/// A linter's fixer.
///
/// The fixer finds the linter's invocation in the build plan (`npx eslint .`,
/// `"$TOOLS/.bin/eslint" --max-warnings 0 src`, `python -m ruff check .`), adds the fix flags
/// right after the program, and runs that through the build's own builder — so it finds the
/// same tool, configuration and container. The workspace is put back afterwards: the changes
/// come back as edits, applied and tested by the heal loop like any other fix.
#[derive(Debug, Clone)]
pub struct ToolFix {
    name: &'static str,
    /// The parser's tool name on the diagnostics it fixes.
    tool: &'static str,
    /// The program's file name.
    program: &'static str,
    /// The subcommand that lints (`ruff check`), when the program has subcommands.
    subcommand: Option<&'static str>,
    /// Inserted after the program (and subcommand).
    flags: &'static [&'static str],
    /// Removed from the invocation: they would stop the fix or print instead of writing.
    conflicting: &'static [&'static str],
    /// Where the project installs the tool, for findings a framework build reports without
    /// running it as a step (ESLint inside `next build`): it is run on the files named.
    installed: Option<&'static str>,
    safety: Safety,
}

impl ToolFix {
    /// `eslint --fix --fix-type problem,suggestion`: the rules' own fixes, layout left alone.
    pub fn eslint() -> Self {
        ToolFix {
            name: "eslint --fix",
            tool: "eslint",
            program: "eslint",
            subcommand: None,
            flags: &["--fix", "--fix-type", "problem,suggestion"],
            conflicting: &["--fix-dry-run", "--stdin"],
            installed: Some("node_modules/.bin/eslint"),
            safety: Safety::Safe,
        }
    }

    /// `ruff check --fix`: ruff's safe fixes only.
    pub fn ruff() -> Self {
        ToolFix {
            name: "ruff --fix",
            tool: "ruff",
            program: "ruff",
            subcommand: Some("check"),
            flags: &["--fix"],
            conflicting: &["--no-fix", "--diff", "--unsafe-fixes", "--watch"],
            installed: None,
            safety: Safety::Safe,
        }
    }

    /// The command that runs the fixer where `command` runs the linter, if it does — directly
    /// or through the project's package scripts (`npm run lint` running `eslint .`).
    fn fix_command(&self, command: &Command, scripts: &Scripts) -> Option<Command> {
        let commands = scripts.expand(command_words(command), 0);
        let at = commands
            .iter()
            .position(|words| self.invocation(words).is_some())?;
        // Changes of directory and environment before the linter still apply to it; anything
        // else before it (installs, other checks) is not run again.
        let mut parts: Vec<String> = (commands[..at].iter())
            .filter(|words| sets_up(words))
            .map(|words| join(words))
            .collect();
        parts.push(self.rewrite(&commands[at])?);
        Some(Command::Shell(parts.join(" && ")))
    }

    /// The project's own install of the tool run on the files its findings name, for a plan
    /// whose steps do not run it themselves (a framework build that lints).
    fn on_files<'a>(&self, input: &FixInput<'a>) -> Option<(&'a BuildStep, Command)> {
        let files = finding_files(input.workspace, input.diagnostics.iter(), self.tool);
        project_tool_on_files(input, self.installed?, self.flags, &files)
    }

    /// Where the linter's program is among `words` (after environment assignments and
    /// runners such as `npx` or `python -m`), when these words run it to lint.
    fn invocation(&self, words: &[Word]) -> Option<usize> {
        let at = words.iter().position(|word| {
            let name = word.value.rsplit('/').next().unwrap_or_default();
            name == self.program || name.strip_suffix(".js") == Some(self.program)
        })?;
        let before_is_runner = words[..at].iter().all(|word| {
            let name = word.value.rsplit('/').next().unwrap_or_default();
            is_assignment(&word.value) || RUNNERS.contains(&name)
        });
        let lints = match self.subcommand {
            None => true,
            Some(subcommand) => words.get(at + 1).is_some_and(|w| w.value == subcommand),
        };
        let fixes_already = words
            .iter()
            .any(|w| self.conflicting.contains(&w.value.as_str()));
        (before_is_runner && lints && !fixes_already).then_some(at)
    }

    /// `words` with the fix flags after the program (and subcommand).
    fn rewrite(&self, words: &[Word]) -> Option<String> {
        let at = self.invocation(words)? + 1 + usize::from(self.subcommand.is_some());
        let mut out: Vec<String> = words[..at].iter().map(|w| w.raw.clone()).collect();
        out.extend(self.flags.iter().map(|flag| flag.to_string()));
        out.extend(words[at..].iter().map(|w| w.raw.clone()));
        Some(out.join(" "))
    }
}

#[async_trait::async_trait]
impl Fixer for ToolFix {
    fn name(&self) -> &str {
        self.name
    }

    fn safety(&self) -> Safety {
        self.safety
    }

    async fn propose(&self, input: &FixInput<'_>) -> Result<Option<FixProposal>> {
        if !input.diagnostics.iter().any(|d| d.tool == self.tool) {
            return Ok(None);
        }
        let found = (input.plan.steps.iter()).find_map(|step| {
            let scripts = Scripts::of(input.workspace, step.cwd.as_ref());
            Some((step, self.fix_command(&step.command, &scripts)?))
        });
        let Some((step, command)) = found.or_else(|| self.on_files(input)) else {
            return Ok(None);
        };
        let fix = BuildStep {
            name: format!("{} ({})", self.name, step.name),
            command,
            continue_on_failure: true,
            ..step.clone()
        };
        // A fixer that cannot run (the tool gone, the engine down) has nothing to offer; the
        // build itself reports such trouble.
        let Some((_, edits)) = input.changes_made_by(&fix, None).await? else {
            return Ok(None);
        };
        Ok((!edits.is_empty()).then(|| FixProposal {
            analysis: format!("{} fixes the problems it reported", self.tool),
            edits,
            ..FixProposal::default()
        }))
    }
}

/// The project files `tool`'s findings among `diagnostics` name (relative, or absolute under
/// the project's root as ESLint prints them), sorted, each once.
pub(crate) fn finding_files<'d>(
    workspace: &Workspace,
    diagnostics: impl Iterator<Item = &'d Diagnostic>,
    tool: &str,
) -> Vec<RelativePath> {
    let mut files: Vec<RelativePath> = diagnostics
        .filter(|d| d.tool == tool)
        .filter_map(|d| workspace.relative(d.file.as_deref()?))
        .collect();
    files.sort();
    files.dedup();
    files
}

/// The project's own install of a tool (`installed`, relative to the project) run with `flags`
/// on `files`, in the context of the plan's first step; `None` when the project has no such
/// install or there are no files.
pub(crate) fn project_tool_on_files<'a>(
    input: &FixInput<'a>,
    installed: &str,
    flags: &[&str],
    files: &[RelativePath],
) -> Option<(&'a BuildStep, Command)> {
    let step = input.plan.steps.first()?;
    if files.is_empty() || !input.workspace.root().join(installed).is_file() {
        return None;
    }
    let mut line = vec![quoted(installed).into_owned()];
    line.extend(flags.iter().map(|flag| flag.to_string()));
    line.push("--".into());
    line.extend(files.iter().map(|file| quoted(file.as_str()).into_owned()));
    Some((step, Command::Shell(line.join(" "))))
}

/// Whether `step` runs `program subcommand` (`next build`), directly or through the
/// project's package scripts (`npm run build` running `next build`).
pub(crate) fn step_runs(
    workspace: &Workspace,
    step: &BuildStep,
    program: &str,
    subcommand: &str,
) -> bool {
    let scripts = Scripts::of(workspace, step.cwd.as_ref());
    let commands = scripts.expand(command_words(&step.command), 0);
    commands.iter().any(|words| {
        words.windows(2).any(|pair| {
            let name = pair[0].value.rsplit('/').next().unwrap_or_default();
            name == program && pair[1].value == subcommand
        })
    })
}

/// The project's package scripts (`scripts` of the `package.json` where a step runs), to see
/// the tools a step such as `npm run lint`, `pnpm lint` or `yarn lint` runs.
#[derive(Debug, Default)]
struct Scripts(BTreeMap<String, String>);

/// Scripts calling scripts are followed this deep.
const MAX_SCRIPT_DEPTH: usize = 4;

impl Scripts {
    fn of(workspace: &Workspace, cwd: Option<&RelativePath>) -> Scripts {
        let manifest = match cwd {
            Some(cwd) => format!("{cwd}/package.json"),
            None => "package.json".into(),
        };
        let text = (RelativePath::new(&manifest).ok())
            .and_then(|path| workspace.read(&path).ok().flatten());
        let value: Option<serde_json::Value> = text.and_then(|t| serde_json::from_str(&t).ok());
        let scripts = (value.as_ref())
            .and_then(|v| v.get("scripts")?.as_object().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, script)| Some((name, script.as_str()?.to_string())))
            .collect();
        Scripts(scripts)
    }

    /// `commands` with every simple command that runs a package script replaced by the
    /// script's own commands, with the package's `node_modules/.bin` first on `PATH` as the
    /// package manager gives it, and the arguments passed on after the last one.
    fn expand(&self, commands: Vec<Vec<Word>>, depth: usize) -> Vec<Vec<Word>> {
        if depth == MAX_SCRIPT_DEPTH || self.0.is_empty() {
            return commands;
        }
        let mut out = Vec::new();
        for command in commands {
            let Some((script, assignments, extra)) = self.script_of(&command) else {
                out.push(command);
                continue;
            };
            let mut inner = simple_commands(script);
            if let Some(last) = inner.last_mut() {
                last.extend(extra);
            }
            let path = Word {
                raw: "PATH=\"$PWD/node_modules/.bin:$PATH\"".into(),
                value: "PATH=$PWD/node_modules/.bin:$PATH".into(),
            };
            for words in &mut inner {
                if !sets_up(words) {
                    let mut prefixed = assignments.clone();
                    prefixed.push(path.clone());
                    prefixed.append(words);
                    *words = prefixed;
                }
            }
            out.extend(self.expand(inner, depth + 1));
        }
        out
    }

    /// The script a simple command runs, the variables it sets for it, and the arguments it
    /// passes on.
    fn script_of(&self, words: &[Word]) -> Option<(&str, Vec<Word>, Vec<Word>)> {
        let start = words.iter().position(|w| !is_assignment(&w.value))?;
        let assignments = words[..start].to_vec();
        let rest = &words[start..];
        let program = rest.first()?.value.rsplit('/').next().unwrap_or_default();
        let word = |i: usize| rest.get(i).map(|w| w.value.as_str());
        let (name, args_from) = match (program, word(1)) {
            ("npm" | "pnpm" | "yarn" | "bun", Some("run" | "run-script")) => (word(2)?, 3),
            ("npm", Some(name @ ("test" | "start" | "stop" | "restart"))) => (name, 2),
            ("npm", Some("t")) => ("test", 2),
            ("pnpm" | "yarn", Some(name)) if !name.starts_with('-') => (name, 2),
            _ => return None,
        };
        let script = self.0.get(name)?;
        let mut extra: Vec<Word> = rest[args_from.min(rest.len())..].to_vec();
        // npm passes on what follows `--`; pnpm and yarn pass everything (a `--` included).
        if program == "npm" || extra.first().is_some_and(|w| w.value == "--") {
            match extra.iter().position(|w| w.value == "--") {
                Some(at) => extra.drain(..=at),
                None => extra.drain(..),
            };
        }
        Some((script.as_str(), assignments, extra))
    }
}

/// Programs that run the next word: package runners and interpreters.
const RUNNERS: &[&str] = &[
    "npx", "pnpm", "yarn", "bunx", "bun", "exec", "dlx", "node", "python", "python3", "-m", "uv",
    "uvx", "run", "poetry", "pdm", "pipx", "env", "--yes", "-y", "--",
];

/// One shell word: as written, and as the shell reads it (quotes removed).
#[derive(Debug, Clone, Default, PartialEq)]
struct Word {
    raw: String,
    value: String,
}

/// `NAME=value`.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit()
    })
}

/// Whether a simple command only sets things up for the next (`cd DIR`, `export X=1`, `X=1`).
fn sets_up(words: &[Word]) -> bool {
    match words.first().map(|w| w.value.as_str()) {
        Some("cd" | "export" | "pushd") => true,
        _ => words.iter().all(|w| is_assignment(&w.value)),
    }
}

/// A command's simple commands as words.
fn command_words(command: &Command) -> Vec<Vec<Word>> {
    match command {
        Command::Argv(argv) => vec![
            (argv.iter())
                .map(|arg| Word {
                    raw: quoted(arg).into_owned(),
                    value: arg.clone(),
                })
                .collect(),
        ],
        Command::Shell(line) => simple_commands(line),
    }
}

fn join(words: &[Word]) -> String {
    let raw: Vec<&str> = words.iter().map(|w| w.raw.as_str()).collect();
    raw.join(" ")
}

/// A shell line's simple commands (split at `;`, `&`, `|`, `&&`, `||`, newlines and
/// parentheses), each as its words. Quotes and backslashes are honoured; expansions are kept
/// as written, for the shell that runs the rewritten line.
fn simple_commands(line: &str) -> Vec<Vec<Word>> {
    let mut commands = vec![Vec::new()];
    let mut word: Option<Word> = None;
    let mut chars = line.chars().peekable();
    let end_word = |word: &mut Option<Word>, commands: &mut Vec<Vec<Word>>| {
        if let (Some(word), Some(command)) = (word.take(), commands.last_mut()) {
            command.push(word);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => end_word(&mut word, &mut commands),
            ';' | '&' | '|' | '\n' | '(' | ')' => {
                end_word(&mut word, &mut commands);
                if commands.last().is_some_and(|c| !c.is_empty()) {
                    commands.push(Vec::new());
                }
            }
            '\'' | '"' => {
                let current = word.get_or_insert_with(Word::default);
                current.raw.push(c);
                while let Some(inner) = chars.next() {
                    current.raw.push(inner);
                    if inner == c {
                        break;
                    }
                    if c == '"' && inner == '\\' {
                        if let Some(escaped) = chars.next() {
                            current.raw.push(escaped);
                            current.value.push(escaped);
                        }
                        continue;
                    }
                    current.value.push(inner);
                }
            }
            '\\' => {
                let current = word.get_or_insert_with(Word::default);
                current.raw.push(c);
                if let Some(escaped) = chars.next() {
                    current.raw.push(escaped);
                    current.value.push(escaped);
                }
            }
            _ => {
                let current = word.get_or_insert_with(Word::default);
                current.raw.push(c);
                current.value.push(c);
            }
        }
    }
    end_word(&mut word, &mut commands);
    commands.retain(|c| !c.is_empty());
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(fixer: &ToolFix, line: &str) -> Option<String> {
        shell_with(fixer, line, &Scripts::default())
    }

    fn shell_with(fixer: &ToolFix, line: &str, scripts: &Scripts) -> Option<String> {
        match fixer.fix_command(&Command::Shell(line.into()), scripts)? {
            Command::Shell(line) => Some(line),
            Command::Argv(_) => None,
        }
    }

    #[test]
    fn the_fix_flags_go_right_after_the_program_however_it_is_run() {
        let eslint = ToolFix::eslint();
        let fix = "--fix --fix-type problem,suggestion";
        assert_eq!(
            shell(
                &eslint,
                r#""$HEAL_TOOLS/node_modules/.bin/eslint" --max-warnings 0 ."#
            ),
            Some(format!(
                r#""$HEAL_TOOLS/node_modules/.bin/eslint" {fix} --max-warnings 0 ."#
            ))
        );
        assert_eq!(
            shell(
                &eslint,
                "npm ci && cd web && CI=1 npx --yes eslint src && npm test"
            ),
            Some(format!("cd web && CI=1 npx --yes eslint {fix} src"))
        );
        assert_eq!(
            shell(&eslint, "node node_modules/eslint/bin/eslint.js 'src dir'"),
            Some(format!(
                "node node_modules/eslint/bin/eslint.js {fix} 'src dir'"
            ))
        );
        let ruff = ToolFix::ruff();
        assert_eq!(
            shell(&ruff, "python -m ruff check --no-cache . ; pytest"),
            Some("python -m ruff check --fix --no-cache .".into())
        );
        assert_eq!(
            ruff.fix_command(
                &Command::Argv(vec!["ruff".into(), "check".into(), "my dir".into()]),
                &Scripts::default()
            ),
            Some(Command::Shell("ruff check --fix 'my dir'".into()))
        );
    }

    #[test]
    fn package_scripts_are_seen_through() {
        let scripts = Scripts(BTreeMap::from([
            ("lint".to_string(), "eslint .".to_string()),
            (
                "check".to_string(),
                "tsc --noEmit && npm run lint -- --quiet".to_string(),
            ),
            ("web:lint".to_string(), "cd web && eslint src".to_string()),
            ("build".to_string(), "vite build".to_string()),
        ]));
        let eslint = ToolFix::eslint();
        let fix = "--fix --fix-type problem,suggestion";
        let path = r#"PATH="$PWD/node_modules/.bin:$PATH""#;
        let cases = [
            ("npm run lint", Some(format!("{path} eslint {fix} ."))),
            (
                "CI=1 pnpm lint",
                Some(format!("CI=1 {path} eslint {fix} .")),
            ),
            (
                "yarn run lint --max-warnings 0",
                Some(format!("{path} eslint {fix} . --max-warnings 0")),
            ),
            (
                "npm run check",
                Some(format!("{path} {path} eslint {fix} . --quiet")),
            ),
            (
                "npm run web:lint",
                Some(format!("cd web && {path} eslint {fix} src")),
            ),
            ("npm run build", None),
            ("npm run missing", None),
            ("pnpm install", None),
        ];
        for (line, expected) in cases {
            assert_eq!(shell_with(&eslint, line, &scripts), expected, "{line}");
        }
        let looping = Scripts(BTreeMap::from([("a".to_string(), "npm run a".to_string())]));
        assert_eq!(
            shell_with(&eslint, "npm run a", &looping),
            None,
            "recursion ends"
        );
    }

    #[test]
    fn a_line_that_does_not_run_the_linter_to_lint_is_left_alone() {
        let ruff = ToolFix::ruff();
        assert_eq!(shell(&ruff, "ruff format --check ."), None);
        assert_eq!(shell(&ruff, "ruff check --diff ."), None);
        assert_eq!(shell(&ruff, "echo ruff check"), None);
        assert_eq!(shell(&ruff, "pytest -q"), None);
        let eslint = ToolFix::eslint();
        assert_eq!(shell(&eslint, "cat a.js | eslint --stdin"), None);
        assert_eq!(shell(&eslint, "grep -r \"eslint\" ."), None);
    }

    #[test]
    fn words_keep_their_quotes_and_commands_split_at_operators() {
        let commands = simple_commands(r#"a "b c"\ d&&e 'f;g' || h|i"#);
        let values: Vec<Vec<&str>> = (commands.iter())
            .map(|c| c.iter().map(|w| w.value.as_str()).collect())
            .collect();
        assert_eq!(
            values,
            [vec!["a", "b c d"], vec!["e", "f;g"], vec!["h"], vec!["i"]]
        );
        assert_eq!(commands[0][1].raw, r#""b c"\ d"#);
        assert!(simple_commands("  ;; && ").is_empty());
        assert_eq!(simple_commands("unterminated 'quote")[0][1].value, "quote");
    }
}
