//! The in-memory vector index of the fix cache.
//!
//! One partition per hard-filter key, so a search only ever sees fixes for the same tool,
//! category and error code. One node per distinct signature (fixes of the same signature share
//! its vector). Small partitions are searched exactly; a partition that grows past
//! [`IndexConfig::exact_below`] nodes gets an HNSW graph, built off the lookup path and swapped
//! in when ready, so a large store answers lookups (exactly) as soon as it is loaded.
//!
//! `hnsw_rs` builds the graph; the index then copies its links into flat arrays and searches
//! them itself over the partition's vectors (their 8-bit forms first, see
//! [`vectors`](super::vectors)). `hnsw_rs`'s own search follows a
//! reference-counted pointer and takes a lock per visited node: on the same graph the flat search
//! is 3–4× faster (160k nodes: p99 3.8 ms → 0.9 ms), and the `hnsw_rs` structure, which holds a
//! second copy of every vector, is dropped once copied.
//!
//! A graph is never changed after it is built: a signature whose fixes are all gone stays in it
//! as a dead node (searches fetch extra neighbours to make up for dead ones), and new signatures
//! are searched exactly beside it; once more than [`IndexConfig::rebuild_dead_fraction`] of the
//! graph is dead, or the new signatures outgrow it, it is rebuilt.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use hnsw_rs::prelude::{Distance, Hnsw};

use super::cosine;
use super::entry::FixId;
use super::vectors::{Chunked, QuantizedVector, QuantizedVectors};

/// How the index searches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexConfig {
    /// Partitions with fewer signatures are searched exactly.
    pub exact_below: usize,
    /// Links per node in a graph (`hnsw_rs` accepts at most 256).
    pub max_connections: usize,
    /// Candidates explored while building a graph.
    pub ef_construction: usize,
    /// Candidates explored per search.
    pub ef_search: usize,
    /// Rebuild a graph when more than this fraction of its nodes is dead, or when the signatures
    /// added since it was built outnumber this fraction of it (they are searched exactly).
    pub rebuild_dead_fraction: f64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            exact_below: 4_000,
            max_connections: 24,
            ef_construction: 100,
            ef_search: 100,
            rebuild_dead_fraction: 0.1,
        }
    }
}

impl IndexConfig {
    /// Checks the values `hnsw_rs` would reject by ending the process.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(2..=256).contains(&self.max_connections) {
            return Err(format!(
                "max_connections must be in 2..=256, not {}",
                self.max_connections
            ));
        }
        if self.ef_construction == 0 || self.ef_search == 0 {
            return Err("ef_construction and ef_search must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.rebuild_dead_fraction) {
            return Err("rebuild_dead_fraction must be in 0.0..=1.0".into());
        }
        Ok(())
    }
}

/// `1 - cosine`, never negative (`hnsw_rs` expects a distance); unlike `hnsw_rs`'s `DistDot`
/// it accepts identical vectors.
#[derive(Debug, Clone, Copy, Default)]
struct CosineDistance;

impl Distance<f32> for CosineDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - cosine(a, b)).max(0.0)
    }
}

/// A graph to build off the lookup path: see [`Index::install`].
pub(crate) struct GraphBuild {
    partition: u64,
    members: Vec<(u32, Vec<f32>)>,
    config: IndexConfig,
}

/// A built graph, ready to install.
pub(crate) struct BuiltGraph {
    partition: u64,
    members: Vec<u32>,
    graph: FlatGraph,
}

impl GraphBuild {
    /// Builds the graph (CPU-heavy: run it on a blocking thread).
    pub(crate) fn run(self) -> BuiltGraph {
        let hnsw = Hnsw::new(
            self.config.max_connections,
            self.members.len().max(1),
            16,
            self.config.ef_construction,
            CosineDistance,
        );
        let points: Vec<(&Vec<f32>, usize)> = (self.members.iter())
            .map(|(node, vector)| (vector, *node as usize))
            .collect();
        hnsw.parallel_insert(&points);
        let members: Vec<u32> = self.members.iter().map(|(node, _)| *node).collect();
        let nodes = members.iter().max().map_or(0, |&last| last as usize + 1);
        BuiltGraph {
            partition: self.partition,
            graph: FlatGraph::from_hnsw(&hnsw, nodes),
            members,
        }
    }
}

