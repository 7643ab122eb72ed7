//! Reading a file the user named, without letting the file decide how long that takes or how
//! much memory it costs: it must be a regular file (a FIFO or a device would block for ever, or
//! never end) of at most a bound, checked before it is opened, and it is read no further than
//! the bound even if it grows meanwhile.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// The largest input file kubesim reads whole (a trace, a manifest set, a sweep file): 1 GiB.
/// What kubesim writes and reads back has bounds of its own.
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading failed (it does not exist, permissions, not UTF-8 …).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Not a regular file: a directory, a FIFO, a device, a socket.
    #[error("it is not a regular file (a {0})")]
    NotRegular(&'static str),
    /// Larger than the bound.
    #[error("it is {size} bytes, more than the {max} kubesim reads")]
    TooLarge {
        /// Its size, or how much was read before the bound was passed.
        size: u64,
        /// The bound.
        max: u64,
    },
}

impl ReadError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// The text of the regular file at `path`, of at most `max` bytes.
pub fn read_text(path: &Path, max: u64) -> Result<String, ReadError> {
    let mut text = String::new();
    let read = open_bounded(path, max)?.read_to_string(&mut text)?;
    check_bound(read as u64, max)?;
    Ok(text)
}

/// The regular file at `path`, of at most `max` bytes, opened to be read a piece at a time (a
/// long trace need not be held whole); it yields no more than `max + 1` bytes, so that
/// [`check_bound`] on the bytes read says whether it grew past the bound meanwhile.
pub fn open_bounded(path: &Path, max: u64) -> Result<io::BufReader<io::Take<fs::File>>, ReadError> {
    let meta = fs::metadata(path)?;
    let file_type = meta.file_type();
    if !file_type.is_file() {
        return Err(ReadError::NotRegular(kind_of(&file_type)));
    }
    check_bound(meta.len(), max)?;
    Ok(io::BufReader::new(fs::File::open(path)?.take(max + 1)))
}

/// An error if `size` bytes are more than the bound `max`.
pub fn check_bound(size: u64, max: u64) -> Result<(), ReadError> {
    if size > max {
        return Err(ReadError::TooLarge { size, max });
    }
    Ok(())
}

/// What a file that is not a regular file is.
fn kind_of(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "device";
        }
    }
    if file_type.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_bound_are_read() {
        let dir = std::env::temp_dir().join(format!("kubesim-read-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.yaml");
        fs::write(&file, "0123456789").unwrap();
        assert_eq!(read_text(&file, 10).unwrap(), "0123456789");
        let err = read_text(&file, 9).unwrap_err();
        assert!(
            matches!(err, ReadError::TooLarge { size: 10, max: 9 }),
            "{err}"
        );
        let err = read_text(&dir, 100).unwrap_err();
        assert!(matches!(err, ReadError::NotRegular("directory")), "{err}");
        assert!(
            read_text(&dir.join("none"), 100)
                .unwrap_err()
                .is_not_found()
        );
        #[cfg(unix)]
        {
            let err = read_text(Path::new("/dev/zero"), 100).unwrap_err();
            assert!(matches!(err, ReadError::NotRegular("device")), "{err}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
