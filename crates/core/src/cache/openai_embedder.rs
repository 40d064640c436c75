//! Vectors from an embeddings API in OpenAI's format (`POST {base}/embeddings`): OpenAI itself,
//! Ollama (`http://localhost:11434/v1`), vLLM, LM Studio and other compatible servers.

use std::time::Duration;

use serde_json::Value;

use super::Embedder;
use crate::llm::{ProviderError, ProviderErrorKind, default_client, embeddings};
use crate::{Error, Result};

const NAME: &str = "openai-embeddings";

/// Texts sent per request.
const BATCH: usize = 256;

/// An [`Embedder`] backed by an OpenAI-compatible `/embeddings` endpoint.
///
/// Vectors are normalized to unit length (not every server does). The threshold defaults to
/// the seed's 0.85, meant for semantic models; measure your model on your errors and set it.
///
/// ```no_run
/// use selfheal::cache::OpenAiEmbedder;
///
/// let ollama = OpenAiEmbedder::compatible("http://localhost:11434/v1", None, "nomic-embed-text", 768)?;
/// let openai = OpenAiEmbedder::compatible("https://api.openai.com/v1", Some("sk-…".into()), "text-embedding-3-small", 1536)?
///     .threshold(0.8);
/// # Ok::<(), selfheal::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OpenAiEmbedder {
    base_url: String,
    api_key: Option<String>,
    model: String,
    dimensions: usize,
    threshold: f32,
    timeout: Duration,
    client: reqwest::Client,
}

impl OpenAiEmbedder {
    /// The server at `base_url` (up to, not including, `/embeddings`), its `model`, and the
    /// length of the model's vectors.
    pub fn compatible(
        base_url: impl Into<String>,
        api_key: Option<String>,
        model: impl Into<String>,
        dimensions: usize,
    ) -> Result<Self> {
        if dimensions == 0 {
            return Err(Error::InvalidInput(
                "embedding dimensions must be positive".into(),
            ));
        }
        Ok(OpenAiEmbedder {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            api_key,
            model: model.into(),
            dimensions,
            threshold: 0.85,
            timeout: Duration::from_secs(60),
            client: default_client()?,
        })
    }

    /// Sets the similarity threshold.
    pub fn threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// Sets the timeout of one request (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let endpoint = (self.base_url.as_str(), self.api_key.as_deref());
        let reply = embeddings(
            NAME,
            &self.client,
            endpoint,
            &self.model,
            texts,
            self.timeout,
        )
        .await?;
        let data = reply["data"]
            .as_array()
            .ok_or_else(|| malformed("no `data` array in the reply"))?;
        if data.len() != texts.len() {
            return Err(malformed(&format!(
                "{} vectors for {} texts",
                data.len(),
                texts.len()
            )));
        }
        let mut vectors = vec![Vec::new(); texts.len()];
        for (position, item) in data.iter().enumerate() {
            let index = item["index"].as_u64().map_or(position, |i| i as usize);
            let slot = vectors
                .get_mut(index)
                .ok_or_else(|| malformed(&format!("vector index {index} out of range")))?;
            *slot = self.unit_vector(&item["embedding"])?;
        }
        if vectors.iter().any(Vec::is_empty) {
            return Err(malformed("a text got no vector"));
        }
        Ok(vectors)
    }

    fn unit_vector(&self, value: &Value) -> Result<Vec<f32>> {
        let numbers = value
            .as_array()
            .ok_or_else(|| malformed("an `embedding` is not an array of numbers"))?;
        if numbers.len() != self.dimensions {
            return Err(malformed(&format!(
                "a vector of {} dimensions, expected {}",
                numbers.len(),
                self.dimensions
            )));
        }
        let mut vector = numbers
            .iter()
            .map(|x| x.as_f64().map(|x| x as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| malformed("an `embedding` holds something other than numbers"))?;
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            return Err(malformed("a zero or non-finite vector"));
        }
        vector.iter_mut().for_each(|x| *x /= norm);
        Ok(vector)
    }
}

fn malformed(message: &str) -> Error {
    ProviderError::new(NAME, ProviderErrorKind::MalformedResponse, message).into()
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbedder {
    fn id(&self) -> String {
        format!("openai:{}:{}", self.model, self.dimensions)
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn similarity_threshold(&self) -> f32 {
        self.threshold
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }
}
