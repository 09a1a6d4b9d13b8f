import { expect } from 'chai';
import fc from 'fast-check';
import { halfBitsToFloat, numericInfo, V2_DATATYPES, type TensorData, type V2Datatype } from '../../../runtime/model/datatypes.ts';
import type { HostTensor, NamedTensors } from '../../../runtime/model/tensor.ts';
import { binaryData, encodeInferResponse } from '../../../runtime/protocol/infer-response.ts';

/** The reference: the V2 response object as the protocol describes it, written by JSON.stringify. */
function reference(identity: { modelName: string; modelVersion: string; id?: string }, outputs: NamedTensors, requested: { name: string; binary: boolean }[]): string {
  const described = requested.map(({ name, binary }) => {
    const tensor = outputs[name] as HostTensor;
    const base = { name, datatype: tensor.datatype, shape: tensor.shape };
    if (binary) return { ...base, parameters: { binary_data_size: binaryData(tensor).length } };
    const data = tensor.data;
    const values = Array.isArray(data) ? data
      : tensor.datatype === 'BOOL' ? Array.from(data as Uint8Array, (v) => v !== 0)
        : tensor.datatype === 'INT64' || tensor.datatype === 'UINT64' ? Array.from(data as BigInt64Array, Number)
          : tensor.datatype === 'FP16' ? Array.from(data as Uint16Array, halfBitsToFloat)
            : Array.from(data as Float32Array);
    return { ...base, data: values };
  });
  return JSON.stringify({
    model_name: identity.modelName, model_version: identity.modelVersion, ...(identity.id !== undefined ? { id: identity.id } : {}), outputs: described,
  });
}

/** Element values of every kind a model can answer, the awkward ones (NaN, ±Infinity, -0, 2^63-1, quotes, unicode) included. */
function tensorOf(datatype: V2Datatype): fc.Arbitrary<HostTensor> {
  return fc.integer({ min: 0, max: 6 }).chain((count): fc.Arbitrary<HostTensor> => {
    const shape = [1, count];
    if (datatype === 'BYTES') return fc.array(fc.string({ unit: 'binary' }), { minLength: count, maxLength: count }).map((data): HostTensor => ({ datatype, shape, data }));
    const info = numericInfo(datatype);
    const raw = fc.uint8Array({ minLength: count * info.byteSize, maxLength: count * info.byteSize });
    return raw.map((bytes) => {
      const data = info.create(count);
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(bytes);
      if (datatype === 'BOOL') (data as Uint8Array).forEach((v, i, all) => { all[i] = v % 3 === 0 ? 0 : v; });
      return { datatype, shape, data: data as TensorData };
    });
  });
}

describe('runtime V2 response encoding (runtime/protocol/infer-response.ts)', () => {
  it('writes exactly what JSON.stringify writes for the same response, for every datatype, JSON and binary outputs, with and without an id', () => {
    const output = fc.constantFrom(...V2_DATATYPES).chain((datatype) => fc.tuple(tensorOf(datatype), fc.boolean()));
    fc.assert(fc.property(
      fc.array(output, { minLength: 1, maxLength: 4 }), fc.option(fc.string({ unit: 'binary' }), { nil: undefined }), fc.string({ unit: 'binary' }),
      (tensors, id, modelName) => {
        const outputs: NamedTensors = {};
        const requested = tensors.map(([tensor, binary], i) => {
          const name = `out"${i}\u00e9`;
          outputs[name] = tensor;
          return { name, binary };
        });
        const identity = { modelName, modelVersion: '1', ...(id !== undefined ? { id } : {}) };
        const encoded = encodeInferResponse(identity, outputs, requested);
        const expected = reference(identity, outputs, requested);
        const header = typeof encoded.body === 'string' ? encoded.body : encoded.body.subarray(0, encoded.headerLength).toString('utf8');
        expect(header).to.equal(expected);
        expect(() => JSON.parse(header) as unknown).not.to.throw();
      },
    ), { numRuns: 500 });
  });

  it('writes NaN and infinite scores as null, as JSON.stringify does, so the answer stays valid JSON', () => {
    const scores: HostTensor = { datatype: 'FP32', shape: [1, 4], data: new Float32Array([Number.NaN, Infinity, -Infinity, -0]) };
    const { body } = encodeInferResponse({ modelName: 'm', modelVersion: '2' }, { scores }, [{ name: 'scores', binary: false }]);
    expect(JSON.parse(body as string)).to.deep.equal({
      model_name: 'm', model_version: '2', outputs: [{ name: 'scores', datatype: 'FP32', shape: [1, 4], data: [null, null, null, 0] }],
    });
  });
});
