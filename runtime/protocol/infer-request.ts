import {
  elementCount, floatToHalfBits, isV2Datatype, numericInfo,
  type NumericArray, type TensorData, type V2Datatype,
} from '../model/datatypes.ts';
import type { ModelSignature, TensorSpec } from '../model/signature.ts';
import type { HostTensor, NamedTensors } from '../model/tensor.ts';
import { badRequest } from './errors.ts';
import { runAsJson, runValues, scanJsonRequest, type NumericRun } from './json-tensors.ts';

/** Which outputs to return, and whether each goes as binary (binary tensor data extension). */
export interface RequestedOutput {
  readonly name: string;
  readonly binary: boolean;
}

export interface InferRequest {
  readonly id?: string;
  readonly inputs: NamedTensors;
  /** Rows along dim 0 (the batch dimension) when the model is batchable. */
  readonly rows: number;
  /** Requests with the same key can share a run: same trailing dims for every input. */
  readonly batchKey: string | undefined;
  readonly outputs: readonly RequestedOutput[];
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

const INTEGER_RANGES: Partial<Record<V2Datatype, readonly [number, number]>> = {
  UINT8: [0, 0xff], UINT16: [0, 0xffff], UINT32: [0, 0xffffffff], UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-0x80, 0x7f], INT16: [-0x8000, 0x7fff], INT32: [-0x80000000, 0x7fffffff],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/**
 * Nested row-major data nests at most one level per dimension; flattening only that deep keeps a
 * hostile, deeply nested body from overflowing the stack (anything deeper is left as an array and
 * refused by the element checks).
 */
function flatten(data: ArrayLike<unknown>, rank: number): ArrayLike<unknown> {
  return Array.isArray(data) && data.length > 0 && Array.isArray(data[0]) ? data.flat(Math.max(0, rank - 1)) : data;
}

/**
 * Element values (JSON data, numbers already read from JSON text, or gRPC typed contents) to tensor
 * data, with type and range checks.
 */
export function decodeValues(name: string, datatype: V2Datatype, raw: ArrayLike<unknown>, shape: readonly number[]): TensorData {
  const count = elementCount(shape);
  const values = flatten(raw, shape.length);
  if (values.length !== count) {
    throw badRequest(`input "${name}": shape holds ${count} elements but data has ${values.length}`);
  }
  if (datatype === 'BYTES') {
    for (let i = 0; i < count; i++) {
      if (typeof values[i] !== 'string') throw badRequest(`input "${name}": BYTES data must be strings`);
    }
    return Array.isArray(values) ? (values as string[]) : Array.from(values as ArrayLike<string>);
  }
  const out = numericInfo(datatype).allocate(count);
  const range = INTEGER_RANGES[datatype];
  for (let i = 0; i < count; i++) {
    const value = values[i];
    if (datatype === 'BOOL') {
      if (typeof value !== 'boolean') throw badRequest(`input "${name}": BOOL data must be true or false`);
      (out as Uint8Array)[i] = value ? 1 : 0;
      continue;
    }
    if (typeof value === 'bigint' && (datatype === 'INT64' || datatype === 'UINT64')) {
      // 64-bit integers beyond 2^53 arrive as bigint from gRPC int64 contents, never from JSON.
      const fits = datatype === 'INT64' ? BigInt.asIntN(64, value) === value : BigInt.asUintN(64, value) === value;
      if (!fits) throw badRequest(`input "${name}": ${value} is not a valid ${datatype}`);
      (out as BigInt64Array)[i] = value;
      continue;
    }
    if (typeof value !== 'number') throw badRequest(`input "${name}": ${datatype} data must be numbers`);
    if (range) {
      if (!Number.isInteger(value) || value < range[0] || value > range[1]) {
        throw badRequest(`input "${name}": ${value} is not a valid ${datatype}`);
      }
      if (datatype === 'INT64' || datatype === 'UINT64') (out as BigInt64Array)[i] = BigInt(value) as never;
      else (out as Int32Array)[i] = value;
    } else if (datatype === 'FP16') {
      (out as Uint16Array)[i] = floatToHalfBits(value);
    } else {
      (out as Float32Array)[i] = value;
    }
  }
  return out;
}

function decodeBinaryBytes(name: string, bytes: Buffer, count: number): string[] {
  const values: string[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 4 > bytes.length) throw badRequest(`input "${name}": truncated BYTES element length`);
    const length = bytes.readUInt32LE(offset);
    offset += 4;
    if (offset + length > bytes.length) throw badRequest(`input "${name}": BYTES element overruns its binary data`);
    values.push(bytes.toString('utf8', offset, offset + length));
    offset += length;
  }
  if (values.length !== count) throw badRequest(`input "${name}": shape holds ${count} elements but binary data has ${values.length}`);
  return values;
}

