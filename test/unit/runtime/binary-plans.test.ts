import { expect } from 'chai';
import type { ModelSignature } from '../../../runtime/model/signature.ts';
import { HttpError } from '../../../runtime/protocol/errors.ts';
import { decodeInferRequest } from '../../../runtime/protocol/infer-request.ts';

const signature = (): ModelSignature => ({
  inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 3] }, { name: 'mask', datatype: 'INT64', shape: [-1, 1] }],
  outputs: [{ name: 'label', datatype: 'INT64', shape: [-1] }, { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
  batchable: true,
});

/** A binary-extension body: the JSON header, then the tensors' bytes. */
function binaryBody(header: Record<string, unknown>, ...tensors: Buffer[]): { body: Buffer; headerLength: string } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...tensors]), headerLength: String(json.length) };
}

const features = (...values: number[]) => Buffer.from(new Float32Array(values).buffer);
const mask = (...values: bigint[]) => Buffer.from(new BigInt64Array(values).buffer);
const header = (rows: number, extra: Record<string, unknown> = {}) => ({
  inputs: [
    { name: 'features', datatype: 'FP32', shape: [rows, 3], parameters: { binary_data_size: rows * 12 } },
    { name: 'mask', datatype: 'INT64', shape: [rows, 1], parameters: { binary_data_size: rows * 8 } },
  ],
  outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
  ...extra,
});

function refusal(decode: () => unknown): string {
  try {
    decode();
  } catch (error) {
    expect(error).to.be.instanceOf(HttpError);
    return `${(error as HttpError).status} ${(error as HttpError).message}`;
  }
  throw new Error('expected a refusal');
}

/**
 * Binary requests repeat their JSON header; the runtime remembers a validated header per model
 * (runtime/protocol/infer-request.ts) and decodes the next body with it without parsing it again.
 * A remembered header must decode exactly as a first one would, and refuse what a first would.
 */
describe('unit: a binary request whose JSON header was seen before decodes as a new one would', () => {
  it('reads each body\'s own tensor bytes, shapes and requested outputs, request after request', () => {
    const model = signature();
    const first = binaryBody(header(2), features(1, 2, 3, 4, 5, 6), mask(1n, 0n));
    const second = binaryBody(header(2), features(7, 8, 9, 10, 11, 12), mask(0n, 1n));
    const a = decodeInferRequest(first.body, first.headerLength, model);
    const b = decodeInferRequest(second.body, second.headerLength, model);
    const fresh = decodeInferRequest(second.body, second.headerLength, signature());
    expect(Array.from(a.inputs.features?.data as Float32Array)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(Array.from(b.inputs.features?.data as Float32Array)).to.deep.equal([7, 8, 9, 10, 11, 12]);
    expect(Array.from(b.inputs.mask?.data as BigInt64Array)).to.deep.equal([0n, 1n]);
    expect({ ...b, inputs: Object.keys(b.inputs) }).to.deep.equal({ ...fresh, inputs: Object.keys(fresh.inputs) });
    expect(b.inputs.features?.shape).to.deep.equal([2, 3]);
    expect(b.inputs.features?.shape === a.inputs.features?.shape, 'a shape array of its own').to.equal(false);
    expect(b.outputs).to.deep.equal([{ name: 'probabilities', binary: true }]);
  });

  it('refuses a body whose bytes do not fit the remembered header with the message a first decode gives', () => {
    const model = signature();
    const good = binaryBody(header(2), features(1, 2, 3, 4, 5, 6), mask(1n, 0n));
    decodeInferRequest(good.body, good.headerLength, model);
    const short = binaryBody(header(2), features(1, 2, 3, 4, 5, 6), mask(1n));
    const long = binaryBody(header(2), features(1, 2, 3, 4, 5, 6), mask(1n, 0n), Buffer.alloc(4));
    for (const body of [short, long]) {
      expect(refusal(() => decodeInferRequest(body.body, body.headerLength, model))).to.equal(refusal(() => decodeInferRequest(body.body, body.headerLength, signature())));
    }
  });

  it('keeps each request\'s id, and the headers of other models apart', () => {
    const model = signature();
    for (const id of ['a', 'b']) {
      const body = binaryBody(header(1, { id }), features(1, 2, 3), mask(1n));
      expect(decodeInferRequest(body.body, body.headerLength, model).id).to.equal(id);
    }
    const body = binaryBody(header(1), features(1, 2, 3), mask(1n));
    decodeInferRequest(body.body, body.headerLength, model);
    const other: ModelSignature = { ...signature(), inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 3] }] };
    expect(refusal(() => decodeInferRequest(body.body, body.headerLength, other))).to.match(/^400 unknown input "mask"/);
  });
});
