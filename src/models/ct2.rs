//! Reader for CTranslate2's `model.bin` (the format the Whisper weights are
//! published in). Layout, little endian: u32 version; string spec name; u32
//! revision; u32 variable count; per variable: string name, u8 rank, rank×u32
//! shape, u8 dtype, u32 byte count, raw bytes; then u32 alias count and
//! (alias, target) string pairs. A string is a u16 length (with its NUL) + bytes.

use std::collections::HashMap;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl Ct2DType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

/// One named array, borrowing its bytes from the file.
#[derive(Debug, Clone)]
pub struct Ct2Variable<'a> {
    pub shape: Vec<usize>,
    pub dtype: Ct2DType,
    pub data: &'a [u8],
}

impl Ct2Variable<'_> {
    /// The values as f32, whatever the stored type.
    pub fn to_f32(&self) -> Vec<f32> {
        let d = self.data;
        match self.dtype {
            Ct2DType::F32 => d.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Ct2DType::F16 => {
                d.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
            }
            Ct2DType::BF16 => {
                d.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect()
            }
            Ct2DType::I8 => d.iter().map(|&b| b as i8 as f32).collect(),
            Ct2DType::I16 => d.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32).collect(),
            Ct2DType::I32 => {
                d.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32).collect()
            }
        }
    }

    /// A scalar (rank-0) integer such as `encoder/num_heads`.
    pub fn scalar_i64(&self) -> Option<i64> {
        if !self.shape.is_empty() {
            return None;
        }
        self.to_f32().first().map(|v| *v as i64)
    }
}

/// A parsed `model.bin`.
#[derive(Debug)]
pub struct Ct2Model<'a> {
    pub version: u32,
    pub spec: String,
    pub revision: u32,
    variables: HashMap<String, Ct2Variable<'a>>,
    aliases: HashMap<String, String>,
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| {
            Error::Prepare(format!(
                "CTranslate2 model.bin is truncated: needed {n} bytes at offset {} of {}",
                self.pos,
                self.data.len()
            ))
        })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> Result<String> {
        let n = self.u16()? as usize;
        let bytes = self.take(n)?;
        let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::Prepare("CTranslate2 model.bin has a non-UTF-8 name".into()))
    }
}

impl<'a> Ct2Model<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let mut c = Cursor { data, pos: 0 };
        let version = c.u32()?;
        if !(3..=6).contains(&version) {
            return Err(Error::Prepare(format!("unsupported CTranslate2 model.bin version {version}")));
        }
        let spec = c.string()?;
        let revision = c.u32()?;
        let count = c.u32()? as usize;
        let mut variables = HashMap::with_capacity(count);
        for _ in 0..count {
            let name = c.string()?;
            let rank = c.u8()? as usize;
            let shape = (0..rank).map(|_| c.u32().map(|d| d as usize)).collect::<Result<Vec<_>>>()?;
            let code = c.u8()?;
            let dtype = Ct2DType::from_code(code)
                .ok_or_else(|| Error::Prepare(format!("{name}: unknown CTranslate2 dtype code {code}")))?;
            let bytes = c.u32()? as usize;
            let elements: usize = shape.iter().product();
            if elements * dtype.size() != bytes {
                return Err(Error::Prepare(format!(
                    "{name}: shape {shape:?} of {dtype:?} needs {} bytes but {bytes} are stored",
                    elements * dtype.size()
                )));
            }
            let data = c.take(bytes)?;
            variables.insert(name, Ct2Variable { shape, dtype, data });
        }
        let mut aliases = HashMap::new();
        if c.pos < data.len() {
            let n = c.u32()?;
            for _ in 0..n {
                let alias = c.string()?;
                let target = c.string()?;
                aliases.insert(alias, target);
            }
        }
        if c.pos != data.len() {
            return Err(Error::Prepare(format!(
                "CTranslate2 model.bin has {} unexpected trailing bytes",
                data.len() - c.pos
            )));
        }
        Ok(Self { version, spec, revision, variables, aliases })
    }

    /// Looks a variable up by name, following aliases.
    pub fn get(&self, name: &str) -> Result<&Ct2Variable<'a>> {
        let name = self.aliases.get(name).map(String::as_str).unwrap_or(name);
        self.variables
            .get(name)
            .ok_or_else(|| Error::Prepare(format!("CTranslate2 model.bin has no variable {name}")))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.variables.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.variables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.variables.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    /// A small model.bin written field by field, as CTranslate2 writes it.
    fn sample() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        string(&mut b, "WhisperSpec");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        string(&mut b, "encoder/num_heads");
        b.push(0);
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&8i16.to_le_bytes());
        string(&mut b, "decoder/embeddings/weight");
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&3u32.to_le_bytes());
        b.push(4);
        b.extend_from_slice(&12u32.to_le_bytes());
        for v in [1.0f32, -2.0, 0.5, 0.0, 65504.0, -0.25] {
            b.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
        }
        b.extend_from_slice(&1u32.to_le_bytes());
        string(&mut b, "decoder/projection/weight");
        string(&mut b, "decoder/embeddings/weight");
        b
    }

    #[test]
    fn parses_variables_scalars_and_aliases() {
        let bytes = sample();
        let m = Ct2Model::parse(&bytes).unwrap();
        assert_eq!((m.version, m.spec.as_str(), m.revision, m.len()), (6, "WhisperSpec", 3, 2));
        assert_eq!(m.get("encoder/num_heads").unwrap().scalar_i64(), Some(8));
        let w = m.get("decoder/projection/weight").unwrap();
        assert_eq!(w.shape, vec![2, 3]);
        assert_eq!(w.to_f32(), vec![1.0, -2.0, 0.5, 0.0, 65504.0, -0.25]);
        assert!(m.get("missing").is_err());
    }

    #[test]
    fn rejects_truncation_and_size_mismatch() {
        let bytes = sample();
        for cut in [3, 10, 40, bytes.len() - 5] {
            let err = Ct2Model::parse(&bytes[..cut]).unwrap_err().to_string();
            assert!(err.contains("truncated"), "cut at {cut}: {err}");
        }
        let mut bad = sample();
        // Byte count of the scalar variable: claim 4 bytes for an i16.
        let at = 4 + 2 + 12 + 4 + 4 + 2 + 18 + 1 + 1;
        bad[at..at + 4].copy_from_slice(&4u32.to_le_bytes());
        assert!(Ct2Model::parse(&bad).unwrap_err().to_string().contains("needs 2 bytes"));
    }
}
