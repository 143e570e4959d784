//! # burgee-conformance-host
//!
//! Runs `burgee-core` compiled to wasm32 — the `burgee-conformance-guest` module — in wasmtime,
//! and finds the files of `spec/vectors/` to feed it. Its test (`tests/conformance.rs`) runs
//! every vector file through the guest and through the same runner natively, and requires the
//! two responses to be byte-identical *and* to match the vectors' expected values.
//!
//! It must never evaluate or judge anything itself: the guest and the native runner observe,
//! the test compares. It is the only crate of the workspace that depends on wasmtime.
//!
//! ```text
//!  spec/vectors/** ─► vector_files() ─► VectorFile.request ──┐
//!  guest .wasm ─► GuestModule::from_file() ─► instantiate() ─┴─► Guest::run() ─► response bytes
//! ```
//!
//! The guest's path comes from the environment variable [`GUEST_ENV`]; `scripts/test` builds it
//! with `cargo build -p burgee-conformance-guest --target wasm32-unknown-unknown --release`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use burgee_conformance_runner::{Suite, request};
use serde_json::Value;
use wasmtime::{Config, Engine, Instance, Linker, Memory, Module, Store, TypedFunc};

/// The environment variable holding the path of the guest's `.wasm` file.
pub const GUEST_ENV: &str = "BURGEE_CONFORMANCE_GUEST";

/// Instructions (wasmtime fuel) one [`Guest::run`] may execute before it is stopped, so a
/// looping guest fails the test instead of hanging it. The costliest vector file, the envelope
/// manifest (Ed25519 verifications), needs about 4% of it.
pub const FUEL_PER_RUN: u64 = 1_000_000_000;

/// What went wrong loading or driving the guest, or reading the vectors.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A file could not be read.
    #[error("{path}: {error}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A vector file is not JSON.
    #[error("{path}: not JSON: {error}")]
    VectorJson {
        /// The file.
        path: PathBuf,
        /// The parse error.
        error: serde_json::Error,
    },
    /// A `.json` file under `spec/vectors/` that no suite claims: teach the harness about it,
    /// or it would silently go untested.
    #[error("{0}: a .json file under spec/vectors that no suite runs")]
    UnknownVectorFile(PathBuf),
    /// The envelope manifest's `cases[i].file` is missing or not a string.
    #[error("{manifest}: cases[{index}].file is not a string")]
    ManifestFile {
        /// The manifest.
        manifest: PathBuf,
        /// The case's index.
        index: usize,
    },
    /// wasmtime refused to set up the engine, compile, link or instantiate the guest.
    #[error("wasmtime: {0:?}")]
    Wasmtime(wasmtime::Error),
    /// The guest lacks an export the ABI needs, or has it with another type.
    #[error("the guest's export {name:?}: {error:?}")]
    Export {
        /// The export.
        name: &'static str,
        /// What was wrong with it.
        error: wasmtime::Error,
    },
    /// A call into the guest trapped (a panic, an out-of-bounds access) or ran out of fuel.
    #[error("the guest's {call} trapped: {error:?}")]
    Trap {
        /// The exported function called.
        call: &'static str,
        /// The trap.
        error: wasmtime::Error,
    },
    /// A buffer does not fit the guest's 32-bit address space or its linear memory.
    #[error("a buffer of {len} bytes at {addr} is outside the guest's memory")]
    OutOfBounds {
        /// The guest address.
        addr: u64,
        /// The length.
        len: u64,
    },
}

/// The guest, compiled once; instantiate it per run of independent work.
pub struct GuestModule {
    engine: Engine,
    module: Module,
}

impl GuestModule {
    /// Reads and compiles the guest's `.wasm` (with fuel metering, see [`FUEL_PER_RUN`]).
    ///
    /// # Errors
    /// [`HarnessError::Read`] if the file cannot be read, [`HarnessError::Wasmtime`] if it is
    /// not a module wasmtime compiles.
    pub fn from_file(path: &Path) -> Result<GuestModule, HarnessError> {
        let wasm = fs::read(path).map_err(|error| HarnessError::Read {
            path: path.to_owned(),
            error,
        })?;
        let mut config = Config::new();
        config.consume_fuel(true);
        let engine = Engine::new(&config).map_err(HarnessError::Wasmtime)?;
        let module = Module::from_binary(&engine, &wasm).map_err(HarnessError::Wasmtime)?;
        Ok(GuestModule { engine, module })
    }