/// A signature match found by a search.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SignatureMatch {
    pub(crate) signature: u64,
    pub(crate) similarity: f32,
    pub(crate) fixes: Vec<FixId>,
}

#[derive(Default)]
struct Node {
    signature: u64,
    fixes: Vec<FixId>,
    in_graph: bool,
}

struct Graph {
    flat: FlatGraph,
    members: usize,
    dead: usize,
}

/// An HNSW graph's links in flat arrays, by partition node.
struct FlatGraph {
    /// Where searches start: a node of the top layer.
    entry: Option<u32>,
    /// Links of the layers above the bottom one, top layer last; only their nodes have entries.
    upper: Vec<HashMap<u32, Box<[u32]>>>,
    /// Bottom-layer links of node `n`: `links[offsets[n]..offsets[n + 1]]`.
    offsets: Vec<u32>,
    links: Vec<u32>,
}

struct Partition {
    vectors: Chunked<f32>,
    quantized: QuantizedVectors,
    nodes: Vec<Node>,
    by_signature: HashMap<u64, u32>,
    alive: usize,
    graph: Option<Graph>,
    /// Alive nodes outside the graph, searched exactly until they join one.
    pending: Vec<u32>,
    building: bool,
}

/// The index: partitions by filter key.
pub(crate) struct Index {
    config: IndexConfig,
    dimensions: usize,
    partitions: HashMap<u64, Partition>,
}

impl Index {
    pub(crate) fn new(config: IndexConfig, dimensions: usize) -> Self {
        Index {
            config,
            dimensions,
            partitions: HashMap::new(),
        }
    }

    /// The fixes of exactly this signature.
    pub(crate) fn exact(&self, partition: u64, signature: u64) -> Option<&[FixId]> {
        let partition = self.partitions.get(&partition)?;
        let node = &partition.nodes[*partition.by_signature.get(&signature)? as usize];
        (!node.fixes.is_empty()).then_some(node.fixes.as_slice())
    }

    /// The vector of a signature the index holds.
    pub(crate) fn vector(&self, partition: u64, signature: u64) -> Option<&[f32]> {
        let partition = self.partitions.get(&partition)?;
        let node = *partition.by_signature.get(&signature)?;
        Some(partition.vectors.get(node as usize))
    }

    /// Adds a fix under its signature; `vector` is used when the signature is new to the index.
    /// A vector of the wrong length is ignored.
    pub(crate) fn add(&mut self, partition_key: u64, signature: u64, vector: &[f32], fix: FixId) {
        if vector.len() != self.dimensions {
            return;
        }
        let dimensions = self.dimensions;
        let partition =
            (self.partitions.entry(partition_key)).or_insert_with(|| Partition::new(dimensions));
        let node = match partition.by_signature.get(&signature) {
            Some(&node) => node,
            None => {
                let Ok(node) = u32::try_from(partition.nodes.len()) else {
                    return;
                };
                partition.nodes.push(Node {
                    signature,
                    ..Node::default()
                });
                partition.vectors.push(vector);
                partition.quantized.push(vector);
                partition.by_signature.insert(signature, node);
                node
            }
        };
        let entry = &mut partition.nodes[node as usize];
        if entry.fixes.contains(&fix) {
            return;
        }
        entry.fixes.push(fix);
        if entry.fixes.len() == 1 {
            partition.alive += 1;
            partition.revive(node);
        }
    }

    /// Removes a fix; its signature's node dies with its last fix.
    pub(crate) fn remove(&mut self, partition_key: u64, signature: u64, fix: FixId) {
        let Some(partition) = self.partitions.get_mut(&partition_key) else {
            return;
        };
        let Some(&node) = partition.by_signature.get(&signature) else {
            return;
        };
        let entry = &mut partition.nodes[node as usize];
        let before = entry.fixes.len();
        entry.fixes.retain(|id| *id != fix);
        if before == 0 || !entry.fixes.is_empty() {
            return;
        }
        partition.alive -= 1;
        if entry.in_graph
            && let Some(graph) = &mut partition.graph
        {
            graph.dead += 1;
        }
    }

