//! Picks the console the `burgee` binary embeds (`src/ui.rs`): the Vite build in `ui/dist/`
//! when it has an `index.html`, otherwise the one-page placeholder in `ui/placeholder/` that
//! says how to build it. So a plain `cargo build` needs no Node.
//!
//! Cargo reruns this script when anything under `ui/dist/` changes. A path that does not exist
//! would make Cargo rerun it (and rebuild the crate) on every build, so the (git-ignored)
//! directory is created empty when missing; a read-only source tree simply skips that.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = manifest.join("ui").join("dist");
    // Ignored on failure: then Cargo reruns this script on every build, which is only slower.
    let _ = std::fs::create_dir_all(&dist);
    // Relative to the crate (rust-embed resolves it against CARGO_MANIFEST_DIR): the output of
    // this script stays right for every checkout that shares a target directory.
    let chosen = if dist.join("index.html").is_file() {
        "ui/dist"
    } else {
        "ui/placeholder"
    };
    println!("cargo:rerun-if-changed=ui/dist");
    println!("cargo:rerun-if-changed=ui/placeholder");
    println!("cargo:rustc-env=BURGEE_UI_DIR={chosen}");
}
