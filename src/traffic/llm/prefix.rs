//! Automatic prefix caching, as vLLM does it, keyed by a trace's prefix block hashes.
//!
//! A token trace such as Mooncake's gives each request the hashes of its prompt's blocks
//! (`hash_ids`, one per [`PREFIX_BLOCK_TOKENS`] tokens, each hash standing for the block and
//! everything before it); prompts drawn with a shared system prompt hash theirs per 16 tokens,
//! vLLM's block. A [`Prefix`] says how many tokens its blocks hold. Once a server has computed a whole block of a prompt it keeps the
//! block's KV under its hash; a later prompt that starts with the same hashes reuses them and
//! computes only the rest (at least its last token, as vLLM recomputes a fully cached prompt's
//! last token to sample from it). Lookup stops at the first hash not held.
//!
//! Memory: a cached block occupies the server's KV blocks like any other. While a running
//! sequence uses it, it is *pinned* (counted in use); when the last one leaves it becomes
//! *evictable*: still held, counted apart, and given up — least recently used first, and a
//! sequence's later blocks before its earlier ones, as vLLM frees them — when a new allocation
//! needs the room. Two sequences that compute the same block at once each keep their own copy;
//! only the first is cached.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use crate::spec::llm::PREFIX_BLOCK_TOKENS;

/// A request's prompt block hashes: a range of a shared table, each hash standing for
/// `block_tokens` tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefix {
    hashes: Arc<[u64]>,
    start: u32,
    len: u32,
    block_tokens: u32,
}

impl Prefix {
    /// Hashes `start..start + len` of `hashes`, one per `block_tokens` tokens.
    pub fn new(hashes: Arc<[u64]>, start: u32, len: u32, block_tokens: u32) -> Prefix {
        debug_assert!((start + len) as usize <= hashes.len());
        debug_assert!(block_tokens > 0);
        Prefix {
            hashes,
            start,
            len,
            block_tokens,
        }
    }

    pub fn blocks(&self) -> &[u64] {
        &self.hashes[self.start as usize..(self.start + self.len) as usize]
    }

    /// Tokens per hashed block.
    pub fn block_tokens(&self) -> u32 {
        self.block_tokens
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Running sequences using it.
    refs: u32,
    /// Its place in the eviction order while evictable.
    tick: u64,
    /// KV blocks it occupies.
    kv: u32,
}

/// One server's cached prefix blocks.
#[derive(Debug)]
pub struct PrefixCache {
    /// Tokens per KV block of the server.
    server_block_tokens: u32,
    entries: BTreeMap<u64, Entry>,
    /// Evictable entries by `(tick, hash)`: the first is evicted first.
    evictable: BTreeSet<(u64, u64)>,
    /// KV blocks the evictable entries hold.
    evictable_kv: u32,
    tick: u64,
}

impl PrefixCache {
    /// A cache for a server whose KV blocks hold `block_tokens` tokens each.
    pub fn new(block_tokens: u32) -> PrefixCache {
        PrefixCache {
            server_block_tokens: block_tokens.max(1),
            entries: BTreeMap::new(),
            evictable: BTreeSet::new(),
            evictable_kv: 0,
            tick: 0,
        }
    }

    /// KV blocks one hashed block of `prefix_block_tokens` tokens occupies.
    pub fn kv_per_block(&self, prefix_block_tokens: u32) -> u32 {
        prefix_block_tokens.div_ceil(self.server_block_tokens)
    }

    /// KV blocks held by evictable entries.
    pub fn evictable_kv_blocks(&self) -> u32 {
        self.evictable_kv
    }

    /// How many of `blocks`, from the first, are held.
    pub fn matched(&self, blocks: &[u64]) -> u32 {
        blocks
            .iter()
            .take_while(|h| self.entries.contains_key(h))
            .count() as u32
    }

    /// Pins the first `count` of `blocks` (all held) for a sequence. Returns the KV blocks that
    /// were evictable and are now in use.
    pub fn pin(&mut self, blocks: &[u64]) -> u32 {
        let mut from_evictable = 0;
        for hash in blocks {
            let entry = self.entries.get_mut(hash).expect("pinned blocks are held");
            if entry.refs == 0 {
                self.evictable.remove(&(entry.tick, *hash));
                self.evictable_kv -= entry.kv;
                from_evictable += entry.kv;
            }
            entry.refs += 1;
        }
        from_evictable
    }

    /// Caches a block of `kv` KV blocks a sequence has just computed, pinned by it. Returns
    /// false when the block is already held (the sequence keeps its own copy).
    pub fn insert(&mut self, hash: u64, kv: u32) -> bool {
        match self.entries.entry(hash) {
            std::collections::btree_map::Entry::Occupied(_) => false,
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(Entry {
                    refs: 1,
                    tick: 0,
                    kv,
                });
                true
            }
        }
    }

    /// A sequence leaves: its pinned `blocks` are released, the last first, so that its later
    /// blocks are evicted before its earlier ones. Returns the KV blocks that became evictable.
    pub fn release(&mut self, blocks: &[u64]) -> u32 {
        let mut freed = 0;
        for hash in blocks.iter().rev() {
            let entry = self
                .entries
                .get_mut(hash)
                .expect("released blocks are held");
            entry.refs -= 1;
            if entry.refs == 0 {
                self.tick += 1;
                entry.tick = self.tick;
                self.evictable.insert((entry.tick, *hash));
                self.evictable_kv += entry.kv;
                freed += entry.kv;
            }
        }
        freed
    }

    /// Evicts the least recently used evictable block; false when there is none.
    pub fn evict_one(&mut self) -> bool {
        let Some((_, hash)) = self.evictable.pop_first() else {
            return false;
        };
        if let Some(entry) = self.entries.remove(&hash) {
            self.evictable_kv -= entry.kv;
        }
        true
    }

    /// Forgets everything (the server is gone).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.evictable.clear();
        self.evictable_kv = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_shared_while_pinned_and_evicted_least_recent_tail_first() {
        let mut cache = PrefixCache::new(16);
        assert_eq!(cache.kv_per_block(PREFIX_BLOCK_TOKENS), 32);
        assert_eq!(cache.kv_per_block(16), 1);
        // Sequence A computes blocks 1, 2, 3.
        for h in [1, 2, 3] {
            assert!(cache.insert(h, 32));
        }
        assert!(
            !cache.insert(2, 32),
            "a block computed twice is cached once"
        );
        // B starts with 1, 2 then differs: two blocks match; C shares only 1.
        assert_eq!(cache.matched(&[1, 2, 9]), 2);
        assert_eq!(cache.matched(&[9, 1]), 0, "lookup stops at the first miss");
        assert_eq!(cache.pin(&[1, 2]), 0, "pinned by A: none was evictable");
        // A leaves: 3 becomes evictable (1 and 2 are still B's).
        assert_eq!(cache.release(&[1, 2, 3]), 32);
        assert_eq!(cache.evictable_kv_blocks(), 32);
        // B leaves: 2 then 1 become evictable, in that order (the tail first).
        assert_eq!(cache.release(&[1, 2]), 64);
        assert!(cache.evict_one());
        assert_eq!(cache.matched(&[1, 2, 3]), 2, "3 went first (least recent)");
        assert!(cache.evict_one());
        assert_eq!(cache.matched(&[1, 2]), 1, "then 2, B's tail");
        // Pinning an evictable block takes it back into use.
        assert_eq!(cache.pin(&[1]), 32);
        assert_eq!(cache.evictable_kv_blocks(), 0);
        assert!(!cache.evict_one());
    }
}
