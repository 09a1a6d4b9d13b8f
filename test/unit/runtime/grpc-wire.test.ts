import { expect } from 'chai';
import fc from 'fast-check';
import type { GrpcInferRequest, GrpcInferResponse } from '../../../runtime/protocol/grpc-codec.ts';
import { decodeModelInferRequest, encodeModelInferResponse, MalformedMessageError } from '../../../runtime/protocol/grpc-wire.ts';
import { modelInferSerializers as modelInfer } from '../../runtime/grpc-client.ts';

const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const contents = fc.record({
  bool_contents: fc.array(fc.boolean(), { maxLength: 4 }),
  int_contents: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 4 }),
  int64_contents: fc.array(int64.map(String), { maxLength: 4 }),
  uint_contents: fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 4 }),
  uint64_contents: fc.array(uint64.map(String), { maxLength: 4 }),
  fp32_contents: fc.array(fc.float({ noNaN: true }), { maxLength: 4 }),
  fp64_contents: fc.array(fc.double({ noNaN: true }), { maxLength: 4 }),
  bytes_contents: fc.array(fc.uint8Array({ maxLength: 6 }).map((bytes) => Buffer.from(bytes)), { maxLength: 3 }),
}, { requiredKeys: [] });
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const parameter = fc.oneof(fc.record({ bool_param: fc.boolean() }), fc.record({ string_param: text }), fc.record({ int64_param: int64.map(String) }));
const parameters = fc.dictionary(fc.string({ maxLength: 5 }), parameter, { maxKeys: 2 });
const shape = fc.array(fc.oneof(fc.integer({ min: -1, max: 2 ** 40 }), fc.constant(Number.MAX_SAFE_INTEGER)), { maxLength: 4 });

const request = fc.record({
  model_name: text,
  model_version: text,
  id: text,
  parameters,
  inputs: fc.array(fc.record({ name: text, datatype: text, shape, parameters, contents: fc.option(contents, { nil: undefined }) }, { requiredKeys: ['name', 'datatype', 'shape'] }), { maxLength: 3 }),
  outputs: fc.array(fc.record({ name: text, parameters }), { maxLength: 2 }),
  raw_input_contents: fc.array(fc.uint8Array({ maxLength: 16 }).map((bytes) => Buffer.from(bytes)), { maxLength: 3 }),
});

/** What the server reads of a decoded request, with int64s as bigints and dims as numbers (how proto-loader's strings are read). */
function readable(message: GrpcInferRequest | Record<string, unknown>): unknown {
  const decoded = message as GrpcInferRequest;
  return {
    model_name: decoded.model_name,
    model_version: decoded.model_version,
    id: decoded.id,
    inputs: decoded.inputs.map((input) => ({
      name: input.name,
      datatype: input.datatype,
      shape: input.shape.map(Number),
      contents: Object.fromEntries(Object.entries(input.contents ?? {})
        .filter(([, values]) => Array.isArray(values) && values.length > 0)
        .map(([field, values]) => [field, (values as unknown[]).map((value) => (
          field === 'int64_contents' || field === 'uint64_contents' ? BigInt(value as string) : Buffer.isBuffer(value) ? [...value] : value))])),
    })),
    outputs: decoded.outputs.map((output) => output.name),
    raw_input_contents: decoded.raw_input_contents.map((bytes) => [...bytes]),
  };
}

