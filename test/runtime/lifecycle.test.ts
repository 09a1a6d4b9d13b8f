import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, rm } from 'node:fs/promises';
import { sha256OfFile } from '../../runtime/model/fetch.ts';
import { closedPort, getJson, modelPath, startTestRuntime } from './helpers.ts';
import { heavyRequest, sendHeavy } from './heavy.ts';
import { spawnRuntime } from './process.ts';
import { scrapeSample } from '../support/prometheus-text.ts';

const FATAL = 60;
const WIDE = modelPath('wide-mlp-fp32.onnx');

describe('runtime process: exits non-zero with one clear log line when the model cannot be served', function () {
  this.timeout(60_000);

  const cases: Array<[string, () => Promise<Parameters<typeof spawnRuntime>[0]>, RegExp]> = [
    ['bad sha256 digest', async () => ({ modelUri: WIDE, modelSha256: 'a'.repeat(64) }), /^cannot serve model: sha256 mismatch for .*wide-mlp-fp32\.onnx: expected a{64}, got [0-9a-f]{64}$/],
    ['unreachable URL', async () => ({ modelUri: `http://127.0.0.1:${await closedPort()}/m.onnx` }), /^cannot serve model: cannot download model from http:\/\/127\.0\.0\.1:\d+\/m\.onnx: fetch failed: connect ECONNREFUSED/],
    ['invalid model file', async () => ({ modelUri: modelPath('SHA256SUMS') }), /^cannot serve model: invalid model .*SHA256SUMS: /],
  ];
  for (const [name, env, message] of cases) {
    it(name, async () => {
      const runtime = spawnRuntime({ ...(await env()), port: String(await closedPort()), modelCacheDir: '/tmp/modelship-test-cache' });
      expect(await runtime.exited()).to.equal(1);
      const fatal = runtime.lines.filter((line) => line.level === FATAL);
      expect(fatal, JSON.stringify(runtime.lines)).to.have.length(1);
      expect(fatal[0]?.msg).to.match(message);
      expect(runtime.lines.some((line) => line.msg === 'model ready'), 'never ready').to.equal(false);
    });
  }

  it('bad configuration exits 2', async () => {
    const runtime = spawnRuntime({ modelUri: WIDE, maxBatchSize: 'lots' });
    expect(await runtime.exited()).to.equal(2);
    expect(runtime.lines[0]?.msg).to.match(/MODELSHIP_MAX_BATCH_SIZE=lots is invalid/);
  });
});

describe('runtime process: liveness does not depend on load', function () {
  this.timeout(60_000);
  let origin: Server;
  let release: () => void = () => undefined;

  before(async () => {
    const bytes = await readFile(WIDE);
    const held = new Promise<void>((resolve) => { release = resolve; });
    origin = createServer((_req, res) => void held.then(() => res.end(bytes)));
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  });
  after(() => {
    release();
    origin.closeAllConnections();
    origin.close();
  });

  it('live while the model downloads; not ready and 503 + Retry-After for inference until it is loaded', async () => {
    const port = await closedPort();
    const { port: originPort } = origin.address() as AddressInfo;
    const runtime = spawnRuntime({ modelUri: `http://127.0.0.1:${originPort}/wide.onnx`, modelName: 'wide', port: String(port), modelCacheDir: `/tmp/modelship-test-cache-${port}` });
    const url = `http://127.0.0.1:${port}`;
    try {
      let live = 0;
      for (let i = 0; i < 100 && live !== 200; i++) {
        live = await fetch(`${url}/v2/health/live`).then((r) => r.status, () => 0);
        if (live !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(live).to.equal(200);
      expect((await getJson(`${url}/v2/health/ready`)).status).to.equal(503);
      const early = await fetch(`${url}/v2/models/wide/infer`, { method: 'POST', body: heavyRequest(1, 1).body, headers: { 'inference-header-content-length': String(heavyRequest(1, 1).headerLength) } });
      expect(early.status).to.equal(503);
      expect(early.headers.get('retry-after')).to.equal('1');
      release();
      await runtime.waitForLog((line) => line.msg === 'model ready');
      expect((await getJson(`${url}/v2/health/ready`)).status).to.equal(200);
    } finally {
      runtime.child.kill('SIGTERM');
      expect(await runtime.exited()).to.equal(0);
      await rm(`/tmp/modelship-test-cache-${port}`, { recursive: true, force: true });
    }
  });
});

describe('runtime: graceful shutdown', function () {
  this.timeout(90_000);

  it('in process: close() turns readiness false and finishes every queued and in-flight request', async () => {
    const runtime = await startTestRuntime({ modelUri: WIDE, modelName: 'wide', maxBatchSize: '1', shutdownGraceMs: '30000' });
    const pending = Array.from({ length: 12 }, (_, i) => sendHeavy(runtime.url, 512, i).response);
    // Wait until the server holds them all (queued behind the first run), then stop it.
    for (let i = 0; i < 500; i++) {
      if (await scrapeSample(`${runtime.url}/metrics`, 'inference_queue_depth') >= 4) break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const closing = runtime.close();
    const readyDuringDrain = await fetch(`${runtime.url}/v2/health/ready`).then((r) => r.status, () => 'refused');
    expect([503, 'refused']).to.include(readyDuringDrain);
    const results = await Promise.all(pending);
    await closing;
    expect(results.map((r) => r.status)).to.deep.equal(Array(12).fill(200));
    expect(results.map((r) => r.id)).to.deep.equal(Array.from({ length: 12 }, (_, i) => `heavy-${i}`));
  });

  it('process: SIGTERM drains in-flight requests and exits 0', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const digest = await sha256OfFile(WIDE);
    const runtime = spawnRuntime({ modelUri: WIDE, modelSha256: digest, modelName: 'wide', port: String(port), maxBatchSize: '1', shutdownGraceMs: '30000' });
    await runtime.waitForLog((line) => line.msg === 'model ready');
    // About 1 s of compute in all (8 runs of 8192 rows), so requests are still queued when the signal comes.
    const requests = Array.from({ length: 8 }, (_, i) => sendHeavy(url, 8192, i));
    const pending = requests.map((r) => r.response);
    // Signal only once every request is in the server's hands (2 MB bodies cannot be flushed unread):
    // on a busy machine a client may not have sent its request yet, and one that arrives after the
    // drain is, rightly, not served.
    await Promise.all(requests.map((r) => r.sent));
    await runtime.waitForLog((line) => line.msg === 'infer');
    runtime.child.kill('SIGTERM');
    const results = await Promise.all(pending);
    expect(await runtime.exited()).to.equal(0);
    expect(results.map((r) => r.status)).to.deep.equal(Array(8).fill(200));
    const signalled = runtime.lines.findIndex((line) => line.msg === 'shutting down');
    const inferAfterSignal = runtime.lines.slice(signalled).filter((line) => line.msg === 'infer');
    expect(signalled, 'logged the signal').to.be.greaterThan(0);
    expect(inferAfterSignal.length, 'requests finished after SIGTERM').to.be.greaterThan(0);
    expect(runtime.lines.at(-1)).to.include({ msg: 'stopped', drained: true });
  });
});
