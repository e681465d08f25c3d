//! A map from disjoint half-open address ranges to values: the bookkeeping
//! behind the guest's mappings. Pure, no unsafe.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct RangeMap<V> {
    /// start -> (end, value); ranges never overlap and are never empty.
    map: BTreeMap<u64, (u64, V)>,
}

impl<V: Clone + PartialEq> RangeMap<V> {
    pub fn new() -> Self {
        RangeMap {
            map: BTreeMap::new(),
        }
    }

    /// Splits any range that straddles `at`, so `at` becomes a boundary.
    fn split_at(&mut self, at: u64) {
        let Some((&start, &(end, ref value))) = self.map.range(..at).next_back() else {
            return;
        };
        if end > at {
            let value = value.clone();
            self.map.insert(start, (at, value.clone()));
            self.map.insert(at, (end, value));
        }
    }

    /// Removes whatever maps `[start, end)`, keeping the parts outside it.
    pub fn remove(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.map.range(start..end).map(|(&k, _)| k).collect();
        for k in keys {
            self.map.remove(&k);
        }
    }

    /// Maps `[start, end)` to `value`, replacing what was there.
    pub fn insert(&mut self, start: u64, end: u64, value: V) {
        if start >= end {
            return;
        }
        self.remove(start, end);
        self.map.insert(start, (end, value));
    }

    /// Applies `f` to the values over `[start, end)`, splitting at the edges.
    pub fn update(&mut self, start: u64, end: u64, mut f: impl FnMut(&mut V)) {
        if start >= end {
            return;
        }
        self.split_at(start);
        self.split_at(end);
        for (_, (_, value)) in self.map.range_mut(start..end) {
            f(value);
        }
    }

    /// The pieces of `[start, end)` that are mapped, clipped to it, in order.
    pub fn overlapping(&self, start: u64, end: u64) -> Vec<(u64, u64, V)> {
        self.pieces(start, end)
            .map(|(s, e, v)| (s, e, v.clone()))
            .collect()
    }

    /// Like [`RangeMap::overlapping`], borrowing the values: no allocation,
    /// for the checks on every guest buffer a syscall names.
    pub fn pieces(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, u64, &V)> + '_ {
        let first = self
            .map
            .range(..=start)
            .next_back()
            .filter(|(_, (e, _))| *e > start)
            .map_or(start, |(&s, _)| s);
        // An empty range yields nothing (and `first..end` must not be
        // built backwards, which BTreeMap::range rejects).
        let keys = if start < end {
            first..end
        } else {
            start..start
        };
        self.map
            .range(keys)
            .map(move |(&s, (e, v))| (s.max(start), (*e).min(end), v))
    }

    /// Whether every byte of `[start, end)` is mapped with a value `ok` accepts.
    pub fn covered(&self, start: u64, end: u64, ok: impl Fn(&V) -> bool) -> bool {
        let mut at = start;
        for (s, e, v) in self.pieces(start, end) {
            if s != at || !ok(v) {
                return false;
            }
            at = e;
        }
        at >= end
    }

    /// Whether nothing in `[start, end)` is mapped.
    pub fn is_free(&self, start: u64, end: u64) -> bool {
        self.pieces(start, end).next().is_none()
    }

    /// The value at `addr`, with its range.
    pub fn get(&self, addr: u64) -> Option<(u64, u64, &V)> {
        let (&s, (e, v)) = self.map.range(..=addr).next_back()?;
        (*e > addr).then_some((s, *e, v))
    }

    /// The highest free `len`-byte gap, `align`ed, within `[floor, ceiling)`.
    pub fn find_gap_below(&self, len: u64, floor: u64, ceiling: u64, align: u64) -> Option<u64> {
        let mut top = ceiling;
        for (&s, &(e, _)) in self.map.range(..ceiling).rev() {
            if let Some(found) = fit(len, e.max(floor), top, align) {
                return Some(found);
            }
            top = top.min(s);
            if top <= floor {
                return None;
            }
        }
        fit(len, floor, top, align)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, u64, &V)> {
        self.map.iter().map(|(&s, (e, v))| (s, *e, v))
    }
}

/// The highest `align`ed start of a `len`-byte range inside `[low, high)`.
fn fit(len: u64, low: u64, high: u64, align: u64) -> Option<u64> {
    let start = high.checked_sub(len)? & !(align - 1);
    (start >= low && high > low).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(m: &RangeMap<u32>) -> Vec<(u64, u64, u32)> {
        m.iter().map(|(s, e, v)| (s, e, *v)).collect()
    }

    #[test]
    fn insert_splits_what_it_covers() {
        let mut m = RangeMap::new();
        m.insert(0x1000, 0x5000, 1);
        m.insert(0x2000, 0x3000, 2);
        assert_eq!(
            pieces(&m),
            vec![
                (0x1000, 0x2000, 1),
                (0x2000, 0x3000, 2),
                (0x3000, 0x5000, 1)
            ]
        );
    }

    #[test]
    fn remove_punches_a_hole() {
        let mut m = RangeMap::new();
        m.insert(0x1000, 0x5000, 1);
        m.remove(0x2000, 0x3000);
        assert_eq!(pieces(&m), vec![(0x1000, 0x2000, 1), (0x3000, 0x5000, 1)]);
        assert!(!m.covered(0x1000, 0x5000, |_| true));
        assert!(m.covered(0x3000, 0x5000, |_| true));
        assert!(m.is_free(0x2000, 0x3000));
    }

    #[test]
    fn update_changes_only_the_range() {
        let mut m = RangeMap::new();
        m.insert(0x1000, 0x4000, 1);
        m.update(0x2000, 0x3000, |v| *v = 7);
        assert_eq!(
            pieces(&m),
            vec![
                (0x1000, 0x2000, 1),
                (0x2000, 0x3000, 7),
                (0x3000, 0x4000, 1)
            ]
        );
        assert!(!m.covered(0x1000, 0x4000, |v| *v == 1));
    }

    #[test]
    fn gaps_are_found_top_down() {
        let mut m = RangeMap::new();
        m.insert(0x8000, 0x10000, 1);
        assert_eq!(m.find_gap_below(0x1000, 0, 0x10000, 0x1000), Some(0x7000));
        assert_eq!(m.find_gap_below(0x1000, 0, 0x20000, 0x1000), Some(0x1f000));
        assert_eq!(m.find_gap_below(0x9000, 0, 0x10000, 0x1000), None);
        assert_eq!(m.find_gap_below(0x8000, 0, 0x10000, 0x1000), Some(0));
    }

    #[test]
    fn overlapping_pieces_are_clipped_to_the_range() {
        let mut m = RangeMap::new();
        m.insert(0x1000, 0x3000, 1);
        m.insert(0x4000, 0x6000, 2);
        assert_eq!(
            m.overlapping(0x2000, 0x5000),
            vec![(0x2000, 0x3000, 1), (0x4000, 0x5000, 2)]
        );
        assert!(m.overlapping(0x3000, 0x4000).is_empty());
        // An empty or backwards range names nothing.
        assert!(m.overlapping(0x2000, 0x2000).is_empty());
        assert!(m.overlapping(0x5000, 0x2000).is_empty());
        assert!(m.is_free(0x5000, 0x2000));
    }

    #[test]
    fn get_finds_the_containing_range() {
        let mut m = RangeMap::new();
        m.insert(0x1000, 0x2000, 3);
        assert_eq!(
            m.get(0x1fff).map(|(s, e, v)| (s, e, *v)),
            Some((0x1000, 0x2000, 3))
        );
        assert!(m.get(0x2000).is_none());
    }
}
