//! Binary size: the `bootstrap` as built and the deflated zip Lambda would be given.

use std::io::{Cursor, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::Error;

#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub bootstrap: u64,
    pub zip: u64,
}

/// Reads the binary and zips it in memory, as `bootstrap` with mode 755, deflated (what
/// `cargo lambda build --output-format zip` and `sam build` upload).
pub fn measure(bootstrap: &Path) -> Result<Size, Error> {
    let bytes = std::fs::read(bootstrap)
        .map_err(|e| format!("cannot read {}: {e}", bootstrap.display()))?;
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options)?;
    zip.write_all(&bytes)?;
    let archive = zip.finish()?.into_inner();
    Ok(Size {
        bootstrap: u64::try_from(bytes.len())?,
        zip: u64::try_from(archive.len())?,
    })
}
