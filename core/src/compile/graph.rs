//! The prerequisite graph: cycles and chain depth (`spec/SNAPSHOT.md` §3.2, §10).

use alloc::format;
use alloc::vec::Vec;

use super::Flag;
use super::path::{Path, invalid};
use crate::error::LoadError;
use crate::limits::MAX_PREREQUISITE_DEPTH;

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    Active,
    Done,
}

/// Refuses prerequisite cycles (including a flag that requires itself) with the cycle's path,
/// and chains deeper than [`MAX_PREREQUISITE_DEPTH`] with the chain. Iterative (no recursion
/// on the snapshot's shape) and linear in flags + prerequisites.
pub(super) fn check_prerequisites(flags: &[Flag]) -> Result<(), LoadError> {
    let mut marks = alloc::vec![Mark::New; flags.len()];
    // Depth of each finished flag, and the prerequisite it reaches that depth through.
    let mut depth = alloc::vec![0usize; flags.len()];
    let mut deepest: Vec<Option<usize>> = alloc::vec![None; flags.len()];
    let prereqs = |node: usize| flags.get(node).map_or(&[][..], |f| &f.prerequisites[..]);
    // Iterative DFS: (flag, next prerequisite position); `stack` is the current path.
    for start in 0..flags.len() {
        if marks.get(start) != Some(&Mark::New) {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = alloc::vec![(start, 0)];
        set(&mut marks, start, Mark::Active);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some((child, _)) = prereqs(node).get(*next) {
                *next += 1;
                let child = *child as usize;
                match marks.get(child) {
                    Some(Mark::New) => {
                        set(&mut marks, child, Mark::Active);
                        stack.push((child, 0));
                    }
                    Some(Mark::Active) => return Err(cycle(flags, &stack, child)),
                    _ => {}
                }
                continue;
            }
            // All prerequisites of `node` are done: its depth is known.
            let best = prereqs(node)
                .iter()
                .map(|(c, _)| *c as usize)
                .max_by_key(|c| depth.get(*c).copied().unwrap_or(0));
            if let Some(c) = best {
                let d = depth.get(c).copied().unwrap_or(0) + 1;
                set(&mut depth, node, d);
                set(&mut deepest, node, Some(c));
                if d > MAX_PREREQUISITE_DEPTH {
                    return Err(too_deep(flags, &deepest, node, d));
                }
            }
            set(&mut marks, node, Mark::Done);
            stack.pop();
        }
    }
    Ok(())
}

fn set<T>(v: &mut [T], i: usize, value: T) {
    if let Some(slot) = v.get_mut(i) {
        *slot = value;
    }
}

fn key(flags: &[Flag], i: usize) -> &str {
    flags.get(i).map_or("", |f| &*f.key)
}

fn cycle(flags: &[Flag], stack: &[(usize, usize)], child: usize) -> LoadError {
    let from = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
    let mut names: Vec<&str> = stack
        .get(from..)
        .unwrap_or(&[])
        .iter()
        .map(|(n, _)| key(flags, *n))
        .collect();
    names.push(key(flags, child));
    let head = names.first().copied().unwrap_or("");
    invalid(
        &Path::top("flags", head).field("prerequisites"),
        format!("prerequisite cycle: {}", names.join(" -> ")),
    )
}

fn too_deep(flags: &[Flag], deepest: &[Option<usize>], node: usize, d: usize) -> LoadError {
    let mut names = alloc::vec![key(flags, node)];
    let mut at = node;
    while let Some(Some(next)) = deepest.get(at) {
        names.push(key(flags, *next));
        at = *next;
    }
    invalid(
        &Path::top("flags", key(flags, node)).field("prerequisites"),
        format!(
            "prerequisite chain is {d} deep, at most {MAX_PREREQUISITE_DEPTH} are allowed: {}",
            names.join(" -> ")
        ),
    )
}
