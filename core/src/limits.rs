//! The limits every snapshot and envelope must keep (`spec/SNAPSHOT.md` §10).
//!
//! They bound the time and memory one evaluation or one load can take, so that nothing an
//! editor can publish hangs or crashes an SDK: a snapshot over a limit is refused at compile
//! with `SNAPSHOT_INVALID` and the path of the offending field (so the server's publish fails
//! with 422 before any SDK sees it), an envelope with too many signatures with `PARSE_ERROR`.
//! With these limits one evaluation visits each flag at most once (prerequisite results are
//! memoised per evaluation) and recurses at most [`MAX_PREREQUISITE_DEPTH`] flags and
//! [`MAX_CONDITION_DEPTH`] conditions deep.

/// Longest prerequisite chain: a flag with prerequisites has depth 1 + the greatest depth of
/// its prerequisites, a flag without has depth 0; deeper is refused at
/// `flags[KEY].prerequisites`.
pub const MAX_PREREQUISITE_DEPTH: usize = 16;

/// Deepest nesting of conditions: a clause is depth 1, `all`/`any`/`not` one more than their
/// deepest child; deeper is refused at the path of the first condition past the limit.
pub const MAX_CONDITION_DEPTH: usize = 16;

/// Most `matches` clauses (regexes) in one snapshot, flags and segments together.
pub const MAX_REGEXES: usize = 512;

/// Largest automaton of one regex, in bytes (regex-automata's NFA size limit); a larger
/// pattern is refused at its clause. For scale: `\w` with Unicode classes needs about 57 KB
/// compiled, `^[^@]+@(example|foo)\.com$` about 3 KB.
pub const MAX_REGEX_BYTES: usize = 1024 * 1024;

/// Largest compiled size of all regexes of one snapshot together, in bytes
/// (regex-automata's `Regex::memory_usage`).
pub const MAX_TOTAL_REGEX_BYTES: usize = 16 * 1024 * 1024;

/// Most signatures in one DSSE envelope; more is refused with `PARSE_ERROR` before any
/// signature is checked.
pub const MAX_SIGNATURES: usize = 8;
