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

function jsonData(tensor: HostTensor): unknown[] {
  const data = tensor.data;
  if (Array.isArray(data)) return data;
  switch (tensor.datatype) {
    case 'BOOL':
      return Array.from(data as Uint8Array, (value) => value !== 0);
    case 'INT64':
    case 'UINT64':
      return Array.from(data as BigInt64Array, Number);
    case 'FP16':
      return Array.from(data as Uint16Array, halfBitsToFloat);
    default:
      return Array.from(data as Float32Array);
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

/** Encodes outputs as V2 JSON, with binary outputs appended after the JSON header when asked for. */
export function encodeInferResponse(identity: ResponseIdentity, outputs: NamedTensors, requested: readonly RequestedOutput[]): EncodedResponse {
  const binaries: Buffer[] = [];
  const described = requested.map(({ name, binary }) => {
    const tensor = outputs[name] as HostTensor;
    const base = { name, datatype: tensor.datatype, shape: tensor.shape };
    if (!binary) return { ...base, data: jsonData(tensor) };
    const bytes = binaryData(tensor);
    binaries.push(bytes);
    return { ...base, parameters: { binary_data_size: bytes.length } };
  });
  const header = JSON.stringify({
    model_name: identity.modelName,
    model_version: identity.modelVersion,
    ...(identity.id !== undefined ? { id: identity.id } : {}),
    outputs: described,
  });
  if (binaries.length === 0) return { body: header, contentType: 'application/json' };
  const headerBytes = Buffer.from(header, 'utf8');
  return {
    body: Buffer.concat([headerBytes, ...binaries]),
    contentType: 'application/octet-stream',
    headerLength: headerBytes.length,
  };
}