    /// A fresh instance with its own linear memory. Nothing is linked in: a guest that imports
    /// anything (WASI, wasm-bindgen glue, a clock) fails here.
    ///
    /// # Errors
    /// [`HarnessError::Wasmtime`] if instantiation fails, [`HarnessError::Export`] if an export
    /// of the ABI (`memory`, `burgee_alloc`, `burgee_dealloc`, `burgee_run`) is missing or
    /// mistyped.
    pub fn instantiate(&self) -> Result<Guest, HarnessError> {
        let mut store = Store::new(&self.engine, ());
        let instance = Linker::new(&self.engine)
            .instantiate(&mut store, &self.module)
            .map_err(HarnessError::Wasmtime)?;
        let memory =
            instance
                .get_memory(&mut store, "memory")
                .ok_or_else(|| HarnessError::Export {
                    name: "memory",
                    error: wasmtime::Error::msg("no memory export"),
                })?;
        Ok(Guest {
            alloc: typed_func(&instance, &mut store, "burgee_alloc")?,
            dealloc: typed_func(&instance, &mut store, "burgee_dealloc")?,
            run: typed_func(&instance, &mut store, "burgee_run")?,
            store,
            memory,
        })
    }
}

fn typed_func<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    instance: &Instance,
    store: &mut Store<()>,
    name: &'static str,
) -> Result<TypedFunc<P, R>, HarnessError> {
    instance
        .get_typed_func(store, name)
        .map_err(|error| HarnessError::Export { name, error })
}

/// One instance of the guest.
pub struct Guest {
    store: Store<()>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    dealloc: TypedFunc<(u32, u32), ()>,
    run: TypedFunc<(u32, u32), u64>,
}

impl Guest {
    /// Copies `request` into the guest, calls `burgee_run` on it and returns the response
    /// bytes, freeing both buffers in the guest.
    ///
    /// # Errors
    /// [`HarnessError::Trap`] if a call traps or exhausts [`FUEL_PER_RUN`],
    /// [`HarnessError::OutOfBounds`] if a buffer does not fit the guest's memory.
    pub fn run(&mut self, request: &[u8]) -> Result<Vec<u8>, HarnessError> {
        self.store
            .set_fuel(FUEL_PER_RUN)
            .map_err(HarnessError::Wasmtime)?;
        let len = u32::try_from(request.len()).map_err(|_| HarnessError::OutOfBounds {
            addr: 0,
            len: request.len() as u64,
        })?;
        let addr = self
            .alloc
            .call(&mut self.store, len)
            .map_err(|error| HarnessError::Trap {
                call: "burgee_alloc",
                error,
            })?;
        self.memory
            .write(&mut self.store, addr as usize, request)
            .map_err(|_| HarnessError::OutOfBounds {
                addr: addr.into(),
                len: len.into(),
            })?;
        let packed = self
            .run
            .call(&mut self.store, (addr, len))
            .map_err(|error| HarnessError::Trap {
                call: "burgee_run",
                error,
            })?;
        self.free(addr, len)?;
        let (out_addr, out_len) = ((packed >> 32) as u32, packed as u32);
        let mut response = vec![0; out_len as usize];
        self.memory
            .read(&self.store, out_addr as usize, &mut response)
            .map_err(|_| HarnessError::OutOfBounds {
                addr: out_addr.into(),
                len: out_len.into(),
            })?;
        self.free(out_addr, out_len)?;
        Ok(response)
    }

    fn free(&mut self, addr: u32, len: u32) -> Result<(), HarnessError> {
        self.dealloc
            .call(&mut self.store, (addr, len))
            .map_err(|error| HarnessError::Trap {
                call: "burgee_dealloc",
                error,
            })
    }
}

