//! Error paths of compile errors (`flags[checkout].rules[r1].when`), built lazily.

use alloc::string::{String, ToString};

use crate::error::LoadError;

/// A [`LoadError::Invalid`] (`SNAPSHOT_INVALID`) at `path`.
pub(super) fn invalid(path: &Path<'_>, message: impl Into<String>) -> LoadError {
    LoadError::Invalid {
        path: path.to_string(),
        message: message.into(),
    }
}

/// Where in the snapshot a compile error is, rendered only when an error is raised (building
/// path strings eagerly cost more than the rest of compiling): `flags[checkout].rules[r1].when`.
#[derive(Clone, Copy)]
pub(super) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    name: &'a str,
    sub: Sub<'a>,
}

#[derive(Clone, Copy)]
enum Sub<'a> {
    None,
    Key(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    pub(super) fn root(name: &'a str) -> Self {
        Path {
            parent: None,
            name,
            sub: Sub::None,
        }
    }
    pub(super) fn top(name: &'a str, key: &'a str) -> Self {
        Path {
            parent: None,
            name,
            sub: Sub::Key(key),
        }
    }
    pub(super) fn field(&'a self, name: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            name,
            sub: Sub::None,
        }
    }
    pub(super) fn key(&'a self, name: &'a str, key: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            name,
            sub: Sub::Key(key),
        }
    }
    pub(super) fn index(&'a self, name: &'a str, i: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            name,
            sub: Sub::Index(i),
        }
    }
}

impl core::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}.")?;
        }
        f.write_str(self.name)?;
        match self.sub {
            Sub::None => Ok(()),
            Sub::Key(k) => write!(f, "[{k}]"),
            Sub::Index(i) => write!(f, "[{i}]"),
        }
    }
}
