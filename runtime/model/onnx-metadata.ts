import { open, type FileHandle } from 'node:fs/promises';

/** ModelProto.metadata_props (onnx.proto): repeated StringStringEntryProto { key = 1; value = 2; }. */
const METADATA_PROPS_FIELD = 14;
const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class Cursor {
  constructor(readonly bytes: Uint8Array, public offset = 0) {}

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }

  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      const byte = this.bytes[this.offset++];
      if (byte === undefined) throw new Error('truncated varint');
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw new Error('varint too long');
  }
}

function readEntry(bytes: Uint8Array): [string, string] {
  const cursor = new Cursor(bytes);
  const text = new TextDecoder();
  let key = '';
  let value = '';
  while (!cursor.done) {
    const tag = cursor.varint();
    if ((tag & 7) !== WIRE_LEN) throw new Error('unexpected wire type in a metadata entry');
    const length = cursor.varint();
    const field = text.decode(bytes.subarray(cursor.offset, cursor.offset + length));
    cursor.offset += length;
    if (tag >>> 3 === 1) key = field;
    else if (tag >>> 3 === 2) value = field;
  }
  return [key, value];
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await file.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}

/**
 * The model's metadata_props (key/value pairs the exporter or the user stored in the ONNX file),
 * which onnxruntime-node does not expose. Walks the top-level fields and seeks past the graph, so
 * only a few small reads touch even a multi-gigabyte file.
 */
export async function readOnnxMetadata(path: string): Promise<Record<string, string>> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const metadata: Record<string, string> = {};
    let position = 0;
    while (position < size) {
      const head = new Cursor(await readAt(file, position, 20));
      const tag = head.varint();
      const wire = tag & 7;
      let skip: number;
      if (wire === WIRE_VARINT) skip = (head.varint(), 0);
      else if (wire === WIRE_I64) skip = 8;
      else if (wire === WIRE_I32) skip = 4;
      else if (wire === WIRE_LEN) skip = head.varint();
      else throw new Error(`not an ONNX model: wire type ${wire} at byte ${position}`);
      position += head.offset;
      if (wire === WIRE_LEN && tag >>> 3 === METADATA_PROPS_FIELD) {
        const [key, value] = readEntry(await readAt(file, position, skip));
        metadata[key] = value;
      }
      position += skip;
    }
    return metadata;
  } finally {
    await file.close();
  }
}
