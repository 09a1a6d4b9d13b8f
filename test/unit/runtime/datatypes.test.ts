import { expect } from 'chai';
import { floatToHalfBits, halfBitsToFloat, ortTypeOf, v2DatatypeOf, V2_DATATYPES } from '../../../runtime/model/datatypes.ts';
import { concatFeeds, splitOutputs } from '../../../runtime/batching/batch-tensors.ts';

describe('unit: V2 datatypes', () => {
  it('maps every V2 datatype to an onnxruntime type and back', () => {
    for (const datatype of V2_DATATYPES) expect(v2DatatypeOf(ortTypeOf(datatype))).to.equal(datatype);
    expect(v2DatatypeOf('int4')).to.equal(undefined);
  });

  it('converts FP16 exactly where representable and rounds to nearest even', () => {
    for (const [value, bits] of [[0, 0], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [0.5, 0x3800], [2 ** -24, 1], [Infinity, 0x7c00], [1e6, 0x7c00]] as const) {
      expect(floatToHalfBits(value), String(value)).to.equal(bits);
      if (Number.isFinite(value) && value <= 65504) expect(halfBitsToFloat(bits)).to.equal(value);
    }
    expect(floatToHalfBits(1 + 2 ** -11)).to.equal(0x3c00);
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).to.equal(0x3c02);
    expect(Number.isNaN(halfBitsToFloat(floatToHalfBits(Number.NaN)))).to.equal(true);
  });
});

describe('unit: batch tensors', () => {
  it('concatenates along dim 0 and splits back', () => {
    const a = { x: { datatype: 'INT64' as const, shape: [1, 2], data: new BigInt64Array([1n, 2n]) }, s: { datatype: 'BYTES' as const, shape: [1], data: ['a'] } };
    const b = { x: { datatype: 'INT64' as const, shape: [2, 2], data: new BigInt64Array([3n, 4n, 5n, 6n]) }, s: { datatype: 'BYTES' as const, shape: [2], data: ['b', 'c'] } };
    const merged = concatFeeds([a, b]);
    expect(merged.x?.shape).to.deep.equal([3, 2]);
    expect(Array.from(merged.x?.data as BigInt64Array)).to.deep.equal([1n, 2n, 3n, 4n, 5n, 6n]);
    expect(merged.s?.data).to.deep.equal(['a', 'b', 'c']);
    const [first, second] = splitOutputs(merged, [1, 2]);
    expect(first?.x?.shape).to.deep.equal([1, 2]);
    expect(Array.from(second?.x?.data as BigInt64Array)).to.deep.equal([3n, 4n, 5n, 6n]);
    expect(second?.s?.data).to.deep.equal(['b', 'c']);
  });

  it('refuses to split an output whose first dim is not the batch', () => {
    expect(() => splitOutputs({ y: { datatype: 'FP32', shape: [1], data: new Float32Array(1) } }, [1, 2])).to.throw(/cannot split/);
  });
});
