//! How the index holds vectors: in chunks, as they are and as 8-bit integers.
//!
//! Chunks of fixed size let a partition grow to a million vectors without ever moving the ones
//! it holds (a growing `Vec` copies them all at each doubling).
//!
//! A search reads one vector per node it looks at, so it is bound by memory traffic: a 256-dim
//! `f32` vector is 16 cache lines, its `i8` form 4. Searches compare `i8` forms first and score
//! with the exact `f32` vectors only the nodes that can still pass: every approximate similarity
//! comes with a bound on its error, so skipping a node never loses a match an exact scan finds.

/// Vectors per chunk.
const CHUNK: usize = 1_024;

/// Vectors of one length, stored in chunks of [`CHUNK`].
pub(crate) struct Chunked<T> {
    dimensions: usize,
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Copy> Chunked<T> {
    pub(crate) fn new(dimensions: usize) -> Self {
        Chunked {
            dimensions,
            chunks: Vec::new(),
            len: 0,
        }
    }

    /// The room for the next vector, to be filled by the caller.
    fn next_slot(&mut self, fill: T) -> &mut [T] {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks
                .push(Vec::with_capacity(CHUNK * self.dimensions));
        }
        self.len += 1;
        match self.chunks.last_mut() {
            Some(chunk) => {
                let start = chunk.len();
                chunk.resize(start + self.dimensions, fill);
                &mut chunk[start..]
            }
            None => &mut [],
        }
    }

    pub(crate) fn push(&mut self, vector: &[T]) {
        if let Some(&first) = vector.first() {
            self.next_slot(first).copy_from_slice(vector);
        }
    }

    pub(crate) fn get(&self, index: usize) -> &[T] {
        let start = (index % CHUNK) * self.dimensions;
        &self.chunks[index / CHUNK][start..start + self.dimensions]
    }
}

/// A query scaled so its largest component is ±127.
pub(crate) struct QuantizedVector {
    codes: Vec<i8>,
    scale: f32,
    l1: f32,
}

impl QuantizedVector {
    pub(crate) fn new(vector: &[f32]) -> Self {
        let mut codes = vec![0; vector.len()];
        let (scale, l1) = quantize(vector, &mut codes);
        QuantizedVector { codes, scale, l1 }
    }
}

/// Writes `vector` scaled so its largest component is ±127 into `codes`; returns the scale
/// and the L1 norm of `vector`.
fn quantize(vector: &[f32], codes: &mut [i8]) -> (f32, f32) {
    // Eight independent lanes, as in `cosine`: one running maximum or sum would be a chain of
    // dependent steps the compiler may not reorder. A comparison rather than `f32::max`, whose
    // NaN rule keeps it from becoming one instruction.
    let keep_larger = |m: f32, x: f32| if x > m { x } else { m };
    let (mut largest, mut l1) = ([0f32; 8], [0f32; 8]);
    let chunks = vector.chunks_exact(8);
    for x in chunks.remainder() {
        largest[0] = keep_larger(largest[0], x.abs());
        l1[0] += x.abs();
    }
    for chunk in chunks {
        let Ok(chunk) = <&[f32; 8]>::try_from(chunk) else {
            continue;
        };
        for lane in 0..8 {
            largest[lane] = keep_larger(largest[lane], chunk[lane].abs());
            l1[lane] += chunk[lane].abs();
        }
    }
    let largest = largest.into_iter().fold(0f32, keep_larger);
    let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
    let inverse = 1.0 / scale;
    // Adding 1.5·2²³ leaves the nearest integer in the low bits of the sum: rounding in one
    // SIMD instruction, where a float-to-int conversion is a scalar one per component. Every
    // component is within ±127 once scaled, far inside the trick's range.
    const ROUND: f32 = 12_582_912.0;
    for (code, x) in codes.iter_mut().zip(vector) {
        *code = ((x * inverse + ROUND).to_bits() as i32 - ROUND.to_bits() as i32) as i8;
    }
    (scale, l1.iter().sum())
}

/// The `i8` forms of many vectors of one length.
pub(crate) struct QuantizedVectors {
    codes: Chunked<i8>,
    /// Per vector: its scale and the L1 norm of the original.
    scales: Vec<(f32, f32)>,
}

impl QuantizedVectors {
    pub(crate) fn new(dimensions: usize) -> Self {
        QuantizedVectors {
            codes: Chunked::new(dimensions),
            scales: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, vector: &[f32]) {
        let scale = quantize(vector, self.codes.next_slot(0));
        self.scales.push(scale);
    }

    /// Asks the CPU to start loading the `index`-th vector: a graph walk knows which vectors
    /// it reads next, and loading them together hides most of the memory latency a search is
    /// bound by (at 160k nodes, searches take half the time).
    pub(crate) fn prefetch(&self, index: usize) {
        #[cfg(target_arch = "x86_64")]
        for line in self.codes.get(index).chunks(64) {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // SAFETY: a prefetch is only a hint: it never faults and changes no memory, and the
            // pointer is into a live slice.
            #[allow(unsafe_code)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(line.as_ptr());
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = index;
    }

    /// The similarity of the `index`-th vector to `query`, approximately, and an upper bound
    /// of how far the exact one can be from it.
    ///
    /// Each code is off by at most half its scale, so the dot product is off by at most
    /// `(|a|₁·s_b + |b|₁·s_a) / 2 + n·s_a·s_b / 4`.
    pub(crate) fn similarity(&self, index: usize, query: &QuantizedVector) -> (f32, f32) {
        let dimensions = query.codes.len();
        let codes = self.codes.get(index);
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
        let mut stored = QuantizedVectors::new(256);
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

    #[test]
    fn chunks_hold_vectors_in_order() {
        let mut chunked = Chunked::new(3);
        for i in 0..2 * CHUNK + 5 {
            chunked.push(&[i, i + 1, i + 2]);
        }
        assert_eq!(chunked.get(0), &[0, 1, 2]);
        assert_eq!(chunked.get(CHUNK), &[CHUNK, CHUNK + 1, CHUNK + 2]);
        assert_eq!(chunked.get(2 * CHUNK + 4)[2], 2 * CHUNK + 6);
        assert_eq!(chunked.chunks.len(), 3);
    }
}
