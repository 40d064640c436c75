//! Turning error signatures into vectors for similarity search.
//!
//! The default [`LexicalEmbedder`] needs no model files and no network: it hashes word, word-pair
//! and character-trigram features of the normalized text into a fixed number of dimensions and
//! normalizes the vector to unit length, so the dot product of two vectors is their cosine
//! similarity. It is deterministic: the same text gives the same vector on every machine, which
//! lets a cache be shared and re-embedded on import.

use crate::Result;
use crate::diagnostic::Fnv64;

/// Embeds texts as unit-length vectors. Implementations are interchangeable only with the same
/// [`id`](Embedder::id): a cache remembers which embedder wrote its vectors.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// Names the embedder and its parameters (`lexical-256`, `openai:text-embedding-3-small`).
    fn id(&self) -> String;

    /// The length of every vector.
    fn dimensions(&self) -> usize;

    /// The cosine similarity from which two texts are taken for the same error.
    fn similarity_threshold(&self) -> f32;

    /// One unit-length vector per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

/// The built-in embedder: feature hashing of words, word pairs and character trigrams.
///
/// A leading `[CODE]` (as [`ErrorSignature::embedding_text`](super::ErrorSignature::embedding_text)
/// writes it) is one strong feature: within one error code, differently worded messages are
/// still the same error. Placeholders (`<q>`, `<n>`) weigh less than words, so that a message
/// with more instance details is not taken for a different error.
///
/// ```
/// use selfheal::cache::{Embedder, LexicalEmbedder, cosine};
///
/// let embedder = LexicalEmbedder::default();
/// let a = embedder.vector("[E0308] mismatched types");
/// let b = embedder.vector("[E0308] mismatched types: expected `<q>`, found `<q>`");
/// let c = embedder.vector("[E0599] no method named `<q>` found for struct `<q>`");
/// assert!(cosine(&a, &b) > embedder.similarity_threshold());
/// assert!(cosine(&a, &c) < embedder.similarity_threshold());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LexicalEmbedder {
    dimensions: usize,
    threshold: f32,
}

impl Default for LexicalEmbedder {
    /// 256 dimensions, threshold 0.75 (measured on the parser corpus: see the README).
    fn default() -> Self {
        LexicalEmbedder {
            dimensions: 256,
            threshold: 0.75,
        }
    }
}

/// Feature weights, chosen on the parser corpus (README, "Fix cache").
const CODE_WEIGHT: f32 = 4.0;
const WORD_WEIGHT: f32 = 1.0;
const PLACEHOLDER_WEIGHT: f32 = 0.3;
const PAIR_WEIGHT: f32 = 0.5;
const TRIGRAM_WEIGHT: f32 = 0.3;

impl LexicalEmbedder {
    /// An embedder with `dimensions` dimensions (at least 16) and the default threshold.
    pub fn with_dimensions(dimensions: usize) -> Self {
        LexicalEmbedder {
            dimensions: dimensions.max(16),
            ..LexicalEmbedder::default()
        }
    }

    /// Sets the similarity threshold.
    pub fn threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// The vector of one text.
    pub fn vector(&self, text: &str) -> Vec<f32> {
        let mut vector = vec![0f32; self.dimensions];
        let lowered = text.to_lowercase();
        let mut message = lowered.trim_start();
        if let Some(rest) = message.strip_prefix('[')
            && let Some((code, rest)) = rest.split_once("] ")
        {
            self.add(&mut vector, &["code", code], CODE_WEIGHT);
            message = rest;
        }
        let words: Vec<&str> = message
            .split(|c: char| !(c.is_alphanumeric() || c == '<' || c == '>' || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        let weight = |word: &str| {
            if word.starts_with('<') && word.ends_with('>') {
                PLACEHOLDER_WEIGHT
            } else {
                WORD_WEIGHT
            }
        };
        for (i, word) in words.iter().enumerate() {
            let word_weight = weight(word);
            self.add(&mut vector, &["w", word], word_weight);
            if let Some(next) = words.get(i + 1) {
                let pair_weight = PAIR_WEIGHT * word_weight.min(weight(next));
                self.add(&mut vector, &["b", word, next], pair_weight);
            }
            if word_weight < WORD_WEIGHT {
                continue;
            }
            // Trigrams of the padded word catch inflections and typos (`assignable`/`assigned`).
            let padded: Vec<char> = std::iter::once(' ')
                .chain(word.chars())
                .chain(std::iter::once(' '))
                .collect();
            for gram in padded.windows(3) {
                let gram: String = gram.iter().collect();
                self.add(&mut vector, &["c", &gram], TRIGRAM_WEIGHT);
            }
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }

    /// Adds `weight` to the feature's dimension, with a sign from the hash so that collisions
    /// cancel out on average instead of adding up.
    fn add(&self, vector: &mut [f32], feature: &[&str], weight: f32) {
        let mut hash = Fnv64::new();
        for part in feature {
            hash.field(part);
        }
        let hash = hash.finish();
        let index = (hash % self.dimensions as u64) as usize;
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        vector[index] += sign * weight;
    }
}

#[async_trait::async_trait]
impl Embedder for LexicalEmbedder {
    fn id(&self) -> String {
        format!("lexical-{}", self.dimensions)
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn similarity_threshold(&self) -> f32 {
        self.threshold
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|text| self.vector(text)).collect())
    }
}

/// Cosine similarity of two unit-length vectors (their dot product); 0 for vectors of different
/// lengths.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    // Eight independent sums let the compiler use SIMD lanes; one running sum would not.
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = (chunks_a.remainder().iter())
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut lanes = [0f32; 8];
    for (x, y) in chunks_a.zip(chunks_b) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        let embedder = LexicalEmbedder::default();
        let a = embedder.vector("E0308 mismatched types expected `<q>`, found `<q>`");
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!(
            a,
            embedder.vector("E0308 mismatched types expected `<q>`, found `<q>`")
        );
        assert!(embedder.vector("").iter().all(|x| *x == 0.0));
        assert_eq!(LexicalEmbedder::with_dimensions(1).dimensions(), 16);
    }

    #[test]
    fn similar_texts_are_closer_than_different_ones() {
        let embedder = LexicalEmbedder::default();
        let base = embedder.vector("[ModuleNotFoundError] No module named '<q>'");
        let same = embedder.vector("[ModuleNotFoundError] No module named '<q>' (from <path>)");
        let other = embedder.vector("unsupported operand type(s) for +: '<q>' and '<q>'");
        assert!(cosine(&base, &same) > 0.8, "{}", cosine(&base, &same));
        assert!(cosine(&base, &other) < 0.4, "{}", cosine(&base, &other));
        assert_eq!(cosine(&base, &[1.0]), 0.0);
    }
}
