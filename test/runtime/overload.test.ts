import { expect } from 'chai';
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { burst, closedPort, modelPath, openConnections, rawPost, responseOf, seededFloats, startTestRuntime, type V2InferResponse } from './helpers.ts';
import { spawnRuntime, type RuntimeProcess } from './process.ts';
import { eventually } from '../support/eventually.ts';
import { sampleSum, scrapeSample } from '../support/prometheus-text.ts';

const WIDE_FEATURES = 64;
const MAX_QUEUE_SIZE = 16;
/** Distinct inputs in the load; each request's tag picks one, so a swapped answer shows. */
const DISTINCT_INPUTS = 64;

const wideRequest = (rows: number, seed: number, id: string) => ({
  id,
  inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, WIDE_FEATURES], data: seededFloats(seed, rows * WIDE_FEATURES, 2) }],
});

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly body: V2InferResponse;
}

function post(url: string, agent: Agent, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        retryAfter: res.headers['retry-after'],
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as V2InferResponse,
      }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function expectSameResult(got: V2InferResponse, want: V2InferResponse, what: string): void {
  expect(got.outputs[0]?.data, `${what}: labels`).to.deep.equal(want.outputs[0]?.data);
  const probabilities = want.outputs[1]?.data as number[];
  // GEMM at batch n and GEMV at batch 1 may round the last bit differently; nothing more.
  (got.outputs[1]?.data as number[]).forEach((value, j) => expect(value, `${what}: probability ${j}`).to.be.closeTo(probabilities[j] as number, 1e-5));
}

