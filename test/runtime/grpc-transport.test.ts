import { credentials, status as GrpcStatus } from '@grpc/grpc-js';
import { expect } from 'chai';
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { gzipSync } from 'node:zlib';
import { GrpcTestClient, modelInferSerializers, wideInfer } from './grpc-client.ts';
import { modelPath, seededFloats, startTestRuntime } from './helpers.ts';
import { eventually } from '../support/eventually.ts';
import { scrapeSample } from '../support/prometheus-text.ts';

const WIDE = modelPath('wide-mlp-fp32.onnx');
const features = new Float32Array(seededFloats(12, 1024 * 64, 2));
const MODEL_INFER = '/inference.GRPCInferenceService/ModelInfer';

interface RawAnswer {
  readonly httpStatus: number;
  /** grpc-status and grpc-message, from the trailers (or the headers of a trailers-only answer). */
  readonly code: number | undefined;
  readonly message: string;
  readonly body: Buffer;
}

function framed(message: Buffer, compressed = false): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** One call on a raw HTTP/2 stream, so the test controls every header and byte a gRPC library would write for it. */
function rawCall(session: ClientHttp2Session, body: Buffer, headers: Record<string, string> = {}, path = MODEL_INFER): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let response: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => (response = received));
    stream.on('trailers', (received) => (trailers = received));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => {
      const status = trailers['grpc-status'] ?? response['grpc-status'];
      resolve({
        httpStatus: Number(response[':status']),
        code: status === undefined ? undefined : Number(status),
        message: decodeURIComponent(String(trailers['grpc-message'] ?? response['grpc-message'] ?? '')),
        body: Buffer.concat(chunks),
      });
    });
    stream.end(body);
  });
}

async function session(address: string): Promise<ClientHttp2Session> {
  const opened = connect(`http://${address}`);
  await new Promise<void>((resolve, reject) => {
    opened.once('connect', () => resolve());
    opened.once('error', reject);
  });
  return opened;
}