/// One file of `spec/vectors/`, ready to run.
#[derive(Debug)]
pub struct VectorFile {
    /// Path relative to `spec/vectors/`, e.g. `eval/01-basics.json`.
    pub name: String,
    /// Which suite it belongs to.
    pub suite: Suite,
    /// The file's JSON (the expectations live in it).
    pub document: Value,
    /// The request for `burgee_conformance_runner::run`.
    pub request: Vec<u8>,
}

/// Every vector file under `dir` (`spec/vectors/`), sorted by name: `eval/*.json`,
/// `invalid-snapshots.json`, `bucketing.json`, `client-view.json`,
/// `envelopes/manifest.json`, `config/manifest.json` and `catalog/manifest.json` (each carrying the bytes of every
/// envelope file it names).
///
/// # Errors
/// [`HarnessError::UnknownVectorFile`] for any other `.json` file below `dir` — including an
/// envelope file the manifest never names — so nothing goes untested silently; read and JSON
/// errors otherwise.
pub fn vector_files(dir: &Path) -> Result<Vec<VectorFile>, HarnessError> {
    let mut paths = Vec::new();
    collect_json(dir, &mut paths)?;
    paths.sort();
    let envelope_files = manifest_files(dir, "envelopes", &paths)?;
    let config_files = manifest_files(dir, "config", &paths)?;
    let catalog_files = manifest_files(dir, "catalog", &paths)?;
    let mut files = Vec::new();
    for path in paths {
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        let parts: Vec<_> = rel.iter().filter_map(|p| p.to_str()).collect();
        let suite = match parts.as_slice() {
            ["eval", _] => Suite::Eval,
            ["invalid-snapshots.json"] => Suite::InvalidSnapshots,
            ["bucketing.json"] => Suite::Bucketing,
            ["envelopes", "manifest.json"] => Suite::Envelopes,
            ["client-view.json"] => Suite::ClientView,
            ["contexts.json"] => Suite::Contexts,
            ["envelopes", file] if envelope_files.contains_key(*file) => continue,
            ["config", "manifest.json"] => Suite::Config,
            ["config", file] if config_files.contains_key(*file) => continue,
            ["catalog", "manifest.json"] => Suite::Catalog,
            ["catalog", "balance.json"] => Suite::Balance,
            ["catalog", file] if catalog_files.contains_key(*file) => continue,
            _ => return Err(HarnessError::UnknownVectorFile(path)),
        };
        let document = read_json(&path)?;
        let no_files = BTreeMap::new();
        let carried = match suite {
            Suite::Envelopes => &envelope_files,
            Suite::Config => &config_files,
            Suite::Catalog => &catalog_files,
            _ => &no_files,
        };
        files.push(VectorFile {
            name: parts.join("/"),
            suite,
            request: request(suite, &document, carried),
            document,
        });
    }
    Ok(files)
}

/// The bytes of every file `<dir>/<sub>/manifest.json` names (empty without a manifest).
fn manifest_files(
    dir: &Path,
    sub: &str,
    paths: &[PathBuf],
) -> Result<BTreeMap<String, Vec<u8>>, HarnessError> {
    let manifest_path = dir.join(sub).join("manifest.json");
    let mut files = BTreeMap::new();
    if paths.contains(&manifest_path) {
        let manifest = read_json(&manifest_path)?;
        let cases = manifest.get("cases").and_then(Value::as_array);
        for (index, case) in cases.into_iter().flatten().enumerate() {
            let file = case.get("file").and_then(Value::as_str).ok_or_else(|| {
                HarnessError::ManifestFile {
                    manifest: manifest_path.clone(),
                    index,
                }
            })?;
            let path = dir.join(sub).join(file);
            let bytes = fs::read(&path).map_err(|error| HarnessError::Read { path, error })?;
            files.insert(file.to_owned(), bytes);
        }
    }
    Ok(files)
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), HarnessError> {
    let read_err = |error| HarnessError::Read {
        path: dir.to_owned(),
        error,
    };
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "json") {
            out.push(path);
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, HarnessError> {
    let text = fs::read(path).map_err(|error| HarnessError::Read {
        path: path.to_owned(),
        error,
    })?;
    serde_json::from_slice(&text).map_err(|error| HarnessError::VectorJson {
        path: path.to_owned(),
        error,
    })
}