    /// The signatures in a partition at least `threshold` similar to `query`, most similar
    /// first, at most `limit`.
    pub(crate) fn search(
        &self,
        partition_key: u64,
        query: &[f32],
        threshold: f32,
        limit: usize,
    ) -> Vec<SignatureMatch> {
        let Some(partition) = self.partitions.get(&partition_key) else {
            return Vec::new();
        };
        if query.len() != self.dimensions || limit == 0 {
            return Vec::new();
        }
        let quantized_query = QuantizedVector::new(query);
        let approximate =
            |node: u32| (partition.quantized).similarity(node as usize, &quantized_query);
        // Each candidate's exact similarity lies within [lower, upper].
        let mut candidates: Vec<(u32, f32, f32)> = Vec::new();
        let mut consider = |node: u32| {
            if !partition.nodes[node as usize].fixes.is_empty() {
                let (similarity, error) = approximate(node);
                if similarity + error >= threshold {
                    candidates.push((node, similarity - error, similarity + error));
                }
            }
        };
        match &partition.graph {
            Some(graph) => {
                // Dead nodes come back from the graph too: fetch enough to still fill `limit`.
                let wanted = (limit + graph.dead).min(graph.members.max(1));
                let ef = self.config.ef_search.max(wanted);
                let prefetch = |node: u32| partition.quantized.prefetch(node as usize);
                for node in graph.flat.search(|node| approximate(node).0, prefetch, ef) {
                    consider(node);
                }
                partition.pending.iter().for_each(|&node| consider(node));
            }
            None => (0..partition.nodes.len() as u32).for_each(consider),
        }
        // The `limit` best are at least the `limit`-th best lower bound: a candidate whose
        // upper bound is below it cannot be among them, and is never scored exactly.
        let mut floor = threshold;
        if candidates.len() > limit {
            let (_, nth, _) =
                candidates.select_nth_unstable_by(limit - 1, |a, b| b.1.total_cmp(&a.1));
            floor = floor.max(nth.1);
        }
        let mut best = TopK::new(limit);
        for (node, _, upper) in candidates {
            if upper >= floor {
                let similarity = cosine(query, partition.vector(node));
                if similarity >= threshold {
                    best.offer(node, similarity);
                }
            }
        }
        best.into_sorted()
            .into_iter()
            .map(|(node, similarity)| {
                let entry = &partition.nodes[node as usize];
                SignatureMatch {
                    signature: entry.signature,
                    similarity,
                    fixes: entry.fixes.clone(),
                }
            })
            .collect()
    }

    /// Installs a graph built by [`GraphBuild::run`]; nodes added or revived meanwhile join it
    /// (or, when they are many, the next build). Returns the partition again when it needs
    /// another build already.
    pub(crate) fn install(&mut self, built: BuiltGraph) -> Option<u64> {
        let partition = self.partitions.get_mut(&built.partition)?;
        for node in &mut partition.nodes {
            node.in_graph = false;
        }
        let mut dead = 0;
        for &member in &built.members {
            let node = &mut partition.nodes[member as usize];
            node.in_graph = true;
            dead += usize::from(node.fixes.is_empty());
        }
        partition.graph = Some(Graph {
            flat: built.graph,
            members: built.members.len(),
            dead,
        });
        partition.building = false;
        partition.pending = (0..partition.nodes.len() as u32)
            .filter(|&node| {
                let entry = &partition.nodes[node as usize];
                !entry.in_graph && !entry.fixes.is_empty()
            })
            .collect();
        self.needs_build(built.partition).then_some(built.partition)
    }

    /// The partitions that need a graph built, largest first; each is returned once until
    /// its graph is installed.
    pub(crate) fn builds_needed(&mut self) -> Vec<u64> {
        let mut keys: Vec<(usize, u64)> = (self.partitions.iter())
            .map(|(key, partition)| (partition.alive, *key))
            .collect();
        keys.sort_unstable_by(|a, b| b.cmp(a));
        keys.into_iter()
            .map(|(_, key)| key)
            .filter(|&key| self.needs_build(key))
            .collect()
    }

