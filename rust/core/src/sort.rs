// SPDX-License-Identifier: GPL-2.0

//! In-place sorting without allocation or panics, for APIC ids and timing samples.
//!
//! Insertion sort for short slices (the common IPI case), heapsort beyond: O(n log n)
//! worst case, no recursion, constant stack. Every element access is checked
//! (`get`, slice patterns), so there is no panic path even on a logic error.

#![forbid(unsafe_code)]

/// Slices up to this length are insertion-sorted.
pub const INSERTION_MAX: usize = 24;

/// Swaps `v[a]` and `v[b]` for `a < b`; does nothing if either is out of range.
fn swap_lo_hi<T>(v: &mut [T], a: usize, b: usize) {
    if let Some(s) = v.get_mut(a..=b) {
        if let Some((first, rest)) = s.split_first_mut() {
            if let Some(last) = rest.last_mut() {
                core::mem::swap(first, last);
            }
        }
    }
}

/// Sorts a short slice in place by insertion.
pub fn insertion_sort<T: Ord>(v: &mut [T]) {
    for i in 1..v.len() {
        let mut j = i;
        while let Some(prev) = j.checked_sub(1) {
            match v.get_mut(prev..=j) {
                Some([a, b]) if *a > *b => core::mem::swap(a, b),
                _ => break,
            }
            j = prev;
        }
    }
}

/// Restores the max-heap property below `root` in `v[..end]`.
fn sift_down<T: Ord>(v: &mut [T], mut root: usize, end: usize) {
    loop {
        let Some(left) = root.checked_mul(2).and_then(|x| x.checked_add(1)) else {
            return;
        };
        if left >= end {
            return;
        }
        let mut child = left;
        if let Some(right) = left.checked_add(1) {
            if right < end && v.get(left) < v.get(right) {
                child = right;
            }
        }
        if v.get(root) >= v.get(child) {
            return;
        }
        swap_lo_hi(v, root, child);
        root = child;
    }
}

/// Sorts a slice in place with heapsort (O(n log n), no recursion).
pub fn heapsort<T: Ord>(v: &mut [T]) {
    let n = v.len();
    for i in (0..n.checked_div(2).unwrap_or(0)).rev() {
        sift_down(v, i, n);
    }
    for end in (1..n).rev() {
        swap_lo_hi(v, 0, end);
        sift_down(v, 0, end);
    }
}

/// Sorts a slice in place, picking insertion sort or heapsort by length.
///
/// ```
/// let mut v = [5u32, 1, 4, 1, 3];
/// ipi_core::sort::sort(&mut v);
/// assert_eq!(v, [1, 1, 3, 4, 5]);
/// ```
pub fn sort<T: Ord>(v: &mut [T]) {
    if v.len() <= INSERTION_MAX {
        insertion_sort(v);
    } else {
        heapsort(v);
    }
}

/// Tells whether every element is strictly greater than the one before it.
pub fn is_strictly_increasing<T: Ord>(v: &[T]) -> bool {
    v.iter().zip(v.iter().skip(1)).all(|(a, b)| a < b)
}

/// Removes adjacent duplicates of a sorted slice in place; returns the new length.
///
/// ```
/// let mut v = [1u32, 1, 2, 3, 3, 3];
/// let n = ipi_core::sort::dedup_sorted(&mut v);
/// assert_eq!(&v[..n], &[1, 2, 3]);
/// ```
pub fn dedup_sorted<T: PartialEq + Copy>(v: &mut [T]) -> usize {
    let mut w: usize = 0;
    for r in 0..v.len() {
        let Some(&x) = v.get(r) else { break };
        let keep = match w.checked_sub(1).and_then(|p| v.get(p)) {
            Some(last) => *last != x,
            None => true,
        };
        if keep {
            if let Some(slot) = v.get_mut(w) {
                *slot = x;
            }
            w = w.saturating_add(1);
        }
    }
    w
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        reason = "tests"
    )]
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *seed >> 33
    }

    #[test]
    fn sorts_match_reference() {
        let mut seed = 7;
        for len in 0..200usize {
            let mut a = [0u32; 200];
            for x in a.iter_mut().take(len) {
                *x = u32::try_from(lcg(&mut seed) % 50).unwrap_or(0);
            }
            let mut h = a;
            let mut i = a;
            let mut r = a;
            if let (Some(h), Some(i), Some(r)) =
                (h.get_mut(..len), i.get_mut(..len), r.get_mut(..len))
            {
                heapsort(h);
                insertion_sort(i);
                r.sort_unstable();
                assert_eq!(h, &*r);
                assert_eq!(i, &*r);
                assert!(r.windows(2).all(|w| w.first() <= w.last()));
            }
        }
    }

    #[test]
    fn dedup_and_check() {
        let mut v = [1u32, 1, 1];
        assert_eq!(dedup_sorted(&mut v), 1);
        let mut e: [u32; 0] = [];
        assert_eq!(dedup_sorted(&mut e), 0);
        assert!(is_strictly_increasing(&[1, 2, 5]));
        assert!(!is_strictly_increasing(&[1, 2, 2]));
        assert!(is_strictly_increasing::<u32>(&[]));
    }
}
