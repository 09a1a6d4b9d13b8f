import type { InferenceSession } from 'onnxruntime-node';
import { v2DatatypeOf, type V2Datatype } from './datatypes.ts';

/** One model input or output as the V2 metadata endpoint describes it; -1 marks a dynamic dim. */
export interface TensorSpec {
  readonly name: string;
  readonly datatype: V2Datatype;
  readonly shape: readonly number[];
}

export interface ModelSignature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Every input and output has a dynamic first dimension, so requests can be stacked along it. */
  readonly batchable: boolean;
}

/**
 * A concrete shape for a sample of `spec` (warm-up runs, sample requests): fixed dims as they are,
 * the batch dim `rows` where the model batches, every other dynamic dim 1.
 */
export function sampleShape(spec: TensorSpec, signature: ModelSignature, rows = 1): number[] {
  return spec.shape.map((dim, i) => (dim >= 0 ? dim : i === 0 && signature.batchable ? rows : 1));
}

function toSpec(metadata: InferenceSession.ValueMetadata, role: string): TensorSpec {
  if (!metadata.isTensor) throw new Error(`${role} "${metadata.name}" is not a tensor; only tensor inputs and outputs are served`);
  const datatype = v2DatatypeOf(metadata.type);
  if (!datatype) throw new Error(`${role} "${metadata.name}" has element type ${metadata.type}, which the V2 protocol cannot carry`);
  return { name: metadata.name, datatype, shape: metadata.shape.map((dim) => (typeof dim === 'number' ? dim : -1)) };
}

export function signatureOf(session: InferenceSession): ModelSignature {
  const inputs = session.inputMetadata.map((m) => toSpec(m, 'input'));
  const outputs = session.outputMetadata.map((m) => toSpec(m, 'output'));
  const batchable = [...inputs, ...outputs].every((spec) => spec.shape.length > 0 && spec.shape[0] === -1);
  return { inputs, outputs, batchable };
}