describe('runtime process under overload (wide MLP, small queue, real onnxruntime)', function () {
  this.timeout(180_000);
  let runtime: RuntimeProcess;
  let url: string;
  const metric = async (name: string, labels: Record<string, string> = {}) => scrapeSample(`${url}/metrics`, name, labels);

  before(async () => {
    const port = await closedPort();
    url = `http://127.0.0.1:${port}`;
    runtime = spawnRuntime({
      modelUri: modelPath('wide-mlp-fp32.onnx'), modelName: 'wide', port: String(port), logLevel: 'warn',
      maxBatchSize: '8', maxQueueSize: String(MAX_QUEUE_SIZE), maxConcurrentRuns: '1',
      // These cases queue requests in the order they arrive; a large JSON body on the decoder thread
      // would reach the queue after the small ones sent behind it.
      decodeOffloadBytes: '0',
    });
    await eventually(async () => expect((await fetch(`${url}/v2/health/ready`)).status).to.equal(200), { intervalMs: 100 });
  });
  after(async () => {
    if (!runtime) return;
    runtime.child.kill('SIGTERM');
    expect(await runtime.exited()).to.equal(0);
  });

  it('far above capacity: the queue stays bounded, the excess gets 429 + Retry-After, every accepted request gets exactly its own answer', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 160 });
    const inferUrl = `${url}/v2/models/wide/infer`;
    const references: V2InferResponse[] = [];
    for (let seed = 0; seed < DISTINCT_INPUTS; seed++) {
      references.push((await post(inferUrl, agent, JSON.stringify(wideRequest(1, seed, `ref-${seed}`)))).body);
    }
    const before = { ok: await metric('prediction_requests_total', { code: '200' }), refused: await metric('prediction_requests_total', { code: '429' }) };

    const TOTAL = 4000;
    const CLIENTS = 160;
    let next = 0;
    const answers = new Map<string, Answer>();
    const deadline = Date.now() + 60_000;
    const client = async (): Promise<void> => {
      while (next < TOTAL && Date.now() < deadline) {
        const n = next++;
        const tag = `load-${n}`;
        const answer = await post(inferUrl, agent, JSON.stringify(wideRequest(1, n % DISTINCT_INPUTS, tag)));
        expect(answers.has(tag), `${tag} answered twice`).to.equal(false);
        answers.set(tag, answer);
      }
    };
    let loading = true;
    const depths: number[] = [];
    const sampler = (async () => {
      const scrapeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (loading) {
        const text = await new Promise<string>((resolve, reject) => {
          request(`${url}/metrics`, { agent: scrapeAgent }, (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
            res.on('end', () => resolve(body));
          }).on('error', reject).end();
        });
        depths.push(sampleSum(text, 'inference_queue_depth'));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      scrapeAgent.destroy();
    })();
    await Promise.all(Array.from({ length: CLIENTS }, client));
    loading = false;
    await sampler;
    agent.destroy();

    const sent = next;
    expect(answers.size, 'one answer per request sent').to.equal(sent);
    let ok = 0;
    let refused = 0;
    for (const [tag, answer] of answers) {
      if (answer.status === 429) {
        refused++;
        expect(answer.retryAfter, `${tag}: Retry-After`).to.equal('1');
        expect(answer.body.error, tag).to.match(/queue is full/);
        continue;
      }
      expect(answer.status, `${tag}: ${JSON.stringify(answer.body).slice(0, 200)}`).to.equal(200);
      ok++;
      expect(answer.body.id, 'the answer carries its own request id').to.equal(tag);
      const seed = Number(tag.slice('load-'.length)) % DISTINCT_INPUTS;
      expectSameResult(answer.body, references[seed] as V2InferResponse, tag);
    }
    expect(refused, 'overload was reached').to.be.greaterThan(0);
    expect(ok, 'work was still done').to.be.greaterThan(0);
    expect(Math.max(...depths), `queue depth samples ${depths.length}`).to.be.at.most(MAX_QUEUE_SIZE);
    // The server counted each request once, with the status the client saw.
    expect(await metric('prediction_requests_total', { code: '200' }) - before.ok).to.equal(ok);
    expect(await metric('prediction_requests_total', { code: '429' }) - before.refused).to.equal(refused);
  });

  it('a client that disconnects while queued frees its slot, and its rows never reach a run', async function () {
    this.timeout(60_000);
    const BLOCKER_ROWS = 16_384;
    const VICTIM_ROWS = 5;
    const SURVIVOR_ROWS = 3;
    const path = '/v2/models/wide/infer';
    const before = {
      rows: await metric('inference_batch_size_sum'),
      runs: await metric('inference_batch_size_count'),
      cancelled: await metric('inference_cancelled_requests_total'),
      gone: await metric('prediction_requests_total', { code: '499' }),
    };
    // Blockers are slow to run (each alone: over the max batch size) but arrive in one packet (gzip);
    // victims queue behind them, survivors behind the victims (sharing a batch with them, were they there).
    const blocker = rawPost(url, path, gzipSync(JSON.stringify({
      inputs: [{ name: 'features', datatype: 'FP32', shape: [BLOCKER_ROWS, WIDE_FEATURES], data: new Array<number>(BLOCKER_ROWS * WIDE_FEATURES).fill(0.5) }],
      outputs: [{ name: 'label' }],
    })), { 'Content-Encoding': 'gzip' });
    const victim = rawPost(url, path, JSON.stringify(wideRequest(VICTIM_ROWS, 7, 'victim')));
    const survivor = (i: number) => rawPost(url, path, JSON.stringify(wideRequest(SURVIVOR_ROWS, 100 + i, `survivor-${i}`)));
    const blockers = Array.from({ length: 6 }, () => blocker);
    const victims = Array.from({ length: 6 }, () => victim);
    const survivors = [survivor(0), survivor(1)];
    const requests = [...blockers, ...victims, ...survivors];
    const sockets = await openConnections(url, requests.length);
    const answers = sockets.map((socket) => responseOf(socket).catch(() => undefined));
    // One synchronous loop: all of them reach the server in the same I/O poll, in this order.
    sockets.forEach((socket, i) => socket.write(requests[i] as Buffer));
    // Hang up only once every request is queued and blockers still wait ahead of the victims
    // (queued, running and finished from one scrape, so they agree).
    await eventually(async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      const finished = sampleSum(text, 'inference_batch_size_count') - before.runs;
      const running = sampleSum(text, 'inference_runs_in_progress');
      expect(sampleSum(text, 'inference_queue_depth') + running + finished, 'requests that arrived').to.equal(requests.length);
      // Two, not one: the hang-ups must reach the server before the last blocker's run ends, even on a loaded machine.
      expect(blockers.length - finished - running, 'blockers still queued').to.be.at.least(2);
    }, { intervalMs: 5 });
    for (const [i, socket] of sockets.entries()) if (requests[i] === victim) socket.destroy();
    await eventually(async () => expect(await metric('inference_cancelled_requests_total') - before.cancelled).to.equal(victims.length), { intervalMs: 5 });

    const settled = await Promise.all(answers);
    requests.forEach((request, i) => {
      if (request === victim) return;
      expect(settled[i]?.status, `request ${i}: ${settled[i]?.body.slice(0, 200)}`).to.equal(200);
    });
    survivors.forEach((_, i) => {
      const answer = settled[blockers.length + victims.length + i];
      expect((JSON.parse(answer?.body ?? '{}') as V2InferResponse).id).to.equal(`survivor-${i}`);
    });
    expect(await metric('inference_batch_size_sum') - before.rows, 'rows that reached a run').to.equal(blockers.length * BLOCKER_ROWS + survivors.length * SURVIVOR_ROWS);
    expect(await metric('prediction_requests_total', { code: '499' }) - before.gone, 'requests counted as client gone').to.equal(victims.length);
    expect(await metric('inference_queue_depth')).to.equal(0);
  });
});

describe('runtime: overload (in process, burst)', function () {
  this.timeout(60_000);
  it('429 with Retry-After when the queue is full; everything else is served', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('wide-mlp-fp32.onnx'), modelName: 'wide', maxBatchSize: '1', maxQueueSize: '4' });
    try {
      const responses = await burst(runtime.url, '/v2/models/wide/infer', Array.from({ length: 40 }, (_, i) => JSON.stringify(wideRequest(1, i, `s${i}`))));
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s !== 200 && s !== 429)).to.deep.equal([]);
      const refused = responses.filter((r) => r.status === 429);
      expect(refused.length).to.be.greaterThan(0);
      expect(statuses.filter((s) => s === 200).length).to.be.greaterThanOrEqual(4);
      expect(refused[0]?.headers).to.match(/\r\nretry-after: 1\r\n/i);
      expect((JSON.parse(refused[0]?.body ?? '{}') as { error: string }).error).to.match(/queue is full/);
    } finally {
      await runtime.close();
    }
  });
});
