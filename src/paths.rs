//! Where medocr keeps and finds its files outside a checkout, by the XDG base directory
//! convention: data (the built-in model) under `$XDG_DATA_HOME/medocr` (default
//! `~/.local/share/medocr`), caches (the unpacked bundled dataset) under
//! `$XDG_CACHE_HOME/medocr` (default `~/.cache/medocr`), and files installed beside the
//! binary (`<bin>/` and `<bin>/../share/medocr/`, the layout of `cargo install` and of a
//! package).

use std::path::{Path, PathBuf};

/// `$XDG_DATA_HOME/medocr`, else `~/.local/share/medocr`; `None` without a home folder.
pub fn data_dir() -> Option<PathBuf> {
    xdg("XDG_DATA_HOME", ".local/share")
}

/// `$XDG_CACHE_HOME/medocr`, else `~/.cache/medocr`, else the system's temporary folder.
pub fn cache_dir() -> PathBuf {
    xdg("XDG_CACHE_HOME", ".cache").unwrap_or_else(|| std::env::temp_dir().join("medocr"))
}

/// Folders beside the running binary where a package puts medocr's files: the binary's
/// own folder and `../share/medocr`.
pub fn beside_binary() -> Vec<PathBuf> {
    let Some(bin) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    else {
        return Vec::new();
    };
    let share = bin.parent().map(|p| p.join("share/medocr"));
    std::iter::once(bin).chain(share).collect()
}

fn xdg(var: &str, under_home: &str) -> Option<PathBuf> {
    // The spec says a relative value is invalid and must be ignored.
    if let Some(p) = std::env::var_os(var).map(PathBuf::from) {
        if p.is_absolute() {
            return Some(p.join("medocr"));
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    home.is_absolute()
        .then(|| home.join(under_home).join("medocr"))
}
