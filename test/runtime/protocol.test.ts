import { expect } from 'chai';
import { connect } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import type { RunningRuntime } from '../../runtime/server.ts';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { bytesElements, postBinary } from './binary.ts';
import { GrpcTestClient } from './grpc-client.ts';
import { scrapeSample } from '../support/prometheus-text.ts';
import {
  fraudRequest, getJson, modelPath, postJson, seededFloats, startTestRuntime,
  type V2InferResponse,
} from './helpers.ts';

describe('runtime: Open Inference Protocol over HTTP (fraud model, real onnxruntime)', () => {
  let runtime: RunningRuntime;
  let infer: string;

  before(async () => {
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', modelVersion: '3', maxBodyBytes: '65536' });
    infer = `${runtime.url}/v2/models/fraud/infer`;
  });
  after(() => runtime.close());

  describe('metadata and health', () => {
    it('GET /v2 names the server and the binary extension', async () => {
      const { status, body } = await getJson(`${runtime.url}/v2`);
      expect(status).to.equal(200);
      expect(body).to.include({ name: 'modelship-runtime' });
      expect(body.extensions).to.include('binary_tensor_data');
    });

    it('liveness and readiness are 200 once the model is warm', async () => {
      expect((await getJson(`${runtime.url}/v2/health/live`)).status).to.equal(200);
      expect((await getJson(`${runtime.url}/v2/health/ready`)).status).to.equal(200);
      expect((await getJson(`${runtime.url}/v2/models/fraud/ready`)).status).to.equal(200);
      expect((await getJson(`${runtime.url}/v2/models/fraud/versions/3/ready`)).status).to.equal(200);
    });

    it('model metadata lists inputs and outputs with datatype and shape, and the active provider', async () => {
      for (const path of ['/v2/models/fraud', '/v2/models/fraud/versions/3']) {
        const { status, body } = await getJson(`${runtime.url}${path}`);
        expect(status).to.equal(200);
        expect(body).to.deep.include({
          name: 'fraud',
          versions: ['3'],
          platform: 'onnxruntime_onnx',
          inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 30] }],
          outputs: [
            { name: 'label', datatype: 'INT64', shape: [-1] },
            { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
          ],
        });
        expect(body.parameters).to.deep.include({ execution_provider: 'cpu' });
      }
    });
  });

  describe('JSON inference', () => {
    it('returns every output, echoes the request id, probabilities sum to 1', async () => {
      const { status, body } = await postJson<V2InferResponse>(infer, fraudRequest(3, 1, { id: 'req-42' }));
      expect(status).to.equal(200);
      expect(body).to.include({ model_name: 'fraud', model_version: '3', id: 'req-42' });
      const [label, probabilities] = body.outputs;
      expect(label).to.include({ name: 'label', datatype: 'INT64' });
      expect(label?.shape).to.deep.equal([3]);
      expect(probabilities?.shape).to.deep.equal([3, 2]);
      const p = probabilities?.data as number[];
      for (let row = 0; row < 3; row++) expect((p[2 * row] ?? 0) + (p[2 * row + 1] ?? 0)).to.be.closeTo(1, 1e-5);
    });

    it('accepts nested (row-major) data and the versioned path', async () => {
      const flat = seededFloats(9, 60, 3);
      const nested = [flat.slice(0, 30), flat.slice(30)];
      const a = await postJson<V2InferResponse>(infer, { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], data: flat }] });
      const b = await postJson<V2InferResponse>(`${runtime.url}/v2/models/fraud/versions/3/infer`, {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], data: nested }],
      });
      expect(b.status).to.equal(200);
      expect(b.body.outputs).to.deep.equal(a.body.outputs);
    });

    it('returns only the requested outputs', async () => {
      const { body } = await postJson<V2InferResponse>(infer, fraudRequest(1, 2, { outputs: [{ name: 'probabilities' }] }));
      expect(body.outputs.map((o) => o.name)).to.deep.equal(['probabilities']);
    });
  });

  describe('binary tensor data extension', () => {
    it('takes binary input and returns binary output when binary_data_output is set', async () => {
      const values = seededFloats(3, 2 * 30, 3);
      const features = Buffer.from(new Float32Array(values).buffer);
      const json = await postJson<V2InferResponse>(infer, { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], data: values }] });
      const response = await postBinary(infer, {
        id: 'bin-1',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], parameters: { binary_data_size: features.length } }],
        parameters: { binary_data_output: true },
      }, [features]);
      expect(response.status).to.equal(200);
      expect(response.headers.get('content-type')).to.match(/application\/octet-stream/);
      expect(response.header.id).to.equal('bin-1');
      const probabilities = response.binary.get('probabilities') as Buffer;
      const labels = response.binary.get('label') as Buffer;
      expect(probabilities.length).to.equal(2 * 2 * 4);
      const decoded = Array.from(new Float32Array(probabilities.buffer.slice(probabilities.byteOffset, probabilities.byteOffset + probabilities.length)));
      expect(decoded).to.deep.equal(json.body.outputs[1]?.data);
      expect(labels.readBigInt64LE(0)).to.equal(BigInt(json.body.outputs[0]?.data?.[0] as number));
    });

    it('mixes per-output binary_data flags: JSON for one, binary for the other', async () => {
      const features = Buffer.from(new Float32Array(seededFloats(4, 30, 3)).buffer);
      const response = await postBinary(infer, {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], parameters: { binary_data_size: features.length } }],
        outputs: [{ name: 'label', parameters: { binary_data: false } }, { name: 'probabilities', parameters: { binary_data: true } }],
      }, [features]);
      expect(response.status).to.equal(200);
      expect(response.header.outputs[0]?.data).to.have.length(1);
      expect(response.binary.get('probabilities')).to.have.length(8);
    });

    it('answers JSON only (no header length) when no binary output is asked for', async () => {
      const features = Buffer.from(new Float32Array(seededFloats(4, 30, 3)).buffer);
      const response = await postBinary(infer, {
        inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], parameters: { binary_data_size: features.length } }],
      }, [features]);
      expect(response.status).to.equal(200);
      expect(response.headers.get('inference-header-content-length')).to.equal(null);
      expect(response.header.outputs[1]?.data).to.have.length(2);
    });
  });

  describe('errors: JSON {"error"} with the right status, server keeps serving', () => {
    const cases: Array<[string, () => Promise<{ status: number; body: { error?: string } }>, number, RegExp]> = [
      ['shape mismatch', () => postJson(infer, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 29], data: seededFloats(1, 29) }] }), 400, /shape/],
      ['datatype mismatch', () => postJson(infer, { inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 30], data: seededFloats(1, 30) }] }), 400, /datatype/],
      ['unknown datatype', () => postJson(infer, { inputs: [{ name: 'features', datatype: 'BF16', shape: [1, 30], data: seededFloats(1, 30) }] }), 400, /datatype/],
      ['size mismatch', () => postJson(infer, { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], data: seededFloats(1, 30) }] }), 400, /elements/],
      ['non-numeric data', () => postJson(infer, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: Array(30).fill('x') }] }), 400, /numbers/],
      ['missing input', () => postJson(infer, { inputs: [] }), 400, /missing input/],
      ['unknown input', () => postJson(infer, { inputs: [{ name: 'nope', datatype: 'FP32', shape: [1], data: [1] }] }), 400, /unknown input/],
      ['unknown output', () => postJson(infer, fraudRequest(1, 1, { outputs: [{ name: 'nope' }] })), 400, /unknown output/],
      ['malformed JSON', () => postJson(infer, '{"inputs": [}'), 400, /malformed JSON/],
      ['empty body', () => postJson(infer, ''), 400, /malformed JSON/],
      ['header length beyond the body', () => postJson(infer, '{"inputs":[]}', { 'inference-header-content-length': '999' }), 400, /Inference-Header-Content-Length/],
      ['binary size overruns the body', () => {
        const header = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], parameters: { binary_data_size: 120 } }] });
        return postJson(infer, Buffer.concat([Buffer.from(header), Buffer.alloc(60)]), { 'inference-header-content-length': String(header.length) });
      }, 400, /overruns/],
      ['binary size disagrees with the shape', () => {
        const header = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], parameters: { binary_data_size: 60 } }] });
        return postJson(infer, Buffer.concat([Buffer.from(header), Buffer.alloc(60)]), { 'inference-header-content-length': String(header.length) });
      }, 400, /bytes/],
      ['unclaimed binary bytes', () => {
        const header = JSON.stringify(fraudRequest(1, 1));
        return postJson(infer, Buffer.concat([Buffer.from(header), Buffer.alloc(8)]), { 'inference-header-content-length': String(header.length) });
      }, 400, /no input claims/],
      ['unknown model', () => postJson(`${runtime.url}/v2/models/other/infer`, fraudRequest(1, 1)), 404, /^unknown model "other": this runtime serves model "fraud" version "3"$/],
      ['unknown version', () => postJson(`${runtime.url}/v2/models/fraud/versions/9/infer`, fraudRequest(1, 1)), 404, /^unknown version "9" of model "fraud": this runtime serves model "fraud" version "3"$/],
      ['unknown model metadata', () => getJson(`${runtime.url}/v2/models/other`), 404, /^unknown model "other": this runtime serves model "fraud" version "3"$/],
      ['unknown route', () => getJson(`${runtime.url}/v3/anything`), 404, /no route/],
      ['body too large', () => postJson(infer, fraudRequest(400, 1)), 413, /exceeds/],
    ];
    for (const [name, send, status, message] of cases) {
      it(`${status}: ${name}`, async () => {
        const response = await send();
        expect(response.status).to.equal(status);
        expect(response.body.error).to.match(message);
      });
    }

    it('accepts gzip and deflate request bodies; 415 for other encodings', async () => {
      const body = Buffer.from(JSON.stringify(fraudRequest(1, 5)));
      for (const [encoding, encoded] of [['gzip', gzipSync(body)], ['deflate', deflateSync(body)]] as const) {
        const response = await postJson(infer, encoded, { 'content-encoding': encoding });
        expect(response.status, encoding).to.equal(200);
      }
      expect((await postJson(infer, body, { 'content-encoding': 'br' })).status).to.equal(415);
      expect((await postJson(infer, Buffer.from('not gzip'), { 'content-encoding': 'gzip' })).status).to.equal(400);
    });

    it('a wrong model name or version over gRPC is NOT_FOUND and names the model this runtime serves', async () => {
      const client = new GrpcTestClient(runtime.grpcAddress);
      try {
        expect(await client.status('ModelMetadata', { name: 'other' })).to.deep.equal({
          code: GrpcStatus.NOT_FOUND, details: 'unknown model "other": this runtime serves model "fraud" version "3"',
        });
        expect(await client.status('ModelInfer', { model_name: 'fraud', model_version: '9', inputs: [] })).to.deep.equal({
          code: GrpcStatus.NOT_FOUND, details: 'unknown version "9" of model "fraud": this runtime serves model "fraud" version "3"',
        });
      } finally {
        client.close();
      }
    });

    it('413 when a compressed body inflates beyond the limit', async () => {
      const response = await postJson(infer, gzipSync(Buffer.alloc(200_000, 32)), { 'content-encoding': 'gzip' });
      expect(response.status).to.equal(413);
    });

    it('a client that disconnects mid-body leaves nothing hanging (the request is counted as 499, client closed request)', async () => {
      const count499 = () => scrapeSample(`${runtime.url}/metrics`, 'prediction_requests_total', { code: '499' });
      const before = await count499();
      const { port } = new URL(runtime.url);
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(`POST /v2/models/fraud/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{"inputs":`);
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 50);
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await count499()).to.equal(before + 1);
      expect((await postJson(infer, fraudRequest(1, 1))).status).to.equal(200);
    });

    it('still serves after all of the above', async () => {
      expect((await postJson(infer, fraudRequest(1, 1))).status).to.equal(200);
    });
  });

  describe('BYTES through the binary extension', () => {
    it('length-prefixed elements survive a round trip (all-types identity model)', async () => {
      const other = await startTestRuntime({ modelUri: modelPath('all-types-identity.onnx') });
      try {
        const values = ['héllo', '', 'x'.repeat(300), 'ünï'];
        const response = await postBinary(`${other.url}/v2/models/all-types-identity/infer`, identityRequest({ BYTES: bytesElements(values) }), [bytesElements(values)]);
        expect(response.status, JSON.stringify(response.header)).to.equal(200);
        expect(response.binary.get('out_BYTES')).to.deep.equal(bytesElements(values));
      } finally {
        await other.close();
      }
    });
  });
});

/** A request for the all-types identity model: BYTES goes binary (given), every other type as JSON zeros. */
function identityRequest(binary: { BYTES: Buffer }): Record<string, unknown> {
  const shape = [2, 2];
  const zeros = (datatype: string): unknown[] => Array(4).fill(datatype === 'BOOL' ? false : 0);
  const types = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64'];
  return {
    inputs: [
      ...types.map((datatype) => ({ name: `in_${datatype}`, datatype, shape, data: zeros(datatype) })),
      { name: 'in_BYTES', datatype: 'BYTES', shape, parameters: { binary_data_size: binary.BYTES.length } },
    ],
    outputs: [{ name: 'out_BYTES', parameters: { binary_data: true } }],
  };
}
