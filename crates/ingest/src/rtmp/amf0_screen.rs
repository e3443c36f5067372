//! Refuses AMF0 messages nested deeper than rml_rtmp can decode without overflowing the stack.
//!
//! rml_amf0 decodes objects and arrays recursively with no depth limit. A peer that has only
//! completed the handshake can send one message of strict arrays nested a few hundred thousand
//! levels deep (5 bytes per level) and overflow the stack of the worker thread, which aborts the
//! whole process; `catch_unwind` cannot stop that. [`Amf0DepthScreen`] sees every byte before
//! the `ServerSession` does, cuts it into messages with its own copy of rml_rtmp's
//! `ChunkDeserializer` (kept in step by mirroring `SetChunkSize`), and walks AMF0 payloads with a
//! loop and an explicit stack.

use bytes::Bytes;
use rml_rtmp::chunk_io::{ChunkDeserializationError, ChunkDeserializer};
use rml_rtmp::messages::{MessagePayload, RtmpMessage};

/// Deepest container nesting accepted. Real encoders send at most 2 or 3 (`onMetaData` with an
/// object, `connect` with an object).
pub(crate) const MAX_AMF0_DEPTH: usize = 32;

/// A message that must not reach rml_rtmp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep {
    pub message_type: u8,
    pub message_len: usize,
}

/// Shadows the session's chunk deserializer to screen messages before they are decoded.
pub(crate) struct Amf0DepthScreen {
    deserializer: ChunkDeserializer,
}

impl Amf0DepthScreen {
    pub(crate) fn new() -> Self {
        Amf0DepthScreen {
            deserializer: ChunkDeserializer::new(),
        }
    }

    /// Takes the same bytes, in the same order, as the session's `handle_input`. Returns
    /// `Ok(Err(..))` for a message nested too deeply; `Err` where the session's deserializer
    /// would fail the same way. May panic where rml_rtmp's deserializer panics: call it through
    /// [`contain`](super::contain::contain).
    pub(crate) fn check(
        &mut self,
        bytes: &[u8],
    ) -> Result<Result<(), TooDeep>, ChunkDeserializationError> {
        let mut input = bytes;
        while let Some(payload) = self.deserializer.get_next_message(input)? {
            input = &[];
            self.mirror_chunk_size(&payload)?;
            if let Some(amf0) = amf0_body(&payload) {
                if nesting_exceeds(&amf0, MAX_AMF0_DEPTH) {
                    return Ok(Err(TooDeep {
                        message_type: payload.type_id,
                        message_len: payload.data.len(),
                    }));
                }
            }
        }
        Ok(Ok(()))
    }

    /// The session applies `SetChunkSize` to its deserializer before reading the next message;
    /// so must the shadow, or the two fall out of step.
    fn mirror_chunk_size(
        &mut self,
        payload: &MessagePayload,
    ) -> Result<(), ChunkDeserializationError> {
        if payload.type_id == 1 {
            if let Ok(RtmpMessage::SetChunkSize { size }) = payload.to_rtmp_message() {
                self.deserializer.set_max_chunk_size(size as usize)?;
            }
        }
        Ok(())
    }
}

/// The bytes rml_rtmp hands to its AMF0 decoder for this message, if it decodes any.
fn amf0_body(payload: &MessagePayload) -> Option<Bytes> {
    match payload.type_id {
        15 | 18 | 20 => Some(payload.data.clone()),
        // rml_rtmp treats "AMF3" commands as AMF0, skipping one leading zero byte.
        17 => match payload.data.first() {
            Some(0) => Some(payload.data.slice(1..)),
            _ => Some(payload.data.clone()),
        },
        _ => None,
    }
}

enum Container {
    /// A strict array with this many values still to read.
    Array(u32),
    /// An object or ECMA array: properties until an empty name and the end marker.
    Object,
}

