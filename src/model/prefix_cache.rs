//! The prefix cache: a line crop that was read before is not encoded again. For an OCR model
//! the "prefix" of a line's decode is its image: the encoder output, projected to every
//! decoder layer's cross-attention keys and values. Pages of one form template share many
//! crops (labels, headers, units), and a page sent again shares all of them, so those reuse
//! the stored keys/values. Keys are the SHA-256 of the model-ready pixels, so only a
//! pixel-identical input hits. The cache is bounded in bytes and evicts the least recently
//! used entry first.

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use lru::LruCache;
use sha2::{Digest, Sha256};

/// SHA-256 of an input's shape and pixel values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// `dims`: the input's shape, so equal pixels of another shape do not collide.
    pub fn of(dims: &[usize], pixels: &[f32]) -> Self {
        let mut h = Sha256::new();
        for d in dims {
            h.update((*d as u64).to_le_bytes());
        }
        // Bit patterns, so -0.0 and 0.0 (or two NaNs) are told apart exactly as stored.
        let mut buf = Vec::with_capacity(pixels.len() * 4);
        for p in pixels {
            buf.extend_from_slice(&p.to_bits().to_le_bytes());
        }
        h.update(&buf);
        Fingerprint(h.finalize().into())
    }
}

/// One input's encoding as the decoder uses it: per decoder layer, the cross-attention keys
/// and values `[1, heads, len, head_dim]` of its `len` valid encoder positions.
#[derive(Debug, Clone)]
pub struct Encoding<B: Backend> {
    pub len: usize,
    pub cross: Vec<(Tensor<B, 4>, Tensor<B, 4>)>,
}

impl<B: Backend> Encoding<B> {
    /// Bytes held by the keys and values (f32 elements).
    pub fn bytes(&self) -> usize {
        self.cross
            .iter()
            .map(|(k, v)| (k.shape().num_elements() + v.shape().num_elements()) * 4)
            .sum()
    }
}

/// What the cache has done since it was made (the server's `/metrics` reads the per-request
/// figures; these are for tests and reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub lookups: u64,
    pub hits: u64,
    pub evictions: u64,
    pub entries: usize,
    pub bytes: usize,
}

/// Encodings by fingerprint, at most `budget` bytes of keys/values.
pub struct PrefixCache<B: Backend> {
    entries: LruCache<Fingerprint, Encoding<B>>,
    budget: usize,
    stats: CacheStats,
}

impl<B: Backend> PrefixCache<B> {
    pub fn new(budget_bytes: usize) -> Self {
        PrefixCache {
            entries: LruCache::unbounded(),
            budget: budget_bytes,
            stats: CacheStats::default(),
        }
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    /// The stored encoding of `key` (now the most recently used), if any.
    pub fn get(&mut self, key: &Fingerprint) -> Option<Encoding<B>> {
        self.stats.lookups += 1;
        let hit = self.entries.get(key).cloned();
        self.stats.hits += u64::from(hit.is_some());
        hit
    }

    /// Stores `value`, evicting the least recently used entries until it fits. An encoding
    /// larger than the whole budget is not stored.
    pub fn put(&mut self, key: Fingerprint, value: Encoding<B>) {
        let size = value.bytes();
        if size > self.budget {
            return;
        }
        if let Some(old) = self.entries.pop(&key) {
            self.stats.bytes -= old.bytes();
        }
        while self.stats.bytes + size > self.budget {
            match self.entries.pop_lru() {
                Some((_, old)) => {
                    self.stats.bytes -= old.bytes();
                    self.stats.evictions += 1;
                }
                None => break,
            }
        }
        self.stats.bytes += size;
        self.entries.put(key, value);
        self.stats.entries = self.entries.len();
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len(),
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    fn encoding(len: usize) -> Encoding<Flex> {
        let dev = Default::default();
        // 2 layers × (k, v) × 1×2×len×4 f32 = 128·len bytes.
        let t = || Tensor::<Flex, 4>::ones([1, 2, len, 4], &dev);
        Encoding {
            len,
            cross: vec![(t(), t()), (t(), t())],
        }
    }

    fn key(i: u8) -> Fingerprint {
        Fingerprint::of(&[1], &[f32::from(i)])
    }

    #[test]
    fn fingerprints_tell_shape_and_pixels_apart() {
        assert_eq!(
            Fingerprint::of(&[2, 1], &[0.5, 1.0]),
            Fingerprint::of(&[2, 1], &[0.5, 1.0])
        );
        assert_ne!(
            Fingerprint::of(&[2, 1], &[0.5, 1.0]),
            Fingerprint::of(&[1, 2], &[0.5, 1.0])
        );
        assert_ne!(
            Fingerprint::of(&[2, 1], &[0.5, 1.0]),
            Fingerprint::of(&[2, 1], &[0.5, 0.9])
        );
        assert_ne!(
            Fingerprint::of(&[1], &[0.0]),
            Fingerprint::of(&[1], &[-0.0])
        );
    }

    #[test]
    fn hits_count_and_least_recently_used_goes_first() {
        assert_eq!(encoding(1).bytes(), 128);
        let mut cache = PrefixCache::<Flex>::new(3 * 128);
        for i in 0..3 {
            cache.put(key(i), encoding(1));
        }
        assert!(cache.get(&key(0)).is_some()); // 0 is now the most recent
        cache.put(key(3), encoding(1)); // evicts 1, the least recently used
        assert!(cache.get(&key(1)).is_none());
        assert!(cache.get(&key(0)).is_some());
        assert!(cache.get(&key(2)).is_some());
        assert!(cache.get(&key(3)).is_some());
        let s = cache.stats();
        assert_eq!((s.lookups, s.hits, s.evictions), (5, 4, 1));
        assert_eq!((s.entries, s.bytes), (3, 3 * 128));
    }

    #[test]
    fn stays_within_its_budget() {
        let mut cache = PrefixCache::<Flex>::new(1000);
        for i in 0..50 {
            cache.put(key(i), encoding(1 + usize::from(i % 3)));
            assert!(cache.stats().bytes <= 1000);
        }
        // Larger than the whole budget: not stored, nothing evicted for it.
        let before = cache.stats();
        cache.put(key(200), encoding(10));
        assert_eq!(cache.stats().entries, before.entries);
        assert!(cache.get(&key(200)).is_none());
        // Storing a key again replaces it without counting it twice.
        let mut cache = PrefixCache::<Flex>::new(1000);
        cache.put(key(1), encoding(2));
        cache.put(key(1), encoding(2));
        assert_eq!(cache.stats().bytes, 256);
    }
}
