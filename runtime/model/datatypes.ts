import type { Tensor } from 'onnxruntime-node';

/** Open Inference Protocol (KServe V2) tensor datatypes that onnxruntime-node can feed and fetch. */
export const V2_DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES',
] as const;
export type V2Datatype = (typeof V2_DATATYPES)[number];

export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** Tensor data as onnxruntime-node holds it: typed arrays, or strings for BYTES. */
export type TensorData = NumericArray | string[];

interface NumericTypeInfo {
  readonly ort: Exclude<Tensor.Type, 'string'>;
  /** Bytes per element in the binary tensor data extension (little-endian, row-major). */
  readonly byteSize: number;
  /** Zero-filled. */
  readonly create: (length: number) => NumericArray;
  /**
   * Not initialised, for an array whose every element is written before it is read: zero-filling a
   * large input only to overwrite it was a tenth of the HTTP thread's time on image-sized tensors.
   * Under 4 KiB it is a view into Node's shared Buffer pool (8-byte aligned; a fifth of the cost of a
   * buffer of its own), above it owns its whole buffer and can move to another thread.
   */
  readonly allocate: (length: number) => NumericArray;
  readonly view: (buffer: ArrayBuffer, byteOffset: number, length: number) => NumericArray;
}

function info<T extends NumericArray>(
  ort: Exclude<Tensor.Type, 'string'>,
  ctor: { new (length: number): T; new (buffer: ArrayBuffer, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number },
): NumericTypeInfo {
  return {
    ort,
    byteSize: ctor.BYTES_PER_ELEMENT,
    create: (length) => new ctor(length),
    allocate: (length) => {
      const bytes = Buffer.allocUnsafe(length * ctor.BYTES_PER_ELEMENT);
      return new ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, length);
    },
    view: (buffer, byteOffset, length) => new ctor(buffer, byteOffset, length),
  };
}

// FP16 travels as raw IEEE half bits (Uint16Array), which is how onnxruntime-node takes it on Node 20.
const NUMERIC: Record<Exclude<V2Datatype, 'BYTES'>, NumericTypeInfo> = {
  BOOL: info('bool', Uint8Array),
  UINT8: info('uint8', Uint8Array),
  UINT16: info('uint16', Uint16Array),
  UINT32: info('uint32', Uint32Array),
  UINT64: info('uint64', BigUint64Array),
  INT8: info('int8', Int8Array),
  INT16: info('int16', Int16Array),
  INT32: info('int32', Int32Array),
  INT64: info('int64', BigInt64Array),
  FP16: info('float16', Uint16Array),
  FP32: info('float32', Float32Array),
  FP64: info('float64', Float64Array),
};

const FROM_ORT = new Map<string, V2Datatype>([
  ...Object.entries(NUMERIC).map(([v2, entry]) => [entry.ort, v2 as V2Datatype] as const),
  ['string', 'BYTES'],
]);

export function isV2Datatype(value: unknown): value is V2Datatype {
  return typeof value === 'string' && (V2_DATATYPES as readonly string[]).includes(value);
}

export function numericInfo(datatype: Exclude<V2Datatype, 'BYTES'>): NumericTypeInfo {
  return NUMERIC[datatype];
}

export function ortTypeOf(datatype: V2Datatype): Tensor.Type {
  return datatype === 'BYTES' ? 'string' : NUMERIC[datatype].ort;
}

/** The V2 datatype for an onnxruntime element type, or undefined when V2 cannot carry it (int4...). */
export function v2DatatypeOf(ortType: string): V2Datatype | undefined {
  return FROM_ORT.get(ortType);
}

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 float -> half bits, round to nearest even (JSON FP16 input). */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function halfBitsToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