/// Whether AMF0 `data`, read the way rml_amf0 reads it, opens more than `limit` nested containers.
///
/// It follows rml_amf0's grammar (and its leniency: EOF or an end marker ends a value list), and
/// where rml_amf0 would fail it keeps going or stops; either way the answer is an upper bound
/// of the depth rml_amf0 reaches, which is what matters.
pub(crate) fn nesting_exceeds(data: &[u8], limit: usize) -> bool {
    let mut reader = Reader { data, pos: 0 };
    let mut stack: Vec<Container> = Vec::new();
    loop {
        let opened = match stack.last_mut() {
            None => match reader.value() {
                Value::End => return false,
                v => v,
            },
            Some(Container::Array(remaining)) => {
                if *remaining == 0 {
                    stack.pop();
                    continue;
                }
                *remaining -= 1;
                match reader.value() {
                    Value::End => {
                        stack.pop();
                        continue;
                    }
                    v => v,
                }
            }
            Some(Container::Object) => {
                let Some(name_len) = reader.u16() else {
                    return false;
                };
                if name_len == 0 {
                    // rml_amf0 reads one byte (the end marker) and closes the object.
                    if reader.skip(1).is_none() {
                        return false;
                    }
                    stack.pop();
                    continue;
                }
                // rml_amf0 reads the name with `Read::read`, so a short name is not an error.
                reader.skip_lenient(usize::from(name_len));
                match reader.value() {
                    Value::End => return false,
                    v => v,
                }
            }
        };
        match opened {
            Value::Scalar | Value::End => {}
            Value::Open(container) => {
                if stack.len() >= limit {
                    return true;
                }
                stack.push(container);
            }
            Value::Stop => return false,
        }
    }
}

enum Value {
    /// A complete scalar value.
    Scalar,
    /// EOF or the object-end marker: rml_amf0's `Ok(None)`.
    End,
    /// The start of a container.
    Open(Container),
    /// rml_amf0 fails here: nothing after this is decoded.
    Stop,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn value(&mut self) -> Value {
        let Some(marker) = self.data.get(self.pos).copied() else {
            return Value::End;
        };
        self.pos += 1;
        let ok = |r: Option<()>| {
            if r.is_some() {
                Value::Scalar
            } else {
                Value::Stop
            }
        };
        match marker {
            0x09 => Value::End,
            0x00 => ok(self.skip(8)),
            0x01 => ok(self.skip(1)),
            0x05 | 0x06 => Value::Scalar,
            0x02 => match self.u16() {
                Some(len) => ok(self.skip(usize::from(len))),
                None => Value::Stop,
            },
            0x03 => Value::Open(Container::Object),
            0x08 => match self.skip(4) {
                Some(()) => Value::Open(Container::Object),
                None => Value::Stop,
            },
            0x0A => match self.u32() {
                Some(count) => Value::Open(Container::Array(count)),
                None => Value::Stop,
            },
            _ => Value::Stop,
        }
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        if end > self.data.len() {
            return None;
        }
        self.pos = end;
        Some(())
    }

    fn skip_lenient(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.data.len());
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.data.get(self.pos..self.pos.checked_add(2)?)?;
        self.pos += 2;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.data.get(self.pos..self.pos.checked_add(4)?)?;
        self.pos += 4;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rml_rtmp::chunk_io::ChunkSerializer;
    use rml_rtmp::rml_amf0::{self, Amf0Value};
    use rml_rtmp::time::RtmpTimestamp;
    use std::collections::HashMap;

    fn nested_arrays(depth: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..depth {
            out.extend_from_slice(&[0x0A, 0, 0, 0, 1]);
        }
        out.extend_from_slice(&[0x05]);
        out
    }

