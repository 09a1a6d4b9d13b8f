import { expect } from 'chai';
import fc from 'fast-check';
import { V2_DATATYPES, type TensorData, type V2Datatype } from '../../../runtime/model/datatypes.ts';
import type { ModelSignature } from '../../../runtime/model/signature.ts';
import { decodeInferRequest, type InferRequest } from '../../../runtime/protocol/infer-request.ts';
import { FAST_PATH_MIN_BYTES, scanJsonRequest } from '../../../runtime/protocol/json-tensors.ts';

/** JSON written by hand so keys can repeat, come in any order and have any whitespace around them. */
type Doc = { object: [string, Doc][] } | { array: Doc[] } | { token: string };

const write = (doc: Doc, space: () => string): string => {
  if ('token' in doc) return doc.token;
  if ('array' in doc) return `[${space()}${doc.array.map((item) => write(item, space)).join(`${space()},${space()}`)}${space()}]`;
  return `{${space()}${doc.object.map(([key, value]) => `${key}${space()}:${space()}${write(value, space)}`).join(`${space()},${space()}`)}${space()}}`;
};
const token = (value: unknown): Doc => ({ token: JSON.stringify(value) });

/** Number tokens JSON.stringify never writes but JSON allows, or that sit at the fast path's limits. */
const ODD_NUMBERS = [
  '-0', '-0.0', '0e5', '1E+2', '1e-2', '2.50', '1.5e308', '1e309', '-1e-400', '4.9e-324', '123456789012345678901234567890',
  '9007199254740993', '0.6399999856948853', '1.0000000116860974e-7', '3.4028235677973366e38', '3.4028235677973367e+38',
  '0.000000000000000000000000123456789012345678', '1.17549435e-38', '1.401298464324817e-45', '100000000000000000000000.5',
  '255', '256', '-129', '65535', '4294967295', '4294967296', '2147483648', '1.0', '7e0',
];

const numberToken = fc.oneof(
  { weight: 4, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)) },
  { weight: 4, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)) },
  { weight: 8, arbitrary: fc.integer({ min: -300, max: 70000 }).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD_NUMBERS) },
);
/** Something else JSON allows in a data array. */
const notANumber = fc.constantFrom<Doc>(token(true), token(false), token(null), token('1'), { object: [] }, { array: [] });

/** Splits a flat list into rows to the given depth (the last row may be short: a ragged array). */
function nest(items: Doc[], depth: number, width: number): Doc {
  if (depth <= 1) return { array: items };
  const rows: Doc[] = [];
  for (let i = 0; i < items.length; i += width) rows.push(nest(items.slice(i, i + width), depth - 1, width));
  return { array: rows };
}

