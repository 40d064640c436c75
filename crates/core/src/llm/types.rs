//! What goes to a model and what comes back.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The caller.
    User,
    /// The model, in an earlier turn.
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: String,
}

impl Message {
    /// A message from the caller.
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }

    /// An earlier answer of the model.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// What a host's one-off call to a provider may set (the Python and Node packages' `complete`):
/// the rest of the request keeps [`CompletionRequest::new`]'s defaults.
///
/// ```
/// use selfheal::llm::{CompletionRequest, RequestOptions};
///
/// let options = RequestOptions { max_tokens: Some(512), ..RequestOptions::default() };
/// let request = CompletionRequest::new("Say hi").with_options(options);
/// assert_eq!((request.max_tokens, request.model), (512, None));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RequestOptions {
    /// A system prompt.
    pub system: Option<String>,
    /// The model; `None` uses the provider's default.
    pub model: Option<String>,
    /// The most tokens the answer may have.
    pub max_tokens: Option<u32>,
}

/// A request for one completion.
///
/// ```
/// use selfheal::llm::CompletionRequest;
///
/// let request = CompletionRequest::new("Fix this build error: …")
///     .system("You fix build errors. Answer with JSON only.")
///     .max_tokens(2048)
///     .json();
/// assert_eq!(request.messages.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Instructions that frame the conversation.
    pub system: Option<String>,
    /// The conversation, oldest first; the last one is the caller's.
    pub messages: Vec<Message>,
    /// The model; `None` uses the provider's default.
    pub model: Option<String>,
    /// The most tokens the answer may have.
    pub max_tokens: u32,
    /// Sampling temperature; `None` uses the provider's default.
    pub temperature: Option<f32>,
    /// Texts that end the answer when generated.
    pub stop: Vec<String>,
    /// Ask for a JSON answer where the API can enforce it (OpenAI `response_format`, Gemini
    /// `responseMimeType`); the prompt should ask for JSON too.
    pub json: bool,
    /// The time the whole call may take, retries included. Layers shrink it as time passes;
    /// providers never wait longer on one HTTP attempt.
    #[serde(with = "crate::millis::optional", default)]
    pub timeout: Option<Duration>,
}

impl CompletionRequest {
    /// A request with one user message and 4096 answer tokens.
    pub fn new(prompt: impl Into<String>) -> Self {
        CompletionRequest {
            system: None,
            messages: vec![Message::user(prompt)],
            model: None,
            max_tokens: 4096,
            temperature: None,
            stop: Vec::new(),
            json: false,
            timeout: None,
        }
    }

    /// Sets the system prompt.
    pub fn system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// Sets the model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets the answer's token limit.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// Sets the temperature.
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Asks for a JSON answer.
    pub fn json(mut self) -> Self {
        self.json = true;
        self
    }

    /// Sets the time the whole call may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Applies what a host's call left open or set: each option given replaces the default.
    pub fn with_options(mut self, options: RequestOptions) -> Self {
        let RequestOptions {
            system,
            model,
            max_tokens,
        } = options;
        self.system = system.or(self.system);
        self.model = model.or(self.model);
        self.max_tokens = max_tokens.unwrap_or(self.max_tokens);
        self
    }

    /// A rough token count of the prompt (four characters a token), for budgets that must be
    /// checked before the provider counts.
    pub fn estimated_input_tokens(&self) -> u64 {
        let chars: usize = self.system.as_deref().map_or(0, str::len)
            + self.messages.iter().map(|m| m.content.len()).sum::<usize>();
        (chars as u64).div_ceil(4)
    }
}

/// Tokens a call consumed (a count left out reads as zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
}

impl Usage {
    /// Both counts together.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished its answer.
    EndTurn,
    /// It hit `max_tokens`: the answer is cut off.
    MaxTokens,
    /// It generated one of the stop texts.
    StopSequence,
    /// The provider withheld or cut the answer (safety, recitation).
    ContentFilter,
    /// Something else, as the provider named it.
    Other(String),
}

