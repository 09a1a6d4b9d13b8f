import type { NumericArray, V2Datatype } from '../model/datatypes.ts';
import type { ModelSignature } from '../model/signature.ts';
import type { HostTensor, NamedTensors } from '../model/tensor.ts';
import { badRequest } from './errors.ts';
import { checkInput, checkOutputName, completeRequest, decodeBinaryData, decodeValues, type InferRequest, type RequestedOutput } from './infer-request.ts';
import { binaryData } from './infer-response.ts';

/** InferTensorContents (64-bit integers as bigint when decoded; strings or numbers are accepted to encode). */
export interface TensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Array<string | number | bigint>;
  uint_contents?: number[];
  uint64_contents?: Array<string | number | bigint>;
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}
type ContentsField = keyof TensorContents;

export interface TensorMessage {
  name: string;
  datatype: string;
  shape: Array<string | number>;
  contents?: TensorContents | null;
}

export interface GrpcInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  inputs: TensorMessage[];
  outputs: Array<{ name: string }>;
  raw_input_contents: Buffer[];
}

export interface GrpcInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: TensorMessage[];
  raw_output_contents: Buffer[];
}

/** Which typed-contents field carries each datatype (FP16 has none: raw contents only). */
const CONTENTS_FIELD: Record<V2Datatype, ContentsField | undefined> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP16: undefined,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

function contentsValues(name: string, datatype: V2Datatype, contents: TensorContents | null | undefined): unknown[] {
  const field = CONTENTS_FIELD[datatype];
  if (!field) throw badRequest(`input "${name}": ${datatype} has no typed contents; send it in raw_input_contents`);
  const stray = Object.entries(contents ?? {}).find(([key, values]) => key !== field && Array.isArray(values) && values.length > 0);
  if (stray) throw badRequest(`input "${name}": ${datatype} data goes in contents.${field}, not contents.${stray[0]}`);
  const values: unknown[] = contents?.[field] ?? [];
  if (field === 'bytes_contents') return (values as Buffer[]).map((bytes) => bytes.toString('utf8'));
  if (field === 'int64_contents' || field === 'uint64_contents') return (values as Array<string | number | bigint>).map((value) => BigInt(value));
  return values;
}

function shapeOf(message: TensorMessage): number[] | unknown {
  // int64 dims arrive as strings; a dim beyond 2^53 cannot be a real size and fails the shape check.
  return message.shape.map((dim) => Number(dim));
}

/**
 * Decodes and validates a ModelInfer request with the REST path's checks. Data comes either from
 * raw_input_contents (one entry per input, in order) or from each input's typed contents.
 */
export function decodeGrpcInferRequest(message: GrpcInferRequest, signature: ModelSignature): { request: InferRequest; raw: boolean } {
  const raw = message.raw_input_contents.length > 0;
  if (raw && message.raw_input_contents.length !== message.inputs.length) {
    throw badRequest(`raw_input_contents has ${message.raw_input_contents.length} entries for ${message.inputs.length} inputs; give one per input or none`);
  }
  const inputs: NamedTensors = {};
  message.inputs.forEach((input, index) => {
    const { name, datatype, shape, count } = checkInput(signature, inputs, input.name, input.datatype, shapeOf(input));
    const data = raw
      ? decodeBinaryData(name, datatype, message.raw_input_contents[index] as Buffer, count)
      : decodeValues(name, datatype, contentsValues(name, datatype, input.contents), shape);
    inputs[name] = { datatype, shape, data } satisfies HostTensor;
  });
  const outputs: RequestedOutput[] = message.outputs.length
    ? message.outputs.map(({ name }) => (checkOutputName(signature, name), { name, binary: raw }))
    : signature.outputs.map((spec) => ({ name: spec.name, binary: raw }));
  return { request: completeRequest(signature, inputs, message.id || undefined, outputs), raw };
}

function typedContents(tensor: HostTensor): TensorContents {
  const field = CONTENTS_FIELD[tensor.datatype] as ContentsField;
  const data = tensor.data;
  if (Array.isArray(data)) return { bytes_contents: data.map((value) => Buffer.from(value, 'utf8')) };
  switch (tensor.datatype) {
    case 'BOOL':
      return { bool_contents: Array.from(data as Uint8Array, (value) => value !== 0) };
    case 'INT64':
    case 'UINT64':
      return { [field]: Array.from(data as BigInt64Array, String) };
    default:
      return { [field]: Array.from(data as Exclude<NumericArray, BigInt64Array | BigUint64Array>) };
  }
}

interface ResponseIdentity {
  readonly modelName: string;
  readonly modelVersion: string;
  readonly id?: string;
}

/**
 * Outputs go back the way the inputs came: raw_output_contents for a raw request, typed contents
 * otherwise; FP16, which has no typed contents, turns the whole response raw (the protocol allows
 * one form per response).
 */
export function encodeGrpcInferResponse(identity: ResponseIdentity, outputs: NamedTensors, requested: readonly RequestedOutput[], raw: boolean): GrpcInferResponse {
  const tensors = requested.map(({ name }) => [name, outputs[name] as HostTensor] as const);
  const asRaw = raw || tensors.some(([, tensor]) => !CONTENTS_FIELD[tensor.datatype]);
  return {
    model_name: identity.modelName,
    model_version: identity.modelVersion,
    id: identity.id ?? '',
    outputs: tensors.map(([name, tensor]) => ({
      name,
      datatype: tensor.datatype,
      shape: [...tensor.shape],
      ...(asRaw ? {} : { contents: typedContents(tensor) }),
    })),
    raw_output_contents: asRaw ? tensors.map(([, tensor]) => binaryData(tensor)) : [],
  };
}
