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
    /// Names the embedder and its parameters (`lexical-512`, `openai:text-embedding-3-small`).
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
/// ```
/// use selfheal::cache::{Embedder, LexicalEmbedder, cosine};
///
/// let embedder = LexicalEmbedder::default();
/// let a = embedder.vector("TS2304 Cannot find name '<q>'.");
/// let b = embedder.vector("TS2304 error: Cannot find name '<q>'");
/// let c = embedder.vector("TS2322 Type '<q>' is not assignable to type '<q>'.");
/// assert!(cosine(&a, &b) > embedder.similarity_threshold());
/// assert!(cosine(&a, &c) < embedder.similarity_threshold());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LexicalEmbedder {
    dimensions: usize,
    threshold: f32,
}

impl Default for LexicalEmbedder {
    /// 512 dimensions, threshold 0.8.
    fn default() -> Self {
        LexicalEmbedder {
            dimensions: 512,
            threshold: 0.8,
        }
    }
}

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
        let words: Vec<&str> = lowered
            .split(|c: char| !(c.is_alphanumeric() || c == '<' || c == '>' || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        for (i, word) in words.iter().enumerate() {
            self.add(&mut vector, &["w", word], 1.0);
            if let Some(next) = words.get(i + 1) {
                self.add(&mut vector, &["b", word, next], 0.7);
            }
            // Trigrams of the padded word catch inflections and typos (`assignable`/`assigned`).
            let padded: Vec<char> = std::iter::once(' ')
                .chain(word.chars())
                .chain(std::iter::once(' '))
                .collect();
            for gram in padded.windows(3) {
                let gram: String = gram.iter().collect();
                self.add(&mut vector, &["c", &gram], 0.3);
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
    a.iter().zip(b).map(|(x, y)| x * y).sum()
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
        let base = embedder.vector("No module named '<q>'");
        let same = embedder.vector("ModuleNotFoundError No module named '<q>'");
        let other = embedder.vector("unsupported operand type(s) for +: '<q>' and '<q>'");
        assert!(cosine(&base, &same) > 0.8, "{}", cosine(&base, &same));
        assert!(cosine(&base, &other) < 0.4, "{}", cosine(&base, &other));
        assert_eq!(cosine(&base, &[1.0]), 0.0);
    }
}
