//! Metadata values and their GGUF type codes.

/// A metadata value. GGUF arrays are homogeneous and may nest (an array of arrays); an empty
/// array keeps no element type here (the writer stores it as an empty `u8` array).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Vec<Value>),
}

/// GGUF's value type codes (`enum gguf_type`).
pub(crate) mod code {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// The smallest encoding of one value of type `code` (without the type tag), used to bound
/// counts read from a file by the bytes left; `None` for an unknown code.
pub(crate) fn min_size(code: u32) -> Option<u64> {
    Some(match code {
        code::U8 | code::I8 | code::BOOL => 1,
        code::U16 | code::I16 => 2,
        code::U32 | code::I32 | code::F32 => 4,
        code::U64 | code::I64 | code::F64 => 8,
        // A string is at least its u64 length.
        code::STRING => 8,
        // An array is at least its u32 element type and u64 count.
        code::ARRAY => 12,
        _ => return None,
    })
}

/// The name of type `code` as [`Value::type_name`] writes it, or `None` for an unknown code.
pub(crate) fn code_name(code: u32) -> Option<&'static str> {
    Some(match code {
        code::U8 => "u8",
        code::I8 => "i8",
        code::U16 => "u16",
        code::I16 => "i16",
        code::U32 => "u32",
        code::I32 => "i32",
        code::U64 => "u64",
        code::I64 => "i64",
        code::F32 => "f32",
        code::F64 => "f64",
        code::BOOL => "bool",
        code::STRING => "string",
        code::ARRAY => "array",
        _ => return None,
    })
}

impl Value {
    /// GGUF's type code of this value.
    pub(crate) fn code(&self) -> u32 {
        match self {
            Value::U8(_) => code::U8,
            Value::I8(_) => code::I8,
            Value::U16(_) => code::U16,
            Value::I16(_) => code::I16,
            Value::U32(_) => code::U32,
            Value::I32(_) => code::I32,
            Value::U64(_) => code::U64,
            Value::I64(_) => code::I64,
            Value::F32(_) => code::F32,
            Value::F64(_) => code::F64,
            Value::Bool(_) => code::BOOL,
            Value::String(_) => code::STRING,
            Value::Array(_) => code::ARRAY,
        }
    }

    /// The type's name: `u8` … `i64`, `f32`, `f64`, `bool`, `string` or `array`.
    pub fn type_name(&self) -> &'static str {
        code_name(self.code()).unwrap_or("?")
    }

    /// `array of u32`, `empty array` or the plain type name: what error messages print.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Array(a) => match a.first() {
                Some(v) => format!("array of {}", v.type_name()),
                None => "empty array".to_string(),
            },
            v => v.type_name().to_string(),
        }
    }

    /// Any integer type holding a non-negative value.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any integer type holding a value that fits an i64.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => i64::try_from(v).ok(),
            Value::I8(v) => Some(v.into()),
            Value::I16(v) => Some(v.into()),
            Value::I32(v) => Some(v.into()),
            Value::I64(v) => Some(v),
            _ => None,
        }
    }

    /// Floats and integers (64-bit integers beyond 2^53 round).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            Value::U64(v) => Some(v as f64),
            Value::I64(v) => Some(v as f64),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(Value::I32(-1).as_u64(), None);
        assert_eq!(Value::I32(7).as_u64(), Some(7));
        assert_eq!(Value::U64(u64::MAX).as_i64(), None);
        assert_eq!(Value::U16(3).as_f64(), Some(3.0));
        assert_eq!(Value::F32(0.5).as_f64(), Some(0.5));
        assert_eq!(Value::String("x".into()).as_f64(), None);
        assert_eq!(Value::Bool(true).as_u64(), None);
        // Every integer type converts, each within its range.
        let ints = [
            Value::U8(200),
            Value::U16(60_000),
            Value::U32(4_000_000_000),
            Value::U64(1 << 40),
            Value::I8(-100),
            Value::I16(-30_000),
            Value::I32(-2_000_000_000),
            Value::I64(-(1 << 40)),
        ];
        let want: [i64; 8] = [
            200,
            60_000,
            4_000_000_000,
            1 << 40,
            -100,
            -30_000,
            -2_000_000_000,
            -(1 << 40),
        ];
        for (v, w) in ints.iter().zip(want) {
            assert_eq!(v.as_i64(), Some(w), "{v:?}");
            assert_eq!(v.as_u64(), u64::try_from(w).ok(), "{v:?}");
            assert_eq!(v.as_f64(), Some(w as f64), "{v:?}");
        }
        assert_eq!(Value::I8(5).as_u64(), Some(5));
        assert_eq!(Value::I16(5).as_u64(), Some(5));
        assert_eq!(Value::I64(5).as_u64(), Some(5));
        // Past i64::MAX only as_u64 and as_f64 hold it.
        assert_eq!(Value::U64(u64::MAX).as_u64(), Some(u64::MAX));
        assert_eq!(Value::U64(u64::MAX).as_f64(), Some(u64::MAX as f64));
        assert_eq!(Value::Array(vec![]).describe(), "empty array");
        assert_eq!(Value::Array(vec![Value::U32(1)]).describe(), "array of u32");
        for c in 0..13 {
            assert_eq!(min_size(c).is_some(), code_name(c).is_some());
        }
        assert_eq!(min_size(13), None);
    }
}
