import { status as GrpcStatus } from '@grpc/grpc-js';
import { expect } from 'chai';
import { readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRuntime } from '../../runtime/server.ts';
import { scrapeSample } from '../support/prometheus-text.ts';
import { GrpcTestClient, wideInfer } from './grpc-client.ts';
import { closedPort, configFor, LogCapture, modelPath, seededFloats, startTestRuntime } from './helpers.ts';

const WIDE = modelPath('wide-mlp-fp32.onnx');
const features = new Float32Array(seededFloats(11, 512 * 64, 2));

describe('runtime gRPC: readiness, overload and graceful shutdown (a @grpc/grpc-js client)', function () {
  this.timeout(120_000);

  it('live while the model downloads; not ready and UNAVAILABLE for inference until it is loaded', async () => {
    const bytes = await readFile(WIDE);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const origin: Server = createServer((_req, res) => void held.then(() => res.end(bytes)));
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const grpcPort = await closedPort();
    const cacheDir = `/tmp/modelship-test-cache-grpc-${grpcPort}`;
    const starting = startRuntime(
      configFor({ modelUri: `http://127.0.0.1:${(origin.address() as AddressInfo).port}/wide.onnx`, modelName: 'wide', grpcPort: String(grpcPort), modelCacheDir: cacheDir }),
      { host: '127.0.0.1', logger: new LogCapture().logger },
    );
    const client = new GrpcTestClient(`127.0.0.1:${grpcPort}`);
    try {
      await client.waitUntilServing();
      expect(await client.call('ServerLive')).to.deep.equal({ live: true });
      expect(await client.call('ServerReady')).to.deep.equal({ ready: false });
      expect(await client.call('ModelReady', { name: 'wide' })).to.deep.equal({ ready: false });
      expect(await client.status('ModelInfer', wideInfer(1, features, 'early'))).to.deep.equal({
        code: GrpcStatus.UNAVAILABLE, details: 'model "wide" is not loaded',
      });
      release();
      const runtime = await starting;
      expect(await client.call('ServerReady')).to.deep.equal({ ready: true });
      expect(await client.call('ModelReady', { name: 'wide' })).to.deep.equal({ ready: true });
      await runtime.close();
    } finally {
      release();
      client.close();
      origin.closeAllConnections();
      origin.close();
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('RESOURCE_EXHAUSTED when the queue is full; everything else is served', async () => {
    const runtime = await startTestRuntime({ modelUri: WIDE, modelName: 'wide', maxBatchSize: '1', maxQueueSize: '4' });
    const client = new GrpcTestClient(runtime.grpcAddress);
    try {
      await client.call('ServerLive');
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => client.status('ModelInfer', wideInfer(256, features, `q${i}`))));
      const codes = results.map((result) => result.code);
      expect(codes.filter((code) => code !== GrpcStatus.OK && code !== GrpcStatus.RESOURCE_EXHAUSTED)).to.deep.equal([]);
      expect(codes.filter((code) => code === GrpcStatus.OK).length).to.be.at.least(4);
      const refused = results.filter((result) => result.code === GrpcStatus.RESOURCE_EXHAUSTED);
      expect(refused.length).to.be.greaterThan(0);
      expect(refused[0]?.details).to.match(/queue is full \(4 requests waiting\)/);
      expect(await scrapeSample(`${runtime.url}/metrics`, 'prediction_requests_total', { protocol: 'grpc', code: '429' })).to.equal(refused.length);
    } finally {
      client.close();
      await runtime.close();
    }
  });

  it('close() turns readiness false, finishes every queued and in-flight gRPC call, then stops listening', async () => {
    const runtime = await startTestRuntime({ modelUri: WIDE, modelName: 'wide', maxBatchSize: '1', shutdownGraceMs: '30000' });
    const client = new GrpcTestClient(runtime.grpcAddress);
    try {
      const pending = Array.from({ length: 12 }, (_, i) => client.call('ModelInfer', wideInfer(512, features, `heavy-${i}`)));
      for (let i = 0; i < 500; i++) {
        if (await scrapeSample(`${runtime.url}/metrics`, 'inference_queue_depth') >= 4) break;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const closing = runtime.close();
      const lateClient = new GrpcTestClient(runtime.grpcAddress);
      const readyDuringDrain = await lateClient.call('ServerReady');
      lateClient.close();
      const results = await Promise.all(pending);
      await closing;
      expect(results.map((result) => result.id)).to.deep.equal(Array.from({ length: 12 }, (_, i) => `heavy-${i}`));
      expect(readyDuringDrain, 'a new connection during the drain is still served').to.deep.equal({ ready: false });
      const after = await client.status('ServerLive');
      expect(after.code).to.equal(GrpcStatus.UNAVAILABLE);
    } finally {
      client.close();
    }
  });
});
