//! Just enough protobuf for the CRI messages the tests send: fields are encoded by number,
//! replies decoded into (number, value) pairs.

pub enum Value {
    Int(u64),
    Bytes(Vec<u8>),
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A length-delimited field (string, bytes or message).
pub fn bytes(field: u64, data: impl AsRef<[u8]>) -> Vec<u8> {
    let data = data.as_ref();
    let mut out = Vec::new();
    varint(field << 3 | 2, &mut out);
    varint(data.len() as u64, &mut out);
    out.extend_from_slice(data);
    out
}

/// A varint field (integers, enums, bools).
pub fn int(field: u64, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(field << 3, &mut out);
    varint(v, &mut out);
    out
}

fn read_varint(b: &[u8], i: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let c = b[*i];
        *i += 1;
        v |= u64::from(c & 0x7f) << shift;
        shift += 7;
        if c & 0x80 == 0 {
            return v;
        }
    }
}

/// The fields of one message, in order.
pub fn decode(b: &[u8]) -> Vec<(u64, Value)> {
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let key = read_varint(b, &mut i);
        let v = match key & 7 {
            0 => Value::Int(read_varint(b, &mut i)),
            2 => {
                let len = read_varint(b, &mut i) as usize;
                i += len;
                Value::Bytes(b[i - len..i].to_vec())
            }
            t => panic!("unexpected wire type {t}"),
        };
        out.push((key >> 3, v));
    }
    out
}

/// The first bytes field `field`, empty if absent.
pub fn get_bytes(b: &[u8], field: u64) -> Vec<u8> {
    decode(b)
        .into_iter()
        .find_map(|(f, v)| match v {
            Value::Bytes(d) if f == field => Some(d),
            _ => None,
        })
        .unwrap_or_default()
}

/// The varint field `field`, 0 (protobuf's default) if absent.
pub fn get_int(b: &[u8], field: u64) -> u64 {
    decode(b)
        .into_iter()
        .find_map(|(f, v)| match v {
            Value::Int(n) if f == field => Some(n),
            _ => None,
        })
        .unwrap_or(0)
}