/** One time in eight. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });

const tricky = fc.constantFrom('"data":[1,2]', 'x\\"data\\":[[', ']]}', '\\\\', '\\u0064ata', 'd\u00e9j\u00e0 [', '{"inputs":[');
const whitespace = fc.array(fc.constantFrom('', '', '', ' ', '\n', '\t', '\r\n  '), { minLength: 1, maxLength: 8 });

const scenario = fc.record({
  datatype: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<V2Datatype>(...V2_DATATYPES) },
    { weight: 2, arbitrary: fc.constantFrom<V2Datatype>('FP32', 'FP16') },
  ),
  rows: fc.integer({ min: 1, max: 4 }),
  width: fc.integer({ min: 1, max: 40 }),
  /** Numbers of one kind (integers, say) or of all kinds. */
  items: fc.oneof(
    fc.array(numberToken, { minLength: 40, maxLength: 200 }),
    fc.array(fc.integer({ min: 0, max: 255 }).map(String), { minLength: 40, maxLength: 200 }),
    fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)), { minLength: 40, maxLength: 200 }),
  ),
  spoiler: rarely(fc.tuple(fc.nat(), notANumber)),
  nesting: fc.integer({ min: 1, max: 4 }),
  rank: fc.integer({ min: 1, max: 3 }),
  /** Shape vs data: the same count, or one more. */
  countOff: fc.constantFrom(0, 0, 0, 1),
  keyOrder: fc.shuffledSubarray(['name', 'datatype', 'shape', 'data', 'parameters'], { minLength: 5, maxLength: 5 }),
  duplicateData: fc.constantFrom('none', 'none', 'before', 'after'),
  note: tricky,
  spaces: whitespace,
  /** Now and then one byte is overwritten: malformed JSON must get the same error either way. */
  corruption: rarely(fc.tuple(fc.nat(), fc.constantFrom(',', ']', '[', '}', '"', '0', '-', '.', 'e', ' ', 'x'))),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function build(s: Scenario): { body: Buffer; signature: ModelSignature } {
  const items = s.items.map((t): Doc => ({ token: t }));
  if (s.spoiler) items.splice(s.spoiler[0] % items.length, 0, s.spoiler[1]);
  const count = items.length;
  const inner = Math.max(1, Math.floor(count / s.rows));
  const shape = s.rank === 1 ? [count + s.countOff] : s.rank === 2 ? [s.rows, inner + s.countOff] : [s.rows, 1, inner + s.countOff];
  const data = nest(items, s.nesting, s.nesting === 2 ? inner : s.width);
  const members: Record<string, Doc> = {
    name: token('x'),
    datatype: token(s.datatype),
    shape: token(shape),
    data,
    parameters: { object: [['"note"', token(s.note)]] },
  };
  const input: [string, Doc][] = s.keyOrder.map((key) => [`"${key}"`, members[key] as Doc]);
  const small: Doc = { array: [token(1)] };
  if (s.duplicateData === 'before') input.unshift(['"data"', data]);
  if (s.duplicateData === 'after') input.push(['"data"', small]);
  let spaceAt = 0;
  const space = () => s.spaces[spaceAt++ % s.spaces.length] as string;
  const pad = token('p'.repeat(FAST_PATH_MIN_BYTES));
  const request: Doc = { object: [['"id"', token(s.note)], ['"inputs"', { array: [{ object: input }] }], ['"parameters"', { object: [['"pad"', pad]] }]] };
  let body = Buffer.from(write(request, space));
  if (s.corruption) {
    body = Buffer.from(body);
    body[s.corruption[0] % body.length] = s.corruption[1].charCodeAt(0);
  }
  const signature: ModelSignature = {
    inputs: [{ name: 'x', datatype: s.datatype, shape: shape.map(() => -1) }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }],
    batchable: true,
  };
  return { body, signature };
}

type Outcome = { error: string } | { request: InferRequest };
function decode(body: Buffer, signature: ModelSignature, jsonFastPath: boolean): Outcome {
  try {
    return { request: decodeInferRequest(body, undefined, signature, { jsonFastPath }) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const bytesOf = (data: TensorData): Buffer | string[] =>
  Array.isArray(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

function expectSameOutcome(fast: Outcome, reference: Outcome): void {
  if ('error' in reference) {
    expect(fast).to.deep.equal(reference);
    return;
  }
  expect(fast).to.have.property('request');
  const { request } = fast as { request: InferRequest };
  const { inputs, ...rest } = request;
  const { inputs: referenceInputs, ...referenceRest } = reference.request;
  expect(rest).to.deep.equal(referenceRest);
  for (const [name, tensor] of Object.entries(referenceInputs)) {
    expect(inputs[name]?.shape).to.deep.equal(tensor.shape);
    expect(inputs[name]?.datatype).to.equal(tensor.datatype);
    expect(bytesOf(inputs[name]?.data as TensorData)).to.deep.equal(bytesOf(tensor.data));
  }
}

describe('unit: JSON tensor fast path', () => {
  it('decodes every generated request exactly as JSON.parse does, errors included', () => {
    let captured = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const { body, signature } = build(s);
        if (scanJsonRequest(body)?.runs.size) captured++;
        expectSameOutcome(decode(body, signature, true), decode(body, signature, false));
      }),
      { numRuns: 400 },
    );
    // The comparison means something only if the fast path actually ran for many of them.
    expect(captured).to.be.greaterThan(80);
  });

  it('reads float32 values written as shortest doubles bit for bit, for FP32, FP16 and FP64', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noDefaultInfinity: true, noNaN: true }), { minLength: 3000, maxLength: 3000 }), fc.constantFrom<V2Datatype>('FP32', 'FP16', 'FP64'), (values, datatype) => {
        const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype, shape: [1, values.length], data: values }] }));
        const signature: ModelSignature = { inputs: [{ name: 'x', datatype, shape: [-1, -1] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }], batchable: true };
        if (datatype !== 'FP64') expect(scanJsonRequest(body)?.runs.size).to.equal(1);
        expectSameOutcome(decode(body, signature, true), decode(body, signature, false));
      }),
      { numRuns: 40 },
    );
  });

  it('leaves small bodies to JSON.parse', () => {
    expect(scanJsonRequest(Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [100], data: Array(100).fill(0.5) }] })))).to.equal(undefined);
  });
});
