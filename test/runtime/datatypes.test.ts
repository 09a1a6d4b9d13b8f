import { expect } from 'chai';
import type { RunningRuntime } from '../../runtime/server.ts';
import { floatToHalfBits } from '../../runtime/model/datatypes.ts';
import { FAST_PATH_MIN_BYTES } from '../../runtime/protocol/json-tensors.ts';
import { postBinary, readBinaryResponse } from './binary.ts';
import { modelPath, postJson, startTestRuntime, type V2InferResponse } from './helpers.ts';

/** JSON values per datatype, each exactly representable in its type (FP16 included). */
const SAMPLES: Record<string, unknown[]> = {
  BOOL: [true, false, false, true],
  UINT8: [0, 1, 128, 255],
  UINT16: [0, 1, 40000, 65535],
  UINT32: [0, 1, 3000000000, 4294967295],
  UINT64: [0, 1, 2 ** 40, Number.MAX_SAFE_INTEGER],
  INT8: [-128, -1, 0, 127],
  INT16: [-32768, -1, 0, 32767],
  INT32: [-2147483648, -1, 0, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, -1, 0, 2 ** 40],
  FP16: [0.5, -2, 65504, 0.0001220703125],
  FP32: [0.1, -2.5, 3.4e38, 1e-38].map(Math.fround),
  FP64: [0.1, -2.5, 1.7e308, 5e-324],
  BYTES: ['a', '', 'ünïcode', 'z'.repeat(100)],
};

function toBinary(datatype: string, values: unknown[]): Buffer {
  const numbers = values as number[];
  switch (datatype) {
    case 'BOOL': return Buffer.from((values as boolean[]).map((v) => (v ? 1 : 0)));
    case 'UINT8': return Buffer.from(new Uint8Array(numbers).buffer);
    case 'UINT16': return Buffer.from(new Uint16Array(numbers).buffer);
    case 'UINT32': return Buffer.from(new Uint32Array(numbers).buffer);
    case 'UINT64': return Buffer.from(new BigUint64Array(numbers.map(BigInt)).buffer);
    case 'INT8': return Buffer.from(new Int8Array(numbers).buffer);
    case 'INT16': return Buffer.from(new Int16Array(numbers).buffer);
    case 'INT32': return Buffer.from(new Int32Array(numbers).buffer);
    case 'INT64': return Buffer.from(new BigInt64Array(numbers.map(BigInt)).buffer);
    case 'FP16': return Buffer.from(new Uint16Array([0x3800, 0xc000, 0x7bff, 0x0800]).buffer);
    case 'FP32': return Buffer.from(new Float32Array(numbers).buffer);
    case 'FP64': return Buffer.from(new Float64Array(numbers).buffer);
    default: return Buffer.concat((values as string[]).flatMap((s) => {
      const bytes = Buffer.from(s);
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }));
  }
}