/// A finished completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The answer.
    pub text: String,
    /// What it cost in tokens.
    pub usage: Usage,
    /// Why it ended.
    pub stop_reason: FinishReason,
    /// The model that answered, as the provider names it.
    pub model: String,
    /// The provider that answered.
    pub provider: String,
    /// How long the call took.
    #[serde(with = "crate::millis")]
    pub latency: Duration,
}

/// One event of a streamed completion.
///
/// A stream is a sequence of attempts. Each starts with [`StreamEvent::Start`]; text arrives in
/// [`StreamEvent::Text`] pieces; [`StreamEvent::Usage`] reports tokens *added* since the last
/// report (summing every usage event of a stream gives its whole cost, failed attempts
/// included). It ends with [`StreamEvent::Stop`] or [`StreamEvent::Error`]. When a fallback
/// moves to another provider in the middle, or a retry starts a failed answer over,
/// [`StreamEvent::Switched`] says so: text received before it belongs to the abandoned answer.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// An attempt begins.
    Start {
        /// The provider answering.
        provider: String,
        /// The model asked.
        model: String,
    },
    /// A piece of the answer.
    Text(String),
    /// Tokens consumed since the previous usage event.
    Usage(Usage),
    /// The answer is complete.
    Stop(FinishReason),
    /// The stream failed; nothing follows.
    Error(Error),
    /// The answer so far is abandoned: `error` ended it and `to` (another provider, or the same
    /// one asked again) starts over.
    Switched {
        /// The provider that takes over.
        to: String,
        /// Why the previous one was abandoned.
        error: Error,
    },
}

/// What a provider written in a host language (Python, JavaScript) answers: its text, or
/// `{"text": …, "usage": {"input_tokens": …, "output_tokens": …}}` (usage optional).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum HostReply {
    /// The text alone.
    Text(String),
    /// The text and what it cost.
    Counted {
        /// The answer.
        text: String,
        /// Its tokens, when the host counted them.
        #[serde(default)]
        usage: Option<Usage>,
    },
}

impl HostReply {
    /// The completion it makes: `model` of `provider` answered in `latency`, to its end.
    pub fn completion(self, model: String, provider: String, latency: Duration) -> Completion {
        let (text, usage) = match self {
            HostReply::Text(text) => (text, Usage::default()),
            HostReply::Counted { text, usage } => (text, usage.unwrap_or_default()),
        };
        Completion {
            text,
            usage,
            stop_reason: FinishReason::EndTurn,
            model,
            provider,
            latency,
        }
    }
}

/// The stream of a completion: `Send` and owning everything it needs.
pub type CompletionStream = std::pin::Pin<Box<dyn futures_util::Stream<Item = StreamEvent> + Send>>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_host_reply_is_its_text_or_text_and_usage() {
        let read = |value: serde_json::Value| serde_json::from_value::<HostReply>(value).ok();
        let latency = Duration::from_millis(5);
        let done = |reply: HostReply| reply.completion("m".into(), "house".into(), latency);
        let plain = done(read(json!("fixed")).expect("text"));
        assert_eq!(
            (plain.text.as_str(), plain.usage),
            ("fixed", Usage::default())
        );
        assert_eq!(plain.stop_reason, FinishReason::EndTurn);
        let counted = done(
            read(json!({"text": "fixed", "usage": {"input_tokens": 12}, "extra": 1}))
                .expect("object"),
        );
        assert_eq!(
            counted.usage,
            Usage {
                input_tokens: 12,
                output_tokens: 0
            }
        );
        assert!(read(json!({"text": "x", "usage": null})).is_some());
        for wrong in [
            json!(3),
            json!({"usage": {}}),
            json!({"text": 3}),
            json!(null),
        ] {
            assert_eq!(read(wrong.clone()), None, "{wrong}");
        }
    }
}
