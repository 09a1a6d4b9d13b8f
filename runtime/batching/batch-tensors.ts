import type { NumericArray, TensorData } from '../model/datatypes.ts';
import { elementCount, numericInfo, type V2Datatype } from '../model/datatypes.ts';
import type { HostTensor, NamedTensors } from '../model/tensor.ts';

function concatData(datatype: V2Datatype, parts: readonly TensorData[], total: number): TensorData {
  if (datatype === 'BYTES') return (parts as string[][]).flat();
  // Not zero-filled: every element is written below.
  const out = numericInfo(datatype).allocate(total);
  let offset = 0;
  for (const part of parts as NumericArray[]) {
    (out as Float32Array).set(part as Float32Array, offset);
    offset += part.length;
  }
  return out;
}

/** Stacks the requests' feeds along dim 0. All requests share input names, datatypes and trailing dims. */
export function concatFeeds(requests: readonly NamedTensors[]): NamedTensors {
  const first = requests[0];
  if (!first) throw new Error('empty batch');
  const merged: NamedTensors = {};
  for (const [name, head] of Object.entries(first)) {
    const tensors = requests.map((feeds) => feeds[name] as HostTensor);
    let rows = 0;
    let total = 0;
    for (const tensor of tensors) {
      rows += tensor.shape[0] ?? 0;
      total += tensor.data.length;
    }
    merged[name] = {
      datatype: head.datatype,
      shape: [rows, ...head.shape.slice(1)],
      data: concatData(head.datatype, tensors.map((t) => t.data), total),
    };
  }
  return merged;
}

/** Cuts batched outputs back into per-request outputs, by each request's row count. */
export function splitOutputs(outputs: NamedTensors, rowsPerRequest: readonly number[]): NamedTensors[] {
  const totalRows = rowsPerRequest.reduce((sum, rows) => sum + rows, 0);
  const results: NamedTensors[] = rowsPerRequest.map(() => ({}));
  for (const [name, tensor] of Object.entries(outputs)) {
    if (tensor.shape[0] !== totalRows) {
      throw new Error(`output "${name}" has ${tensor.shape[0]} rows for a batch of ${totalRows}; cannot split it`);
    }
    const rowSize = totalRows === 0 ? 0 : elementCount(tensor.shape) / totalRows;
    const tail = tensor.shape.slice(1);
    let row = 0;
    rowsPerRequest.forEach((rows, index) => {
      const start = row * rowSize;
      const end = (row + rows) * rowSize;
      const data = Array.isArray(tensor.data) ? tensor.data.slice(start, end) : (tensor.data as NumericArray).subarray(start, end);
      (results[index] as NamedTensors)[name] = { datatype: tensor.datatype, shape: [rows, ...tail], data };
      row += rows;
    });
  }
  return results;
}