    /// Partitions, signatures, and signatures searched through a graph.
    pub(crate) fn sizes(&self) -> (usize, usize, usize) {
        let partitions = self.partitions.len();
        let signatures = self.partitions.values().map(|p| p.alive).sum();
        let in_graphs = (self.partitions.values())
            .filter_map(|p| p.graph.as_ref().map(|g| g.members - g.dead))
            .sum();
        (partitions, signatures, in_graphs)
    }

    /// Whether a partition needs a (new) graph; marks it so that it is asked for once.
    fn needs_build(&mut self, partition_key: u64) -> bool {
        let config = self.config;
        let Some(partition) = self.partitions.get_mut(&partition_key) else {
            return false;
        };
        if partition.building {
            return false;
        }
        let needed = match &partition.graph {
            None => partition.alive >= config.exact_below,
            Some(graph) => {
                let limit = config.rebuild_dead_fraction * graph.members as f64;
                graph.dead as f64 > limit
                    || partition.pending.len() as f64 > limit.min(config.exact_below as f64)
            }
        };
        partition.building = needed;
        needed
    }

    /// The build of a partition marked by [`builds_needed`](Index::builds_needed), with its
    /// alive signatures as they are now.
    pub(crate) fn start_build(&self, partition_key: u64) -> Option<GraphBuild> {
        let partition = self.partitions.get(&partition_key)?;
        let members = (0..partition.nodes.len() as u32)
            .filter(|&node| !partition.nodes[node as usize].fixes.is_empty())
            .map(|node| (node, partition.vector(node).to_vec()))
            .collect();
        Some(GraphBuild {
            partition: partition_key,
            members,
            config: self.config,
        })
    }
}

impl Partition {
    fn new(dimensions: usize) -> Self {
        Partition {
            vectors: Chunked::new(dimensions),
            quantized: QuantizedVectors::new(dimensions),
            nodes: Vec::new(),
            by_signature: HashMap::new(),
            alive: 0,
            graph: None,
            pending: Vec::new(),
            building: false,
        }
    }

    fn vector(&self, node: u32) -> &[f32] {
        self.vectors.get(node as usize)
    }

    /// A node came alive: back in its graph, or searched exactly until the next graph.
    fn revive(&mut self, node: u32) {
        let Some(graph) = &mut self.graph else {
            return;
        };
        if self.nodes[node as usize].in_graph {
            graph.dead = graph.dead.saturating_sub(1);
        } else {
            self.pending.push(node);
        }
    }
}

impl FlatGraph {
    /// Copies the links of a built graph whose data ids are partition nodes below `nodes`.
    fn from_hnsw(hnsw: &Hnsw<'static, f32, CosineDistance>, nodes: usize) -> Self {
        let indexation = hnsw.get_point_indexation();
        let top = usize::from(indexation.get_max_level_observed());
        let entry =
            (indexation.get_layer_iterator(top).next()).map(|point| point.get_origin_id() as u32);
        let mut bottom: Vec<Vec<u32>> = vec![Vec::new(); nodes];
        let mut upper = vec![HashMap::new(); top];
        for point in indexation {
            let node = point.get_origin_id();
            for (layer, neighbours) in point.get_neighborhood_id().into_iter().enumerate() {
                let links = neighbours.iter().map(|n| n.d_id as u32);
                if layer == 0 {
                    bottom[node] = links.collect();
                } else if layer <= top && !neighbours.is_empty() {
                    upper[layer - 1].insert(node as u32, links.collect());
                }
            }
        }
        let mut offsets = Vec::with_capacity(nodes + 1);
        offsets.push(0);
        let mut links = Vec::with_capacity(bottom.iter().map(Vec::len).sum());
        for node_links in bottom {
            links.extend(node_links);
            offsets.push(links.len() as u32);
        }
        FlatGraph {
            entry,
            upper,
            offsets,
            links,
        }
    }

