//! Digests, in one place: SHA-256 of bytes, of a file, of what an open
//! file holds, and lowercase hex. What the bundle, the backup check, the
//! evidence records and the pre-deployment package hash.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The bytes in lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `data`, in hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The SHA-256 of a regular file (a link to one is followed), in hex. What
/// is not a regular file (a FIFO, a device, a folder) is refused before
/// anything is read: it could block or never end.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let f = crate::fsutil::open_regular(path).map_err(std::io::Error::other)?;
    sha256_of(f)
}

/// The SHA-256 of what `f` holds from where it is, in hex.
pub fn sha256_of(mut f: File) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}
