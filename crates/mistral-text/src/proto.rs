//! A minimal protobuf wire-format reader, enough to read SentencePiece's `ModelProto`.
//!
//! Only what proto2 messages use is supported: varints (wire type 0), 64-bit (1), length-delimited
//! (2) and 32-bit (5) fields. Deprecated groups (3, 4) and anything malformed are errors, never panics.

/// A field's value, borrowed from the message bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Value<'a> {
    pub(crate) fn as_bytes(self, field: &str) -> Result<&'a [u8], String> {
        match self {
            Value::Bytes(b) => Ok(b),
            _ => Err(format!("field {field} is not length-delimited")),
        }
    }

    pub(crate) fn as_str(self, field: &str) -> Result<&'a str, String> {
        std::str::from_utf8(self.as_bytes(field)?)
            .map_err(|_| format!("field {field} is not valid UTF-8"))
    }

    pub(crate) fn as_varint(self, field: &str) -> Result<u64, String> {
        match self {
            Value::Varint(v) => Ok(v),
            _ => Err(format!("field {field} is not a varint")),
        }
    }

    /// A proto `int32` (negative values are sign-extended to 64 bits on the wire).
    pub(crate) fn as_i32(self, field: &str) -> Result<i32, String> {
        Ok(self.as_varint(field)? as i64 as i32)
    }

    pub(crate) fn as_bool(self, field: &str) -> Result<bool, String> {
        Ok(self.as_varint(field)? != 0)
    }

    pub(crate) fn as_f32(self, field: &str) -> Result<f32, String> {
        match self {
            Value::Fixed32(v) => Ok(f32::from_bits(v)),
            _ => Err(format!("field {field} is not a 32-bit float")),
        }
    }
}

/// Iterates over `(field number, value)` pairs of one message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(format!("truncated varint at byte {}", self.pos));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint longer than 10 bytes at byte {}", self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(format!(
                "field of {n} bytes at byte {} runs past the end",
                self.pos
            ));
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field, `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field =
            u32::try_from(key >> 3).map_err(|_| format!("field number {} too large", key >> 3))?;
        if field == 0 {
            return Err(format!("field number 0 at byte {}", self.pos));
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().unwrap_or([0; 8]),
            )),
            2 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| "length too large".to_string())?;
                Value::Bytes(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().unwrap_or([0; 4]),
            )),
            w => return Err(format!("unsupported wire type {w} for field {field}")),
        };
        Ok(Some((field, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_wire_type() {
        // field 1 varint 300, field 2 bytes "hi", field 3 fixed32 1.5f, field 4 fixed64 7
        let mut buf = vec![0x08, 0xac, 0x02, 0x12, 0x02, b'h', b'i', 0x1d];
        buf.extend_from_slice(&1.5f32.to_bits().to_le_bytes());
        buf.push(0x21);
        buf.extend_from_slice(&7u64.to_le_bytes());
        let mut r = Reader::new(&buf);
        assert_eq!(r.next_field().unwrap(), Some((1, Value::Varint(300))));
        assert_eq!(
            r.next_field().unwrap().unwrap().1.as_str("2").unwrap(),
            "hi"
        );
        assert_eq!(r.next_field().unwrap().unwrap().1.as_f32("3").unwrap(), 1.5);
        assert_eq!(r.next_field().unwrap(), Some((4, Value::Fixed64(7))));
        assert_eq!(r.next_field().unwrap(), None);
    }

    #[test]
    fn negative_int32_and_errors() {
        // -1 as int32 is ten bytes on the wire.
        let buf = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        let (_, v) = Reader::new(&buf).next_field().unwrap().unwrap();
        assert_eq!(v.as_i32("1").unwrap(), -1);
        assert!(
            Reader::new(&[0x12, 0x05, b'a']).next_field().is_err(),
            "length past the end"
        );
        assert!(
            Reader::new(&[0x08, 0x80]).next_field().is_err(),
            "truncated varint"
        );
        assert!(
            Reader::new(&[0x0b]).next_field().is_err(),
            "group wire type"
        );
        assert!(Reader::new(&[0x00, 0x00]).next_field().is_err(), "field 0");
    }
}