    /// The (up to) `ef` nodes most similar to a query, by the query's `similarity` to a node:
    /// greedy descent through the upper layers, then a best-first search of the bottom layer.
    /// `prefetch` is called for a node shortly before its similarity is asked for.
    fn search(
        &self,
        similarity: impl Fn(u32) -> f32,
        prefetch: impl Fn(u32),
        ef: usize,
    ) -> Vec<u32> {
        let Some(mut current) = self.entry else {
            return Vec::new();
        };
        // Distances as the bits of non-negative floats order like the floats and hash.
        let distance = |node: u32| (1.0 - similarity(node)).max(0.0).to_bits();
        let mut current_distance = distance(current);
        for layer in self.upper.iter().rev() {
            while let Some(links) = layer.get(&current) {
                let nearest = (links.iter())
                    .map(|&node| (distance(node), node))
                    .min()
                    .filter(|&(d, _)| d < current_distance);
                let Some((d, node)) = nearest else { break };
                (current_distance, current) = (d, node);
            }
        }
        let mut visited = vec![0u64; self.offsets.len().div_ceil(64)];
        let mut visit = |node: u32| {
            let (word, bit) = (node as usize / 64, 1u64 << (node % 64));
            let fresh = visited.get(word).is_some_and(|w| w & bit == 0);
            if fresh {
                visited[word] |= bit;
            }
            fresh
        };
        visit(current);
        let mut candidates = BinaryHeap::from([Reverse((current_distance, current))]);
        let mut unvisited = Vec::new();
        let mut found = BinaryHeap::from([(current_distance, current)]);
        while let Some(Reverse((nearest, node))) = candidates.pop() {
            if found.len() >= ef && found.peek().is_some_and(|&(worst, _)| nearest > worst) {
                break;
            }
            let node = node as usize;
            let Some(range) = self.offsets.get(node..node + 2) else {
                continue;
            };
            // Every unvisited neighbour is asked for before the first is compared, so that their
            // loads from memory overlap.
            unvisited.clear();
            for &neighbour in &self.links[range[0] as usize..range[1] as usize] {
                if visit(neighbour) {
                    prefetch(neighbour);
                    unvisited.push(neighbour);
                }
            }
            for &neighbour in &unvisited {
                let d = distance(neighbour);
                if found.len() < ef || found.peek().is_some_and(|&(worst, _)| d < worst) {
                    candidates.push(Reverse((d, neighbour)));
                    found.push((d, neighbour));
                    if found.len() > ef {
                        found.pop();
                    }
                }
            }
        }
        found.into_iter().map(|(_, node)| node).collect()
    }
}

/// The `k` best (node, similarity) pairs seen; ties keep the earlier node.
struct TopK {
    limit: usize,
    items: Vec<(u32, f32)>,
}

impl TopK {
    fn new(limit: usize) -> Self {
        TopK {
            limit,
            items: Vec::with_capacity(limit + 1),
        }
    }

    fn offer(&mut self, node: u32, similarity: f32) {
        if self.items.iter().any(|(n, _)| *n == node) {
            return;
        }
        if self.items.len() == self.limit {
            match self.items.last() {
                Some((_, worst)) if similarity > *worst => {
                    self.items.pop();
                }
                _ => return,
            }
        }
        let at = self.items.partition_point(|(_, s)| *s >= similarity);
        self.items.insert(at, (node, similarity));
    }

    fn into_sorted(self) -> Vec<(u32, f32)> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::LexicalEmbedder;

    fn small_graphs() -> IndexConfig {
        IndexConfig {
            exact_below: 50,
            ..IndexConfig::default()
        }
    }

    /// Builds and installs every graph asked for; returns how many.
    fn build_all(index: &mut Index) -> usize {
        let mut built = 0;
        for key in index.builds_needed() {
            let graph = index.start_build(key).unwrap().run();
            assert!(index.install(graph).is_none());
            built += 1;
        }
        built
    }