/** Little-endian row-major bytes (BYTES: 4-byte length + bytes per element) to tensor data: the binary extension's and gRPC raw contents' layout. */
export function decodeBinaryData(name: string, datatype: V2Datatype, bytes: Buffer, count: number): TensorData {
  if (datatype === 'BYTES') return decodeBinaryBytes(name, bytes, count);
  const info = numericInfo(datatype);
  if (bytes.length !== count * info.byteSize) {
    throw badRequest(`input "${name}": ${datatype} shape holds ${count * info.byteSize} bytes but binary data has ${bytes.length}`);
  }
  // A view where the bytes are aligned for one (inputs are never written to); a copy where they are not.
  if (bytes.byteOffset % info.byteSize === 0) return info.view(bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
  const out: NumericArray = info.allocate(count);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  return out;
}

function checkShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && (dim as number) >= 0)) {
    throw badRequest(`input "${name}": shape must be an array of non-negative integers`);
  }
  return shape as number[];
}

function checkAgainstSpec(spec: TensorSpec, datatype: string, shape: readonly number[]): void {
  if (datatype !== spec.datatype) {
    throw badRequest(`input "${spec.name}": datatype ${datatype} does not match the model's ${spec.datatype}`);
  }
  const expected = spec.shape;
  const fits = shape.length === expected.length && expected.every((dim, i) => dim < 0 || dim === shape[i]);
  if (!fits) {
    throw badRequest(`input "${spec.name}": shape [${shape.join(',')}] does not match the model's [${expected.join(',')}] (-1 is any size)`);
  }
}

