//! A scripted HTTP server on 127.0.0.1 that answers model API calls with the replies a test
//! queues: JSON bodies, SSE streams written in pieces of any size, connections dropped mid-way,
//! answers that never come.

pub(crate) mod project;
pub(crate) mod registry;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A fresh, empty folder for a test, `selfheal-NAME-PID` under the system's temporary folder;
/// what an earlier run left there is removed first.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("selfheal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// A complete response.
    Json {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// An event stream sent in `pieces` (chunked encoding, one chunk each); `drop_after`
    /// closes the connection after that many pieces, without finishing the response.
    Stream {
        pieces: Vec<Vec<u8>>,
        drop_after: Option<usize>,
    },
    /// A response whose body stops after `sent` bytes of `body`.
    CutBody { body: String, sent: usize },
    /// No answer for `Duration`, then the connection closes.
    Stall(Duration),
    /// A complete response of any type.
    Bytes { content_type: String, body: Vec<u8> },
}

impl Reply {
    /// A JSON response.
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply::Json {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// A JSON response with extra headers.
    pub(crate) fn json_with(status: u16, body: Value, headers: &[(&str, &str)]) -> Reply {
        Reply::Json {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_string(),
        }
    }

    /// An SSE stream of `text` cut into pieces of `size` bytes (multi-byte characters and line
    /// ends included).
    pub(crate) fn sse(text: &str, size: usize) -> Reply {
        Reply::Stream {
            pieces: text.as_bytes().chunks(size).map(<[u8]>::to_vec).collect(),
            drop_after: None,
        }
    }

    /// An SSE stream of `text` whose connection drops after `kept` bytes.
    pub(crate) fn sse_dropped(text: &str, size: usize, kept: usize) -> Reply {
        let pieces: Vec<Vec<u8>> = text.as_bytes()[..kept]
            .chunks(size)
            .map(<[u8]>::to_vec)
            .collect();
        let drop_after = Some(pieces.len());
        Reply::Stream { pieces, drop_after }
    }
}

/// Formats SSE events: `(event name or "", data)`.
pub(crate) fn sse_text(events: &[(&str, Value)]) -> String {
    let mut text = String::new();
    for (name, data) in events {
        if !name.is_empty() {
            text.push_str(&format!("event: {name}\n"));
        }
        text.push_str(&format!("data: {data}\n\n"));
    }
    text
}

/// `text` in pieces of `size` characters.
pub(crate) fn split(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// An OpenAI chat completion stream of `text` (four characters a chunk), with usage, as
/// `stream_options.include_usage` asks for.
pub(crate) fn openai_stream(text: &str) -> String {
    openai_stream_in(text, 4)
}

/// [`openai_stream`] with `size` characters a chunk.
pub(crate) fn openai_stream_in(text: &str, size: usize) -> String {
    let chunk = |delta: Value, finish: Value| {
        serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    let mut events = vec![(
        "",
        chunk(
            serde_json::json!({"role": "assistant", "content": ""}),
            Value::Null,
        ),
    )];
    for piece in split(text, size) {
        events.push((
            "",
            chunk(serde_json::json!({"content": piece}), Value::Null),
        ));
    }
    events.push(("", chunk(serde_json::json!({}), serde_json::json!("stop"))));
    events.push((
        "",
        serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-2024-08-06",
            "choices": [], "usage": {"prompt_tokens": 90, "completion_tokens": 33, "total_tokens": 123}}),
    ));
    let mut text = sse_text(&events);
    text.push_str("data: [DONE]\n\n");
    text
}

/// A request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Value,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    replies: VecDeque<Reply>,
    received: Vec<Received>,
    routes: std::collections::HashMap<String, Reply>,
}

/// The server; it stops when dropped.
pub(crate) struct Server {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub(crate) async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, state).await;
                });
            }
        });
        Server { addr, state, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn push(&self, reply: Reply) {
        self.state.lock().unwrap().replies.push_back(reply);
    }

    /// Answers every request for `path` with `reply`, ahead of the queue.
    pub(crate) fn route(&self, path: &str, reply: Reply) {
        (self.state.lock().unwrap().routes).insert(path.to_string(), reply);
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut socket: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let header_end = loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while raw.len() < header_end + length {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = serde_json::from_slice(&raw[header_end..]).unwrap_or(Value::Null);
    let reply = {
        let mut state = state.lock().unwrap();
        let routed = state.routes.get(&path).cloned();
        state.received.push(Received {
            path,
            headers,
            body,
        });
        routed.or_else(|| state.replies.pop_front())
    };
    let reply = reply.unwrap_or_else(|| {
        Reply::json(
            500,
            serde_json::json!({"error": {"message": "no scripted reply"}}),
        )
    });
    match reply {
        Reply::Json {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(body.as_bytes()).await?;
        }
        Reply::Stream { pieces, drop_after } => {
            socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
                )
                .await?;
            for (i, piece) in pieces.iter().enumerate() {
                if drop_after == Some(i) {
                    break;
                }
                socket
                    .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .await?;
                socket.write_all(piece).await?;
                socket.write_all(b"\r\n").await?;
                socket.flush().await?;
                // Separate reads on the client, so pieces are not merged on the way.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if drop_after.is_none() {
                socket.write_all(b"0\r\n\r\n").await?;
            }
        }
        Reply::CutBody { body, sent } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(&body.as_bytes()[..sent]).await?;
        }
        Reply::Stall(duration) => tokio::time::sleep(duration).await,
        Reply::Bytes { content_type, body } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(&body).await?;
        }
    }
    socket.flush().await?;
    socket.shutdown().await
}

/// The heal loop's defaults without the waits between attempts, so that tests run fast.
pub(crate) fn quick_heal_config() -> selfheal::heal::HealConfig {
    selfheal::heal::HealConfig {
        attempts: selfheal::heal::AttemptPolicy {
            base_delay: Duration::ZERO,
            ..selfheal::heal::AttemptPolicy::default()
        },
        ..selfheal::heal::HealConfig::default()
    }
}