describe('runtime gRPC transport (node:http2): deadlines, compression, limits and protocol errors as a gRPC client sees them', function () {
  this.timeout(60_000);

  it('a gzip-compressed request (grpc-js channel compression) is answered exactly as the same request uncompressed', async () => {
    const runtime = await startTestRuntime({ modelUri: WIDE, modelName: 'wide' });
    const plain = new GrpcTestClient(runtime.grpcAddress);
    const gzip = new GrpcTestClient(runtime.grpcAddress, credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    try {
      const request = wideInfer(3, features, 'zipped');
      const [expected, compressed] = await Promise.all([plain.call('ModelInfer', request), gzip.call('ModelInfer', request)]);
      expect(compressed).to.deep.equal(expected);
      expect(compressed.raw_output_contents).to.have.length(1);
      // And by hand: a compressed frame with grpc-encoding gzip.
      const h2 = await session(runtime.grpcAddress);
      try {
        const answer = await rawCall(h2, framed(gzipSync(modelInferSerializers.requestSerialize(request)), true), { 'grpc-encoding': 'gzip' });
        expect(answer.code).to.equal(GrpcStatus.OK);
        const unknown = await rawCall(h2, framed(gzipSync(modelInferSerializers.requestSerialize(request)), true), { 'grpc-encoding': 'snappy' });
        expect(unknown).to.include({ code: GrpcStatus.UNIMPLEMENTED, message: 'Received message compressed with unsupported encoding "snappy"' });
      } finally {
        h2.close();
      }
    } finally {
      plain.close();
      gzip.close();
      await runtime.close();
    }
  });

  it('DEADLINE_EXCEEDED when grpc-timeout passes while the call waits in the queue; the calls ahead of it are all answered', async () => {
    const runtime = await startTestRuntime({ modelUri: WIDE, modelName: 'wide', maxBatchSize: '1' });
    const client = new GrpcTestClient(runtime.grpcAddress);
    const h2 = await session(runtime.grpcAddress);
    try {
      // A queue of 1024-row runs, one at a time, ahead of the call with a 20 ms deadline: it is sent
      // once the runtime's own gauge shows at least eight of them waiting.
      const ahead = Array.from({ length: 24 }, (_, i) => client.status('ModelInfer', wideInfer(1024, features, `ahead${i}`)));
      await eventually(async () => {
        expect(await scrapeSample(`${runtime.url}/metrics`, 'inference_queue_depth')).to.be.at.least(8);
      }, { timeoutMs: 20_000, intervalMs: 5 });
      const late = await rawCall(h2, framed(modelInferSerializers.requestSerialize(wideInfer(1, features, 'late'))), { 'grpc-timeout': '20m' });
      expect(late).to.include({ httpStatus: 200, code: GrpcStatus.DEADLINE_EXCEEDED, message: 'Deadline exceeded' });
      expect((await Promise.all(ahead)).map((result) => result.code)).to.deep.equal(Array(24).fill(GrpcStatus.OK));
      const bad = await rawCall(h2, framed(modelInferSerializers.requestSerialize(wideInfer(1, features, 'x'))), { 'grpc-timeout': 'soon' });
      expect(bad).to.include({ code: GrpcStatus.INTERNAL, message: 'Invalid grpc-timeout value "soon"' });
    } finally {
      h2.close();
      client.close();
      await runtime.close();
    }
  });

  it('refuses what is not a well-formed unary call with a status that says why, and keeps serving', async () => {
    const runtime = await startTestRuntime({ modelUri: WIDE, modelName: 'wide', maxBodyBytes: '4096' });
    const h2 = await session(runtime.grpcAddress);
    try {
      const large = await rawCall(h2, framed(modelInferSerializers.requestSerialize(wideInfer(32, features, 'large'))));
      expect(large.code).to.equal(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(large.message).to.match(/^Received message larger than max \(\d+ vs\. 4096\)$/);
      const malformed = await rawCall(h2, framed(Buffer.from([0x0a, 0x40, 0x41])));
      expect(malformed).to.include({ code: GrpcStatus.INVALID_ARGUMENT, message: 'malformed ModelInfer request: length-delimited field overruns its message' });
      const none = await rawCall(h2, Buffer.alloc(0));
      expect(none).to.include({ code: GrpcStatus.UNIMPLEMENTED, message: `Received no request message for unary method ${MODEL_INFER}` });
      const unknown = await rawCall(h2, framed(Buffer.alloc(0)), {}, '/inference.GRPCInferenceService/ModelStreamInfer');
      expect(unknown).to.include({ code: GrpcStatus.UNIMPLEMENTED, message: 'The server does not implement the method /inference.GRPCInferenceService/ModelStreamInfer' });
      const notGrpc = await rawCall(h2, Buffer.from('{}'), { 'content-type': 'application/json' });
      expect(notGrpc.httpStatus).to.equal(415);
      const fine = await rawCall(h2, framed(modelInferSerializers.requestSerialize(wideInfer(1, features, 'fine'))));
      expect(fine.code).to.equal(GrpcStatus.OK);
      expect(fine.body.readUInt32BE(1)).to.equal(fine.body.length - 5);
    } finally {
      h2.close();
      await runtime.close();
    }
  });

  it('sends GOAWAY (NO_ERROR) to a connection once it is older than MODELSHIP_MAX_CONNECTION_AGE_SECONDS, not before', async () => {
    const runtime = await startTestRuntime({ modelUri: WIDE, modelName: 'wide', maxConnectionAgeSeconds: '1' });
    const h2 = await session(runtime.grpcAddress);
    try {
      const goaway = new Promise<number>((resolve) => h2.once('goaway', (code: number) => resolve(code)));
      const started = performance.now();
      expect((await rawCall(h2, framed(modelInferSerializers.requestSerialize(wideInfer(1, features, 'young'))))).code).to.equal(GrpcStatus.OK);
      expect(await goaway, 'GOAWAY with NO_ERROR').to.equal(0);
      expect(performance.now() - started).to.be.at.least(900);
    } finally {
      h2.destroy();
      await runtime.close();
    }
  });
});