    #[test]
    fn real_metadata_passes() {
        let mut props = HashMap::new();
        props.insert("width".to_string(), Amf0Value::Number(320.0));
        props.insert("encoder".to_string(), Amf0Value::Utf8String("x".into()));
        props.insert(
            "list".to_string(),
            Amf0Value::StrictArray(vec![Amf0Value::Object(HashMap::new()), Amf0Value::Null]),
        );
        let values = vec![
            Amf0Value::Utf8String("@setDataFrame".into()),
            Amf0Value::Utf8String("onMetaData".into()),
            Amf0Value::Object(props),
        ];
        let bytes = rml_amf0::serialize(&values).expect("serializes");
        assert!(!nesting_exceeds(&bytes, 3));
        assert!(nesting_exceeds(&bytes, 1));
    }

    #[test]
    fn counts_depth_of_arrays_and_objects() {
        assert!(!nesting_exceeds(&nested_arrays(32), 32));
        assert!(nesting_exceeds(&nested_arrays(33), 32));
        // object { "a": ecma { "b": object {} } }
        let obj = [
            0x03, 0, 1, b'a', 0x08, 0, 0, 0, 1, 0, 1, b'b', 0x03, 0, 0, 0x09, 0, 0, 0x09, 0, 0,
            0x09,
        ];
        assert!(!nesting_exceeds(&obj, 3));
        assert!(nesting_exceeds(&obj, 2));
        // Closed containers do not add up: three siblings of depth 1.
        let siblings = [0x0A, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0x03, 0, 0, 0x09];
        assert!(!nesting_exceeds(&siblings, 1));
    }

    #[test]
    fn garbage_and_truncation_terminate() {
        assert!(!nesting_exceeds(&[], 1));
        assert!(!nesting_exceeds(&[0x02, 0xFF], 1));
        assert!(!nesting_exceeds(&[0x0A, 0xFF, 0xFF, 0xFF, 0xFF], 1));
        assert!(!nesting_exceeds(&[0x03, 0xFF, 0xFF, 0x0A], 1));
        let mut state = 12345u32;
        for _ in 0..2000 {
            let data: Vec<u8> = (0..64)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (state >> 16) as u8 % 12
                })
                .collect();
            nesting_exceeds(&data, 4);
        }
    }

    #[test]
    fn screen_finds_deep_message_across_chunks() {
        let mut serializer = ChunkSerializer::new();
        let ok = MessagePayload {
            timestamp: RtmpTimestamp::new(0),
            message_stream_id: 1,
            type_id: 18,
            data: Bytes::from(nested_arrays(4)),
        };
        let deep = MessagePayload {
            timestamp: RtmpTimestamp::new(0),
            message_stream_id: 1,
            type_id: 18,
            data: Bytes::from(nested_arrays(1000)),
        };
        let mut screen = Amf0DepthScreen::new();
        let a = serializer.serialize(&ok, false, false).expect("serializes");
        assert_eq!(screen.check(&a.bytes).expect("valid chunks"), Ok(()));
        let b = serializer
            .serialize(&deep, false, false)
            .expect("serializes");
        assert!(b.bytes.len() > 128, "split into several chunks");
        let (first, rest) = b.bytes.split_at(100);
        assert_eq!(screen.check(first).expect("valid chunks"), Ok(()));
        assert_eq!(
            screen.check(rest).expect("valid chunks"),
            Err(TooDeep {
                message_type: 18,
                message_len: 5001
            })
        );
    }

    #[test]
    fn screen_follows_chunk_size_changes() {
        let mut serializer = ChunkSerializer::new();
        let mut screen = Amf0DepthScreen::new();
        let set = serializer
            .set_max_chunk_size(4096, RtmpTimestamp::new(0))
            .expect("serializes");
        assert_eq!(screen.check(&set.bytes).expect("valid"), Ok(()));
        let deep = MessagePayload {
            timestamp: RtmpTimestamp::new(0),
            message_stream_id: 1,
            type_id: 20,
            data: Bytes::from(nested_arrays(500)),
        };
        let p = serializer
            .serialize(&deep, false, false)
            .expect("serializes");
        assert!(screen.check(&p.bytes).expect("valid").is_err());
    }
}