// The reference, `modelInfer`: proto-loader's (protobufjs) codec for the same .proto, as the server used it before.
describe('gRPC wire codec for ModelInfer (hand-written; protobufjs is the reference)', () => {
  it('decodes every ModelInferRequest the way proto-loader did', () => {
    fc.assert(fc.property(request, (value) => {
      const bytes = modelInfer.requestSerialize(value);
      expect(readable(decodeModelInferRequest(bytes))).to.deep.equal(readable(modelInfer.requestDeserialize(bytes)));
    }), { numRuns: 300 });
  });

  it('reads repeated scalars sent unpacked (one tag per value) as well as packed', () => {
    // InferInputTensor{ name: "x", shape: 2, 3 (unpacked), contents{ fp32: 1.5, -2 (unpacked), int: -7 (unpacked) } }
    const fp32 = (value: number) => { const b = Buffer.alloc(4); b.writeFloatLE(value); return [...b]; };
    const int32Minus7 = [0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    const contentsBytes = [0x35, ...fp32(1.5), 0x35, ...fp32(-2), 0x10, ...int32Minus7];
    const input = [0x0a, 0x01, 0x78, 0x18, 0x02, 0x18, 0x03, 0x2a, contentsBytes.length, ...contentsBytes];
    const decoded = decodeModelInferRequest(Buffer.from([0x2a, input.length, ...input]));
    expect(decoded.inputs).to.deep.equal([{ name: 'x', datatype: '', shape: [2, 3], contents: { fp32_contents: [1.5, -2], int_contents: [-7] } }]);
  });

  it('skips fields it does not know, of every wire type', () => {
    // field 15 varint, field 14 fixed64, field 13 fixed32, field 12 bytes, then model_name "m"
    const unknown = [0x78, 0x96, 0x01, 0x71, 1, 2, 3, 4, 5, 6, 7, 8, 0x6d, 1, 2, 3, 4, 0x62, 0x02, 0xaa, 0xbb];
    expect(decodeModelInferRequest(Buffer.from([...unknown, 0x0a, 0x01, 0x6d])).model_name).to.equal('m');
  });

  it('refuses truncated and malformed messages with MalformedMessageError', () => {
    const whole = modelInfer.requestSerialize({ model_name: 'wide', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 64] }], raw_input_contents: [Buffer.alloc(256)] });
    for (let cut = 1; cut < whole.length; cut += 7) {
      expect(() => decodeModelInferRequest(whole.subarray(0, cut)), `cut at ${cut}`).to.throw(MalformedMessageError);
    }
    expect(() => decodeModelInferRequest(Buffer.from([0x0b]))).to.throw(MalformedMessageError, /wire type 3/);
    expect(() => decodeModelInferRequest(Buffer.from([0x08, 0x01]))).to.throw(MalformedMessageError, /model_name has wire type 0/);
    expect(() => decodeModelInferRequest(Buffer.from([0x78, ...Array(10).fill(0xff), 0x01]))).to.throw(MalformedMessageError, /longer than 10 bytes/);
  });

  const tensor = fc.record({ name: text, datatype: text, shape: fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { maxLength: 4 }), contents: fc.option(contents, { nil: undefined }) }, { requiredKeys: ['name', 'datatype', 'shape'] });
  const response = fc.record({
    model_name: text,
    model_version: text,
    id: text,
    outputs: fc.array(tensor, { maxLength: 3 }),
    raw_output_contents: fc.array(fc.uint8Array({ maxLength: 16 }).map((bytes) => Buffer.from(bytes)), { maxLength: 3 }),
  });

  it('encodes every ModelInferResponse to bytes protobufjs reads as what it would have encoded', () => {
    fc.assert(fc.property(response, (value) => {
      const ours = modelInfer.responseDeserialize(encodeModelInferResponse(value as GrpcInferResponse));
      const reference = modelInfer.responseDeserialize(modelInfer.responseSerialize(value));
      expect(ours).to.deep.equal(reference);
    }), { numRuns: 300 });
  });

  it('encodes 64-bit integer contents given as bigint, number or string alike, and negative int32 as ten bytes', () => {
    const outputs = [{ name: 'y', datatype: 'INT64', shape: [3], contents: { int64_contents: [-1n, 2 ** 40, '-9223372036854775808'], int_contents: [-5] } }];
    const decoded = modelInfer.responseDeserialize(encodeModelInferResponse({ model_name: 'm', model_version: '', id: '', outputs, raw_output_contents: [] }));
    const contents = (decoded.outputs as Array<{ contents: { int64_contents: string[]; int_contents: number[] } }>)[0]?.contents;
    expect(contents?.int64_contents).to.deep.equal(['-1', String(2 ** 40), '-9223372036854775808']);
    expect(contents?.int_contents).to.deep.equal([-5]);
  });
});
