//! A reader with a budget of bytes and seeks, for the third-party demuxers.
//! Fuzzing found inputs on which re_mp4 and matroska-demuxer loop forever
//! (a box or element whose size leads back to where it started). Past the
//! budget, many times what reading the whole file takes, every read and seek
//! fails, and so does the demuxer: an error for that file instead of a hang.

use std::io::{self, Read, Seek, SeekFrom};

pub(super) struct Budgeted<R> {
    inner: R,
    bytes_left: u64,
    seeks_left: u64,
}

impl<R> Budgeted<R> {
    /// A budget for parsing an input of `len` bytes.
    pub fn new(inner: R, len: u64) -> Self {
        Budgeted { inner, bytes_left: len.saturating_mul(16).saturating_add(1 << 20), seeks_left: len / 16 + 65_536 }
    }
}

fn exhausted() -> io::Error {
    io::Error::other("the file's structure leads back on itself (it is damaged)")
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.bytes_left == 0 {
            return Err(exhausted());
        }
        let allowed = buf.len().min(usize::try_from(self.bytes_left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..allowed])?;
        self.bytes_left -= n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Budgeted<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        if self.seeks_left == 0 {
            return Err(exhausted());
        }
        self.seeks_left -= 1;
        self.inner.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn a_reader_that_keeps_going_back_runs_out() {
        let data = [0u8; 64];
        let mut r = Budgeted::new(Cursor::new(&data[..]), data.len() as u64);
        // What a looping parser does: read a header, seek back to it.
        let looped = (0..10_000_000).try_for_each(|_| {
            let mut header = [0u8; 8];
            r.read_exact(&mut header)?;
            r.seek(SeekFrom::Current(-8)).map(|_| ())
        });
        assert!(looped.is_err());
        // A plain read of the whole input is far inside the budget.
        let mut r = Budgeted::new(Cursor::new(&data[..]), data.len() as u64);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 64);
    }
}
