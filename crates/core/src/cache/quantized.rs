//! Vectors as 8-bit integers, for the index's scans and graph walks.
//!
//! A search reads one vector per node it looks at, so it is bound by memory traffic: a 256-dim
//! `f32` vector is 16 cache lines, its `i8` form 4. Searches compare `i8` forms first and score
//! with the exact `f32` vectors only the nodes that can still pass: every approximate similarity
//! comes with a bound on its error, so skipping a node never loses a match an exact scan finds.

/// A vector scaled so its largest component is ±127.
pub(crate) struct QuantizedVector {
    codes: Vec<i8>,
    scale: f32,
    l1: f32,
}

impl QuantizedVector {
    pub(crate) fn new(vector: &[f32]) -> Self {
        let largest = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
        QuantizedVector {
            codes: vector.iter().map(|x| (x / scale).round() as i8).collect(),
            scale,
            l1: vector.iter().map(|x| x.abs()).sum(),
        }
    }
}

/// The `i8` forms of many vectors of one length, stored contiguously.
#[derive(Default)]
pub(crate) struct QuantizedVectors {
    codes: Vec<i8>,
    /// Per vector: its scale and the L1 norm of the original.
    scales: Vec<(f32, f32)>,
}

impl QuantizedVectors {
    pub(crate) fn push(&mut self, vector: &[f32]) {
        let quantized = QuantizedVector::new(vector);
        self.codes.extend_from_slice(&quantized.codes);
        self.scales.push((quantized.scale, quantized.l1));
    }

    /// The similarity of the `index`-th vector to `query`, approximately, and an upper bound
    /// of how far the exact one can be from it.
    ///
    /// Each code is off by at most half its scale, so the dot product is off by at most
    /// `(|a|₁·s_b + |b|₁·s_a) / 2 + n·s_a·s_b / 4`.
    pub(crate) fn similarity(&self, index: usize, query: &QuantizedVector) -> (f32, f32) {
        let dimensions = query.codes.len();
        let codes = &self.codes[index * dimensions..(index + 1) * dimensions];
        let (scale, l1) = self.scales[index];
        let approximate = dot(codes, &query.codes) as f32 * scale * query.scale;
        let error = (l1 * query.scale + query.l1 * scale) / 2.0
            + dimensions as f32 * scale * query.scale / 4.0;
        (approximate, error)
    }
}

fn dot(a: &[i8], b: &[i8]) -> i32 {
    // Sixteen independent sums let the compiler use SIMD lanes, as in `cosine`.
    let (chunks_a, chunks_b) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = (chunks_a.remainder().iter())
        .zip(chunks_b.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    let mut lanes = [0i32; 16];
    for (x, y) in chunks_a.zip(chunks_b) {
        for lane in 0..16 {
            lanes[lane] += i32::from(x[lane]) * i32::from(y[lane]);
        }
    }
    lanes.iter().sum::<i32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{LexicalEmbedder, cosine};

    #[test]
    fn the_exact_similarity_is_always_within_the_bound() {
        let embedder = LexicalEmbedder::default();
        let texts: Vec<String> = (0..60)
            .map(|i| {
                format!(
                    "[E{}] cannot find name 'x{i}' in scope {} of {i}",
                    i % 4,
                    i * 7
                )
            })
            .collect();
        let mut stored = QuantizedVectors::default();
        let vectors: Vec<Vec<f32>> = texts.iter().map(|t| embedder.vector(t)).collect();
        vectors.iter().for_each(|v| stored.push(v));
        for query in &vectors {
            let quantized = QuantizedVector::new(query);
            for (i, vector) in vectors.iter().enumerate() {
                let exact = cosine(query, vector);
                let (approximate, error) = stored.similarity(i, &quantized);
                assert!(
                    (exact - approximate).abs() <= error,
                    "{exact} {approximate} {error}"
                );
                assert!(error < 0.1, "the bound is useful: {error}");
            }
        }
        let zero = QuantizedVector::new(&[0.0; 256]);
        assert_eq!(stored.similarity(0, &zero).0, 0.0);
    }
}
