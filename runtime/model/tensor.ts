import { Tensor } from 'onnxruntime-node';
import { ortTypeOf, v2DatatypeOf, type NumericArray, type TensorData, type V2Datatype } from './datatypes.ts';

/** A tensor in host memory, described in V2 terms; what flows between protocol, batcher and model. */
export interface HostTensor {
  readonly datatype: V2Datatype;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export type NamedTensors = Record<string, HostTensor>;

export function toOrtTensor(tensor: HostTensor): Tensor {
  return new Tensor(ortTypeOf(tensor.datatype), tensor.data, tensor.shape);
}

export function fromOrtTensor(name: string, tensor: Tensor): HostTensor {
  const datatype = v2DatatypeOf(tensor.type);
  if (!datatype) throw new Error(`output "${name}" has element type ${tensor.type}, which the V2 protocol cannot carry`);
  return { datatype, shape: tensor.dims, data: tensor.data as NumericArray | string[] };
}