function parseJson(text: Buffer): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.toString('utf8'));
  } catch (error) {
    throw badRequest(`malformed JSON: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) throw badRequest('the inference request must be a JSON object');
  return parsed;
}

/** Splits a body into JSON header and binary tail per the binary tensor data extension. */
function splitBody(body: Buffer, headerLength: string | undefined): { header: Buffer; binary: Buffer } {
  if (headerLength === undefined) return { header: body, binary: body.subarray(body.length) };
  const length = Number(headerLength);
  if (!/^\d+$/.test(headerLength) || length > body.length) {
    throw badRequest(`Inference-Header-Content-Length ${headerLength} is invalid for a ${body.length}-byte body`);
  }
  return { header: body.subarray(0, length), binary: body.subarray(length) };
}

function requestedOutputs(request: Json, signature: ModelSignature): RequestedOutput[] {
  const defaultBinary = isObject(request.parameters) && request.parameters.binary_data_output === true;
  if (request.outputs === undefined) {
    return signature.outputs.map((spec) => ({ name: spec.name, binary: defaultBinary }));
  }
  if (!Array.isArray(request.outputs)) throw badRequest('"outputs" must be an array');
  return request.outputs.map((output: unknown) => {
    if (!isObject(output) || typeof output.name !== 'string') throw badRequest('each requested output needs a "name"');
    const name = output.name;
    checkOutputName(signature, name);
    const binary = isObject(output.parameters) && typeof output.parameters.binary_data === 'boolean'
      ? output.parameters.binary_data
      : defaultBinary;
    return { name, binary };
  });
}

/**
 * What a binary request's JSON header asks for, once validated: the next body with the same header
 * (clients send the same one over and over, only the tensor bytes differ) is decoded without
 * parsing or validating it again.
 */
interface BinaryPlan {
  readonly inputs: readonly { readonly name: string; readonly datatype: V2Datatype; readonly shape: readonly number[]; readonly count: number; readonly bytes: number }[];
  readonly binaryBytes: number;
  readonly outputs: readonly RequestedOutput[];
  readonly rows: number;
  readonly batchKey: string | undefined;
}

/** Headers remembered per model (a request with an "id" is never remembered: its header is its own). */
const BINARY_PLANS_PER_MODEL = 64;
const MAX_PLANNED_HEADER_BYTES = 4096;

/**
 * A model's remembered headers by their length, each kept as its bytes: a body's header is found by
 * comparing bytes, with no string made of it and hashed per request.
 */
interface BinaryPlans {
  readonly byLength: Map<number, { readonly header: Buffer; readonly plan: BinaryPlan }[]>;
  size: number;
}
const binaryPlans = new WeakMap<ModelSignature, BinaryPlans>();

function findBinaryPlan(signature: ModelSignature, header: Buffer): BinaryPlan | undefined {
  const sameLength = binaryPlans.get(signature)?.byLength.get(header.length);
  if (!sameLength) return undefined;
  for (const entry of sameLength) if (entry.header.equals(header)) return entry.plan;
  return undefined;
}

function fromBinaryPlan(plan: BinaryPlan, binary: Buffer): InferRequest {
  const inputs: NamedTensors = {};
  let offset = 0;
  for (const { name, datatype, shape, count, bytes } of plan.inputs) {
    inputs[name] = { datatype, shape: shape.slice(), data: decodeBinaryData(name, datatype, binary.subarray(offset, offset + bytes), count) } satisfies HostTensor;
    offset += bytes;
  }
  return { inputs, rows: plan.rows, batchKey: plan.batchKey, outputs: plan.outputs };
}

function rememberBinaryPlan(signature: ModelSignature, header: Buffer, request: InferRequest, binaryInputs: readonly { name: string; bytes: number }[], binaryBytes: number): void {
  let plans = binaryPlans.get(signature);
  if (!plans) binaryPlans.set(signature, (plans = { byLength: new Map(), size: 0 }));
  if (plans.size >= BINARY_PLANS_PER_MODEL) {
    plans.byLength.clear();
    plans.size = 0;
  }
  const inputs = binaryInputs.map(({ name, bytes }) => {
    const tensor = request.inputs[name] as HostTensor;
    return { name, datatype: tensor.datatype, shape: tensor.shape.slice(), count: elementCount(tensor.shape), bytes };
  });
  // A copy of its own: the header is a view into the body, whose buffer (a whole socket read) it would keep.
  const own = Buffer.allocUnsafeSlow(header.length);
  header.copy(own);
  const sameLength = plans.byLength.get(header.length) ?? [];
  sameLength.push({ header: own, plan: { inputs, binaryBytes, outputs: request.outputs, rows: request.rows, batchKey: request.batchKey } });
  plans.byLength.set(header.length, sameLength);
  plans.size++;
}

/**
 * Decodes and fully validates a V2 inference request against the model's signature, so that only
 * well-formed requests ever reach the batcher. `jsonFastPath: false` parses the whole JSON with
 * JSON.parse: the reference the fast path (json-tensors.ts) must match exactly.
 */
export function decodeInferRequest(
  body: Buffer, headerLength: string | undefined, signature: ModelSignature, { jsonFastPath = true }: { jsonFastPath?: boolean } = {},
): InferRequest {
  const { header, binary } = splitBody(body, headerLength);
  const plannable = headerLength !== undefined && binary.length > 0 && header.length <= MAX_PLANNED_HEADER_BYTES;
  const plan = plannable ? findBinaryPlan(signature, header) : undefined;
  if (plan && plan.binaryBytes === binary.length) return fromBinaryPlan(plan, binary);
  const scanned = jsonFastPath ? scanJsonRequest(header) : undefined;
  const request = scanned?.request ?? parseJson(header);
  if (request.id !== undefined && typeof request.id !== 'string') throw badRequest('"id" must be a string');
  if (!Array.isArray(request.inputs)) throw badRequest('"inputs" must be an array of tensors');

  const inputs: NamedTensors = {};
  let binaryOffset = 0;
  let allBinary = true;
  const binaryInputs: { name: string; bytes: number }[] = [];
  for (const [index, input] of (request.inputs as unknown[]).entries()) {
    if (!isObject(input) || typeof input.name !== 'string') throw badRequest('each input needs a "name"');
    const { name, datatype, shape, count } = checkInput(signature, inputs, input.name, input.datatype, input.shape);
    const binarySize = isObject(input.parameters) ? input.parameters.binary_data_size : undefined;
    let data: TensorData;
    if (binarySize !== undefined) {
      if (!Number.isSafeInteger(binarySize) || (binarySize as number) < 0) throw badRequest(`input "${name}": invalid binary_data_size`);
      const end = binaryOffset + (binarySize as number);
      if (end > binary.length) throw badRequest(`input "${name}": binary_data_size ${String(binarySize)} overruns the request body`);
      data = decodeBinaryData(name, datatype, binary.subarray(binaryOffset, end), count);
      binaryInputs.push({ name, bytes: binarySize as number });
      binaryOffset = end;
    } else if (scanned?.runs.has(index)) {
      allBinary = false;
      data = decodeRun(header, scanned.runs.get(index) as NumericRun, name, datatype, shape);
    } else if (Array.isArray(input.data)) {
      allBinary = false;
      data = decodeValues(name, datatype, input.data, shape);
    } else {
      throw badRequest(`input "${name}" has neither "data" nor a binary_data_size parameter`);
    }
    inputs[name] = { datatype, shape, data } satisfies HostTensor;
  }
  if (binaryOffset !== binary.length) {
    throw badRequest(`the body carries ${binary.length - binaryOffset} bytes of binary data no input claims`);
  }
  const decoded = completeRequest(signature, inputs, request.id as string | undefined, requestedOutputs(request, signature));
  // BYTES elements have lengths of their own: only fixed-size binary inputs are planned.
  if (plannable && !plan && allBinary && decoded.id === undefined && binaryInputs.every(({ name }) => inputs[name]?.datatype !== 'BYTES')) {
    rememberBinaryPlan(signature, header, decoded, binaryInputs, binary.length);
  }
  return decoded;
}

/** A "data" array the JSON fast path read: decoded as decodeValues would decode JSON.parse's array. */
function decodeRun(body: Buffer, run: NumericRun, name: string, datatype: V2Datatype, shape: readonly number[]): TensorData {
  // Numbers nested no deeper than the rank flatten to exactly the run's values; anything else
  // (BOOL/BYTES data given as numbers, too deep, a count mismatch) takes the ordinary path and its errors.
  const fits = datatype !== 'BOOL' && datatype !== 'BYTES' && run.depth <= Math.max(1, shape.length) && run.values.length === elementCount(shape);
  const values = fits ? runValues(body, run, datatype === 'FP32' || datatype === 'FP16') : undefined;
  return decodeValues(name, datatype, values ?? runAsJson(body, run), shape);
}

/**
 * The checks every input gets, whatever the wire format: a known, not yet given input whose
 * datatype and shape fit the model.
 */
export function checkInput(
  signature: ModelSignature, given: NamedTensors, requestedName: string, datatype: unknown, rawShape: unknown,
): { name: string; datatype: V2Datatype; shape: number[]; count: number } {
  const spec = signature.inputs.find((candidate) => candidate.name === requestedName);
  if (!spec) throw badRequest(`unknown input "${requestedName}"; the model takes ${signature.inputs.map((s) => s.name).join(', ')}`);
  // From here on the signature's own copy of the name: a property key V8 has already interned, where
  // the request's copy (a fresh string from each body) is looked up in its string table on every use.
  const name = spec.name;
  if (given[name]) throw badRequest(`input "${name}" is given twice`);
  if (!isV2Datatype(datatype)) throw badRequest(`input "${name}": unsupported datatype ${String(datatype)}`);
  const shape = checkShape(name, rawShape);
  checkAgainstSpec(spec, datatype, shape);
  const count = elementCount(shape);
  // Empty tensors (a zero dim, however huge the others) make onnxruntime fail inside the run.
  if (count === 0) throw badRequest(`input "${name}": shape [${shape.join(',')}] holds no elements`);
  return { name, datatype, shape, count };
}

export function checkOutputName(signature: ModelSignature, name: string): void {
  if (!signature.outputs.some((spec) => spec.name === name)) throw badRequest(`unknown output "${name}"`);
}

/** Checks that every input is there and works out how the request batches. */
export function completeRequest(
  signature: ModelSignature, inputs: NamedTensors, id: string | undefined, outputs: readonly RequestedOutput[],
): InferRequest {
  const missing = signature.inputs.filter((spec) => !inputs[spec.name]);
  if (missing.length) throw badRequest(`missing input(s): ${missing.map((spec) => spec.name).join(', ')}`);

  let rows = 0;
  let batchKey: string | undefined;
  if (signature.batchable) {
    const tensors = signature.inputs.map((spec) => inputs[spec.name] as HostTensor);
    rows = tensors[0]?.shape[0] ?? 0;
    if (tensors.some((tensor) => tensor.shape[0] !== rows)) throw badRequest('all inputs must have the same first (batch) dimension');
    batchKey = rows > 0 ? tensors.map((tensor) => tensor.shape.slice(1).join('x')).join('|') : undefined;
  }
  return { ...(id !== undefined ? { id } : {}), inputs, rows, batchKey, outputs };
}