    fn texts(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "[E{}] error number {i} about thing{} and kind{}",
                    i % 3,
                    i,
                    i * 7
                )
            })
            .collect()
    }

    #[test]
    fn graph_search_agrees_with_exact_search() {
        let embedder = LexicalEmbedder::default();
        let texts = texts(400);
        let mut exact = Index::new(
            IndexConfig {
                exact_below: usize::MAX,
                ..IndexConfig::default()
            },
            256,
        );
        let mut graphed = Index::new(small_graphs(), 256);
        for (i, text) in texts.iter().enumerate() {
            let vector = embedder.vector(text);
            exact.add(1, i as u64, &vector, i as FixId);
            graphed.add(1, i as u64, &vector, i as FixId);
        }
        assert!(exact.builds_needed().is_empty());
        assert_eq!(build_all(&mut graphed), 1);
        assert_eq!(graphed.sizes(), (1, 400, 400));
        let mut agree = 0;
        for text in texts.iter().step_by(7) {
            let query = embedder.vector(&format!("{text} again"));
            let a = exact.search(1, &query, 0.0, 1);
            let b = graphed.search(1, &query, 0.0, 1);
            agree += usize::from(a[0].signature == b[0].signature);
        }
        assert!(agree >= 56, "{agree} of 58");
    }

    #[test]
    fn dead_nodes_are_never_returned_and_trigger_a_rebuild() {
        let embedder = LexicalEmbedder::default();
        let mut index = Index::new(small_graphs(), 256);
        for (i, text) in texts(100).iter().enumerate() {
            index.add(7, i as u64, &embedder.vector(text), i as FixId);
        }
        assert_eq!(build_all(&mut index), 1);
        let query = embedder.vector(&texts(100)[10]);
        assert_eq!(index.search(7, &query, 0.9, 1)[0].signature, 10);
        for i in 0..10 {
            index.remove(7, 10 + i, (10 + i) as FixId);
        }
        assert!(
            index.builds_needed().is_empty(),
            "10 of 100 dead is tolerated"
        );
        index.remove(7, 20, 20);
        let found = index.search(7, &query, 0.0, 5);
        assert_eq!(found.len(), 5);
        assert!(found.iter().all(|m| !(10..=20).contains(&m.signature)));
        assert_eq!(
            build_all(&mut index),
            1,
            "11 of 100 dead asks for a rebuild"
        );
        assert_eq!(index.sizes(), (1, 89, 89));
        // A revived signature joins the new graph.
        index.add(7, 10, &embedder.vector(&texts(100)[10]), 10);
        assert_eq!(index.search(7, &query, 0.9, 1)[0].signature, 10);
        assert!(index.exact(7, 10).is_some() && index.exact(7, 11).is_none());
    }

    #[test]
    fn new_signatures_are_searched_beside_the_graph_until_they_outgrow_it() {
        let embedder = LexicalEmbedder::default();
        let texts = texts(111);
        let mut index = Index::new(small_graphs(), 256);
        for (i, text) in texts.iter().enumerate().take(100) {
            index.add(3, i as u64, &embedder.vector(text), i as FixId);
        }
        assert_eq!(build_all(&mut index), 1);
        for (i, text) in texts.iter().enumerate().skip(100).take(10) {
            index.add(3, i as u64, &embedder.vector(text), i as FixId);
        }
        assert!(
            index.builds_needed().is_empty(),
            "10 new of 100 is tolerated"
        );
        let query = embedder.vector(&texts[105]);
        assert_eq!(index.search(3, &query, 0.9, 1)[0].signature, 105);
        index.add(3, 110, &embedder.vector(&texts[110]), 110);
        assert_eq!(build_all(&mut index), 1, "11 new ask for a rebuild");
        assert_eq!(index.sizes(), (1, 111, 111));
        assert_eq!(index.search(3, &query, 0.9, 1)[0].signature, 105);
    }

    #[test]
    fn invalid_graph_settings_are_refused() {
        let too_many = IndexConfig {
            max_connections: 257,
            ..IndexConfig::default()
        };
        assert!(too_many.validate().is_err());
        assert!(IndexConfig::default().validate().is_ok());
    }
}
