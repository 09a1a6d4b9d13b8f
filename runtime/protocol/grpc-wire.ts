import type { GrpcInferRequest, GrpcInferResponse, TensorContents, TensorMessage } from './grpc-codec.ts';

/**
 * The Protocol Buffers wire format of the two messages on the inference hot path, ModelInferRequest
 * and ModelInferResponse (runtime/protocol/grpc_predict_v2.proto), written by hand as the REST JSON
 * answers are: proto-loader's generic path builds a full default-filled object tree and converts
 * every int64 to a string, which cost more server CPU than the whole REST request. Raw tensor
 * contents stay views into the message buffer; the caller copies them before it returns.
 * Fields this runtime does not read (the `parameters` maps) are skipped, as any unknown field.
 */

const VARINT = 0, FIXED64 = 1, LENGTH_DELIMITED = 2, FIXED32 = 5;
const TWO_32 = 4294967296;

export class MalformedMessageError extends Error {}

class Reader {
  pos: number;
  /** The last varint read, as two unsigned 32-bit halves. */
  private lo = 0;
  private hi = 0;

  constructor(readonly buf: Buffer, start: number, public end: number) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new MalformedMessageError('truncated varint');
    return this.buf[this.pos++] as number;
  }

  private varint64(): void {
    let lo = 0;
    let b: number;
    for (let shift = 0; shift < 28; shift += 7) {
      b = this.byte();
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    b = this.byte();
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw new MalformedMessageError('varint longer than 10 bytes');
        b = this.byte();
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** A tag, length or other non-negative varint that must fit a JS number exactly. */
  uint(): number {
    this.varint64();
    const value = this.hi * TWO_32 + this.lo;
    if (value > Number.MAX_SAFE_INTEGER) throw new MalformedMessageError('varint out of range');
    return value;
  }

  /** int64 as a number (exact up to 2^53; beyond, a value no shape check accepts). */
  int64Number(): number {
    this.varint64();
    return (this.hi | 0) * TWO_32 + this.lo;
  }

  int64(signed: boolean): bigint {
    this.varint64();
    const value = (BigInt(this.hi) << 32n) | BigInt(this.lo);
    return signed ? BigInt.asIntN(64, value) : value;
  }

  int32(): number {
    this.varint64();
    return this.lo | 0;
  }

  uint32(): number {
    this.varint64();
    return this.lo;
  }

  bool(): boolean {
    this.varint64();
    return this.lo !== 0 || this.hi !== 0;
  }

  /** The end offset of a length-delimited field starting here (its length read). */
  delimited(): number {
    const length = this.uint();
    const end = this.pos + length;
    if (end > this.end) throw new MalformedMessageError('length-delimited field overruns its message');
    return end;
  }

  bytes(): Buffer {
    const end = this.delimited();
    const view = this.buf.subarray(this.pos, end);
    this.pos = end;
    return view;
  }

  string(): string {
    const end = this.delimited();
    const text = this.buf.toString('utf8', this.pos, end);
    this.pos = end;
    return text;
  }

  fixed(size: 4 | 8): number {
    if (this.pos + size > this.end) throw new MalformedMessageError('truncated fixed-size field');
    const value = size === 4 ? this.buf.readFloatLE(this.pos) : this.buf.readDoubleLE(this.pos);
    this.pos += size;
    return value;
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.varint64();
    else if (wireType === FIXED64) this.advance(8);
    else if (wireType === LENGTH_DELIMITED) this.pos = this.delimited();
    else if (wireType === FIXED32) this.advance(4);
    else throw new MalformedMessageError(`unsupported wire type ${wireType}`);
  }

  private advance(bytes: number): void {
    if (this.pos + bytes > this.end) throw new MalformedMessageError('truncated field');
    this.pos += bytes;
  }

  /** A repeated scalar, packed (one length-delimited run) or not (one value per tag). */
  repeated<T>(wireType: number, scalarWireType: number, read: () => T, into: T[]): void {
    if (wireType !== LENGTH_DELIMITED) {
      if (wireType !== scalarWireType) throw new MalformedMessageError(`wire type ${wireType} for a repeated scalar of wire type ${scalarWireType}`);
      into.push(read());
      return;
    }
    const outer = this.end;
    this.end = this.delimited();
    try {
      while (this.pos < this.end) into.push(read());
    } finally {
      this.end = outer;
    }
  }

  /** Reads an embedded message with `field` called per (field number, wire type). */
  message(field: (reader: Reader, number: number, wireType: number) => void): void {
    const outer = this.end;
    this.end = this.delimited();
    try {
      readFields(this, field);
    } finally {
      this.end = outer;
    }
  }
}

function readFields(reader: Reader, field: (reader: Reader, number: number, wireType: number) => void): void {
  while (!reader.done) {
    const tag = reader.uint();
    field(reader, Math.floor(tag / 8), tag & 7);
  }
}

function expect(wireType: number, expected: number, what: string): void {
  if (wireType !== expected) throw new MalformedMessageError(`${what} has wire type ${wireType}, not ${expected}`);
}

function readContents(reader: Reader, contents: TensorContents): void {
  reader.message((r, number, wireType) => {
    switch (number) {
      case 1: r.repeated(wireType, VARINT, () => r.bool(), (contents.bool_contents ??= [])); break;
      case 2: r.repeated(wireType, VARINT, () => r.int32(), (contents.int_contents ??= [])); break;
      case 3: r.repeated(wireType, VARINT, () => r.int64(true), (contents.int64_contents ??= [])); break;
      case 4: r.repeated(wireType, VARINT, () => r.uint32(), (contents.uint_contents ??= [])); break;
      case 5: r.repeated(wireType, VARINT, () => r.int64(false), (contents.uint64_contents ??= [])); break;
      case 6: r.repeated(wireType, FIXED32, () => r.fixed(4), (contents.fp32_contents ??= [])); break;
      case 7: r.repeated(wireType, FIXED64, () => r.fixed(8), (contents.fp64_contents ??= [])); break;
      case 8: expect(wireType, LENGTH_DELIMITED, 'bytes_contents'); (contents.bytes_contents ??= []).push(r.bytes()); break;
      default: r.skip(wireType);
    }
  });
}

function readInput(reader: Reader): TensorMessage {
  const input: TensorMessage = { name: '', datatype: '', shape: [] };
  reader.message((r, number, wireType) => {
    switch (number) {
      case 1: expect(wireType, LENGTH_DELIMITED, 'name'); input.name = r.string(); break;
      case 2: expect(wireType, LENGTH_DELIMITED, 'datatype'); input.datatype = r.string(); break;
      case 3: r.repeated(wireType, VARINT, () => r.int64Number(), input.shape as number[]); break;
      case 5: expect(wireType, LENGTH_DELIMITED, 'contents'); readContents(r, (input.contents ??= {})); break;
      default: r.skip(wireType);
    }
  });
  return input;
}

function readRequestedOutput(reader: Reader): { name: string } {
  const output = { name: '' };
  reader.message((r, number, wireType) => {
    if (number === 1) {
      expect(wireType, LENGTH_DELIMITED, 'name');
      output.name = r.string();
    } else {
      r.skip(wireType);
    }
  });
  return output;
}

/** ModelInferRequest from its wire bytes, shaped as proto-loader gives it (defaults filled, int64 shape dims as numbers). */
export function decodeModelInferRequest(buf: Buffer): GrpcInferRequest {
  const message: GrpcInferRequest = { model_name: '', model_version: '', id: '', inputs: [], outputs: [], raw_input_contents: [] };
  readFields(new Reader(buf, 0, buf.length), (r, number, wireType) => {
    switch (number) {
      case 1: expect(wireType, LENGTH_DELIMITED, 'model_name'); message.model_name = r.string(); break;
      case 2: expect(wireType, LENGTH_DELIMITED, 'model_version'); message.model_version = r.string(); break;
      case 3: expect(wireType, LENGTH_DELIMITED, 'id'); message.id = r.string(); break;
      case 5: expect(wireType, LENGTH_DELIMITED, 'inputs'); message.inputs.push(readInput(r)); break;
      case 6: expect(wireType, LENGTH_DELIMITED, 'outputs'); message.outputs.push(readRequestedOutput(r)); break;
      case 7: expect(wireType, LENGTH_DELIMITED, 'raw_input_contents'); message.raw_input_contents.push(r.bytes()); break;
      default: r.skip(wireType);
    }
  });
  return message;
}

// ---- encoding ----

function varintSize(value: number): number {
  if (value < 0) return 10;
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function bigVarintSize(value: bigint): number {
  let unsigned = BigInt.asUintN(64, value);
  let size = 1;
  while (unsigned >= 128n) {
    unsigned >>= 7n;
    size++;
  }
  return size;
}

const tagSize = (number: number) => varintSize(number * 8);
const stringSize = (value: string) => Buffer.byteLength(value, 'utf8');
const delimitedSize = (number: number, length: number) => tagSize(number) + varintSize(length) + length;

class Writer {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(value: number): void {
    if (value < 0) {
      this.bigVarint(BigInt(value));
      return;
    }
    const buf = this.buf;
    while (value >= 128) {
      buf[this.pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    buf[this.pos++] = value;
  }

  bigVarint(value: bigint): void {
    let unsigned = BigInt.asUintN(64, value);
    while (unsigned >= 128n) {
      this.buf[this.pos++] = Number(unsigned & 0x7fn) | 0x80;
      unsigned >>= 7n;
    }
    this.buf[this.pos++] = Number(unsigned);
  }

  tag(number: number, wireType: number): void {
    this.varint(number * 8 + wireType);
  }

  string(number: number, value: string, length: number): void {
    this.tag(number, LENGTH_DELIMITED);
    this.varint(length);
    this.pos += this.buf.write(value, this.pos, length, 'utf8');
  }

  bytes(number: number, value: Uint8Array): void {
    this.tag(number, LENGTH_DELIMITED);
    this.varint(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }
}

/** One repeated-scalar field of InferTensorContents: its packed payload size and writer. */
interface PackedField {
  readonly number: number;
  readonly size: number;
  write(writer: Writer): void;
}

function packedContents(contents: TensorContents): { fields: PackedField[]; bytes: readonly Buffer[]; size: number } {
  const fields: PackedField[] = [];
  const varints = (number: number, values: readonly number[]) => {
    let size = 0;
    for (const value of values) size += varintSize(value);
    fields.push({ number, size, write: (w) => { for (const value of values) w.varint(value); } });
  };
  const bigVarints = (number: number, values: ReadonlyArray<string | number | bigint>) => {
    const big = values.map((value) => BigInt(value));
    let size = 0;
    for (const value of big) size += bigVarintSize(value);
    fields.push({ number, size, write: (w) => { for (const value of big) w.bigVarint(value); } });
  };
  const fixed = (number: number, values: readonly number[], width: 4 | 8) => {
    fields.push({
      number,
      size: values.length * width,
      write: (w) => {
        for (const value of values) {
          if (width === 4) w.buf.writeFloatLE(value, w.pos);
          else w.buf.writeDoubleLE(value, w.pos);
          w.pos += width;
        }
      },
    });
  };
  if (contents.bool_contents?.length) varints(1, contents.bool_contents.map((value) => (value ? 1 : 0)));
  if (contents.int_contents?.length) varints(2, contents.int_contents);
  if (contents.int64_contents?.length) bigVarints(3, contents.int64_contents);
  if (contents.uint_contents?.length) varints(4, contents.uint_contents);
  if (contents.uint64_contents?.length) bigVarints(5, contents.uint64_contents);
  if (contents.fp32_contents?.length) fixed(6, contents.fp32_contents, 4);
  if (contents.fp64_contents?.length) fixed(7, contents.fp64_contents, 8);
  const bytes = contents.bytes_contents ?? [];
  let size = 0;
  for (const field of fields) size += delimitedSize(field.number, field.size);
  for (const value of bytes) size += delimitedSize(8, value.length);
  return { fields, bytes, size };
}

interface SizedOutput {
  readonly tensor: TensorMessage;
  readonly nameLength: number;
  readonly datatypeLength: number;
  readonly shapeSize: number;
  readonly contents: ReturnType<typeof packedContents> | undefined;
  readonly size: number;
}

function sizeOutput(tensor: TensorMessage): SizedOutput {
  const nameLength = stringSize(tensor.name);
  const datatypeLength = stringSize(tensor.datatype);
  let shapeSize = 0;
  for (const dim of tensor.shape) shapeSize += varintSize(Number(dim));
  const contents = tensor.contents ? packedContents(tensor.contents) : undefined;
  const size = (nameLength ? delimitedSize(1, nameLength) : 0)
    + (datatypeLength ? delimitedSize(2, datatypeLength) : 0)
    + (shapeSize ? delimitedSize(3, shapeSize) : 0)
    + (contents ? delimitedSize(5, contents.size) : 0);
  return { tensor, nameLength, datatypeLength, shapeSize, contents, size };
}

/** ModelInferResponse to its wire bytes (proto3: empty strings and empty repeated fields are left out). */
export function encodeModelInferResponse(response: GrpcInferResponse): Buffer {
  const modelName = stringSize(response.model_name);
  const modelVersion = stringSize(response.model_version);
  const id = stringSize(response.id);
  const outputs = response.outputs.map(sizeOutput);
  let size = (modelName ? delimitedSize(1, modelName) : 0) + (modelVersion ? delimitedSize(2, modelVersion) : 0) + (id ? delimitedSize(3, id) : 0);
  for (const output of outputs) size += delimitedSize(5, output.size);
  for (const raw of response.raw_output_contents) size += delimitedSize(6, raw.length);

  const w = new Writer(Buffer.allocUnsafe(size));
  if (modelName) w.string(1, response.model_name, modelName);
  if (modelVersion) w.string(2, response.model_version, modelVersion);
  if (id) w.string(3, response.id, id);
  for (const output of outputs) {
    w.tag(5, LENGTH_DELIMITED);
    w.varint(output.size);
    if (output.nameLength) w.string(1, output.tensor.name, output.nameLength);
    if (output.datatypeLength) w.string(2, output.tensor.datatype, output.datatypeLength);
    if (output.shapeSize) {
      w.tag(3, LENGTH_DELIMITED);
      w.varint(output.shapeSize);
      for (const dim of output.tensor.shape) w.varint(Number(dim));
    }
    const contents = output.contents;
    if (contents) {
      w.tag(5, LENGTH_DELIMITED);
      w.varint(contents.size);
      for (const field of contents.fields) {
        w.tag(field.number, LENGTH_DELIMITED);
        w.varint(field.size);
        field.write(w);
      }
      for (const value of contents.bytes) w.bytes(8, value);
    }
  }
  for (const raw of response.raw_output_contents) w.bytes(6, raw);
  if (w.pos !== size) throw new Error(`encoded ${w.pos} bytes of a ${size}-byte ModelInferResponse`);
  return w.buf;
}
