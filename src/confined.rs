//! Reading a file that a request names, confined to one folder.
//!
//! The name comes from a URL (`/sounds/{file}`), so it is untrusted: it must be one plain file
//! name (no separator, no `..`, not hidden), and the file it resolves to, symlinks followed,
//! must still lie inside the folder. A symlink inside the folder pointing inside it is fine (a
//! shared prompt linked under a second name); one pointing out is refused like a missing file.

use std::io;
use std::path::{Path, PathBuf};

/// Whether `name` is a plain file name: ASCII letters, digits, `-`, `_` and `.`, not starting
/// with a dot (no `..`, no hidden files).
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The path of `name` inside `dir`, symlinks resolved, if it is a plain name of a regular file
/// that resolves inside `dir`. `NotFound` for everything else, so a prober learns nothing more.
pub fn resolve(dir: &Path, name: &str) -> io::Result<PathBuf> {
    let refused = || io::Error::new(io::ErrorKind::NotFound, format!("no file `{name}` in the folder"));
    if !is_plain_name(name) {
        return Err(refused());
    }
    let root = dir.canonicalize()?;
    let path = root.join(name).canonicalize()?;
    if !path.starts_with(&root) || !path.is_file() {
        return Err(refused());
    }
    Ok(path)
}

/// The bytes of `name` inside `dir` ([`resolve`]). Blocking I/O.
pub fn read(dir: &Path, name: &str) -> io::Result<Vec<u8>> {
    std::fs::read(resolve(dir, name)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_inside_the_folder() {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let sounds = tmp.path().join("sounds");
        std::fs::create_dir(&sounds).expect("mkdir");
        std::fs::write(sounds.join("hello.wav"), b"RIFF").expect("write");
        std::fs::write(tmp.path().join("secret"), b"hunter2").expect("write");
        std::fs::create_dir(sounds.join("sub.wav")).expect("mkdir");
        assert_eq!(read(&sounds, "hello.wav").expect("inside"), b"RIFF");
        for name in ["../secret", "..", ".", "", "sub/x.wav", "/etc/passwd", ".hidden.wav", "a\\b", "sub.wav", "%2e%2e"]
        {
            let err = read(&sounds, name).expect_err(name);
            assert_eq!(err.kind(), io::ErrorKind::NotFound, "{name}: {err}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path().join("secret"), sounds.join("escape.wav")).expect("symlink");
            std::os::unix::fs::symlink(sounds.join("hello.wav"), sounds.join("alias.wav")).expect("symlink");
            assert_eq!(read(&sounds, "escape.wav").expect_err("outside").kind(), io::ErrorKind::NotFound);
            assert_eq!(read(&sounds, "alias.wav").expect("inside"), b"RIFF");
        }
    }
}
