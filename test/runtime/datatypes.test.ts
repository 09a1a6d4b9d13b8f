import { expect } from 'chai';
import type { RunningRuntime } from '../../runtime/server.ts';
import { postBinary } from './binary.ts';
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

  it('rejects out-of-range integers and non-boolean BOOL with 400', async () => {
    const base = Object.entries(SAMPLES).map(([datatype, data]) => ({ name: `in_${datatype}`, datatype, shape: [2, 2], data }));
    for (const [datatype, data] of [['UINT8', [256, 0, 0, 0]], ['INT32', [1.5, 0, 0, 0]], ['BOOL', [1, 0, 0, 0]]] as const) {
      const inputs = base.map((input) => (input.datatype === datatype ? { ...input, data } : input));
      const { status } = await postJson(infer, { inputs });
      expect(status, datatype).to.equal(400);
    }
  });
});