describe('runtime: every V2 datatype onnxruntime supports, JSON and binary (all-types identity model)', () => {
  let runtime: RunningRuntime;
  let infer: string;
  before(async () => {
    runtime = await startTestRuntime({ modelUri: modelPath('all-types-identity.onnx'), modelName: 'identity' });
    infer = `${runtime.url}/v2/models/identity/infer`;
  });
  after(() => runtime.close());

  it('JSON in, JSON out: values come back unchanged for all 13 datatypes', async () => {
    const { status, body } = await postJson<V2InferResponse>(infer, {
      inputs: Object.entries(SAMPLES).map(([datatype, data]) => ({ name: `in_${datatype}`, datatype, shape: [2, 2], data })),
    });
    expect(status, JSON.stringify(body)).to.equal(200);
    for (const [datatype, data] of Object.entries(SAMPLES)) {
      const output = body.outputs.find((o) => o.name === `out_${datatype}`);
      expect(output, datatype).to.deep.include({ datatype, shape: [2, 2] });
      expect(output?.data, datatype).to.deep.equal(data);
    }
  });

  it('binary in, binary out: bytes come back unchanged for all 13 datatypes', async () => {
    const chunks = Object.entries(SAMPLES).map(([datatype, data]) => toBinary(datatype, data));
    const response = await postBinary(infer, {
      inputs: Object.keys(SAMPLES).map((datatype, i) => ({
        name: `in_${datatype}`, datatype, shape: [2, 2], parameters: { binary_data_size: chunks[i]?.length },
      })),
      parameters: { binary_data_output: true },
    }, chunks);
    expect(response.status, JSON.stringify(response.header)).to.equal(200);
    Object.keys(SAMPLES).forEach((datatype, i) => {
      expect(response.binary.get(`out_${datatype}`), datatype).to.deep.equal(chunks[i]);
    });
  });

  it('big JSON bodies (read by the JSON tensor fast path) give every numeric datatype bit for bit, nested or flat', async () => {
    const width = 512;
    const count = 4 * width;
    // Long decimal expansions, exponents and extremes: what JSON.stringify writes for real data.
    const doubles = Array.from({ length: count }, (_, i) => (i === 0 ? 0.5 : i === 1 ? 3.4e38 : i === 2 ? 5e-324 : ((i * 0.7548776662466927) % 1) * 10 ** ((i % 13) - 6) * (i % 2 ? -1 : 1)));
    const integers = (min: number, max: number) => Array.from({ length: count }, (_, i) => (i % 2 ? max - (i % 97) : min + (i % 89)));
    const values: Record<string, number[]> = {
      UINT8: integers(0, 255), UINT16: integers(0, 65535), UINT32: integers(0, 4294967295), UINT64: integers(0, Number.MAX_SAFE_INTEGER),
      INT8: integers(-128, 127), INT16: integers(-32768, 32767), INT32: integers(-2147483648, 2147483647), INT64: integers(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      FP16: doubles.map((v) => v / 1e3), FP32: doubles.map(Math.fround), FP64: doubles,
    };
    const expected: Record<string, Uint8Array> = {
      UINT8: new Uint8Array(values.UINT8 as number[]), UINT16: new Uint16Array(values.UINT16 as number[]), UINT32: new Uint32Array(values.UINT32 as number[]),
      UINT64: new BigUint64Array((values.UINT64 as number[]).map(BigInt)), INT8: new Int8Array(values.INT8 as number[]), INT16: new Int16Array(values.INT16 as number[]),
      INT32: new Int32Array(values.INT32 as number[]), INT64: new BigInt64Array((values.INT64 as number[]).map(BigInt)),
      FP16: new Uint16Array((values.FP16 as number[]).map(floatToHalfBits)), FP32: new Float32Array(values.FP32 as number[]), FP64: new Float64Array(values.FP64 as number[]),
    } as unknown as Record<string, Uint8Array>;
    for (const nested of [false, true]) {
      const inputs = Object.entries(SAMPLES).map(([datatype, small]) => {
        const data = values[datatype];
        if (!data) return { name: `in_${datatype}`, datatype, shape: [2, 2], data: small };
        const rows = [0, 1, 2, 3].map((row) => data.slice(row * width, (row + 1) * width));
        // "data" before "datatype": the fast path reads every array without knowing its type first.
        return { name: `in_${datatype}`, data: nested ? rows : data, datatype, shape: [4, width] };
      });
      // Every numeric input in the batch needs the same batch dim: the small ones go as [4, 1].
      for (const input of inputs) {
        if (!values[input.datatype]) Object.assign(input, { shape: [4, 1] });
      }
      const body = JSON.stringify({ inputs, parameters: { binary_data_output: true } });
      expect(body.length).to.be.greaterThan(FAST_PATH_MIN_BYTES);
      const response = await readBinaryResponse(await fetch(infer, { method: 'POST', headers: { 'content-type': 'application/json' }, body }));
      expect(response.status, JSON.stringify(response.header)).to.equal(200);
      for (const [datatype, typed] of Object.entries(expected)) {
        const sent = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
        expect(response.binary.get(`out_${datatype}`)?.equals(sent), `${datatype}, nested ${nested}`).to.equal(true);
      }
    }
  });

  it('rejects out-of-range integers and non-boolean BOOL with 400', async () => {
    const base = Object.entries(SAMPLES).map(([datatype, data]) => ({ name: `in_${datatype}`, datatype, shape: [2, 2], data }));
    for (const [datatype, data] of [['UINT8', [256, 0, 0, 0]], ['INT32', [1.5, 0, 0, 0]], ['BOOL', [1, 0, 0, 0]]] as const) {
      const inputs = base.map((input) => (input.datatype === datatype ? { ...input, data } : input));
      const { status } = await postJson(infer, { inputs });
      expect(status, datatype).to.equal(400);
    }
  });
});
