//! Depth-first walk over the whole key tree, with cycle detection.

use std::collections::HashSet;

use crate::base::Hive;
use crate::error::{RegfError, Result};
use crate::key::Key;

/// What [`Hive::walk`] does after visiting a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkControl {
    /// Go on into the key's subkeys.
    Continue,
    /// Do not descend into this key's subkeys.
    SkipChildren,
    /// End the walk.
    Stop,
}

impl Hive<'_> {
    /// Visits every key reachable from the root, depth first, parents before
    /// children, calling `visit(key, depth)` (the root has depth 0).
    ///
    /// Each key and each subkey list is followed once: a key reached again
    /// (a cycle or a shared key) is reported as [`RegfError::Cycle`] and not
    /// entered; nesting deeper than [`Limits::max_depth`](crate::Limits) is
    /// reported and not entered. Damaged subkeys are reported and skipped.
    /// Returns the problems met; `Err` only when the root is unreadable.
    pub fn walk<F>(&self, mut visit: F) -> Result<Vec<RegfError>>
    where
        F: FnMut(&Key<'_>, u32) -> WalkControl,
    {
        let root = self.root()?;
        let mut problems = Vec::new();
        let mut lists = HashSet::new();
        let mut keys = HashSet::from([root.offset()]);
        let mut stack = vec![(root, 0u32)];
        let max_depth = self.limits().max_depth;
        while let Some((key, depth)) = stack.pop() {
            match visit(&key, depth) {
                WalkControl::Continue => {}
                WalkControl::SkipChildren => continue,
                WalkControl::Stop => break,
            }
            if key.subkey_count() == 0 {
                continue;
            }
            if depth >= max_depth {
                problems.push(RegfError::Limit {
                    offset: key.offset(),
                    what: "key nesting depth",
                    value: u64::from(depth) + 1,
                    limit: u64::from(max_depth),
                });
                continue;
            }
            let first = stack.len();
            for child in key.subkeys_sharing(&mut lists, &mut keys) {
                match child {
                    Ok(k) => stack.push((k, depth + 1)),
                    Err(e) => problems.push(e),
                }
            }
            stack[first..].reverse();
        }
        Ok(problems)
    }
}
