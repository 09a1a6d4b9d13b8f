import { halfBitsToFloat, type NumericArray } from '../model/datatypes.ts';
import type { HostTensor, NamedTensors } from '../model/tensor.ts';
import type { RequestedOutput } from './infer-request.ts';

export interface EncodedResponse {
  readonly body: Buffer | string;
  readonly contentType: string;
  /** Present when binary outputs follow the JSON header. */
  readonly headerLength?: number;
}

interface ResponseIdentity {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly id?: string;
}

/** JSON text of one element as JSON.stringify writes it: non-finite numbers become null. */
const jsonNumber = (value: number): string => (Number.isFinite(value) ? String(value) : 'null');

/** A tensor's elements as the items of a JSON array (without the brackets), flat in row-major order. */
function jsonItems(tensor: HostTensor): string {
  const data = tensor.data;
  const count = data.length;
  let text = '';
  if (Array.isArray(data)) {
    for (let i = 0; i < count; i++) text += (i === 0 ? '' : ',') + JSON.stringify(data[i]);
    return text;
  }
  switch (tensor.datatype) {
    case 'BOOL':
      for (let i = 0; i < count; i++) text += (i === 0 ? '' : ',') + ((data as Uint8Array)[i] !== 0 ? 'true' : 'false');
      return text;
    case 'INT64':
    case 'UINT64':
      for (let i = 0; i < count; i++) text += (i === 0 ? '' : ',') + jsonNumber(Number((data as BigInt64Array)[i]));
      return text;
    case 'FP16':
      for (let i = 0; i < count; i++) text += (i === 0 ? '' : ',') + jsonNumber(halfBitsToFloat((data as Uint16Array)[i] as number));
      return text;
    default:
      for (let i = 0; i < count; i++) text += (i === 0 ? '' : ',') + jsonNumber((data as Float32Array)[i] as number);
      return text;
  }
}

/** Tensor data in the binary extension's layout, which is also gRPC raw_output_contents'. */
export function binaryData(tensor: HostTensor): Buffer {
  const data = tensor.data;
  if (!Array.isArray(data)) {
    const numeric = data as NumericArray;
    return Buffer.from(numeric.buffer, numeric.byteOffset, numeric.byteLength);
  }
  const parts: Buffer[] = [];
  for (const value of data) {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32LE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

/**
 * Encodes outputs as V2 JSON, with binary outputs appended after the JSON header when asked for.
 * Written out by hand, byte for byte what JSON.stringify of the same response object gives (the
 * unit tests compare both): for the small answers most requests get, building that object and
 * stringifying it cost several times more than the model's own work on a row.
 */
export function encodeInferResponse(identity: ResponseIdentity, outputs: NamedTensors, requested: readonly RequestedOutput[]): EncodedResponse {
  const binaries: Buffer[] = [];
  let header = `{"model_name":${JSON.stringify(identity.modelName)},"model_version":${JSON.stringify(identity.modelVersion)}`;
  if (identity.id !== undefined) header += `,"id":${JSON.stringify(identity.id)}`;
  header += ',"outputs":[';
  for (let i = 0; i < requested.length; i++) {
    const { name, binary } = requested[i] as RequestedOutput;
    const tensor = outputs[name] as HostTensor;
    header += `${i === 0 ? '' : ','}{"name":${JSON.stringify(name)},"datatype":"${tensor.datatype}","shape":[${tensor.shape.join(',')}],`;
    if (binary) {
      const bytes = binaryData(tensor);
      binaries.push(bytes);
      header += `"parameters":{"binary_data_size":${bytes.length}}}`;
    } else {
      header += `"data":[${jsonItems(tensor)}]}`;
    }
  }
  header += ']}';
  if (binaries.length === 0) return { body: header, contentType: 'application/json' };
  const headerBytes = Buffer.from(header, 'utf8');
  return {
    body: Buffer.concat([headerBytes, ...binaries]),
    contentType: 'application/octet-stream',
    headerLength: headerBytes.length,
  };
}
