import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServiceError } from '@grpc/grpc-js';
import type { RunningRuntime } from '../../runtime/server.ts';
import { GrpcTestClient } from './grpc-client.ts';
import { fraudRequest, getJson, modelPath, startTestRuntime } from './helpers.ts';

interface Answer { status: number; retryAfter: string | undefined; error: string | undefined }

/** One inference over REST from a chosen loopback address (each address is another client), with an optional bearer token. */
function inferFrom(runtime: RunningRuntime, localAddress: string, token?: string): Promise<Answer> {
  const body = JSON.stringify(fraudRequest(1, 1));
  return new Promise((resolve, reject) => {
    const url = new URL(`${runtime.url}/v2/models/fraud/infer`);
    const outgoing = request(url, {
      method: 'POST', localAddress, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(token && { authorization: `Bearer ${token}` }) },
    }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        const retryAfter = response.headers['retry-after'];
        resolve({ status: response.statusCode ?? 0, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined, error: (JSON.parse(text) as { error?: string }).error });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/**
 * Sends until a request is refused (at most `limit`): the answers, and how many the bucket could
 * have served meanwhile (its size plus what it refilled, however slow this machine is).
 */
async function untilRefused(send: (i: number) => Promise<Answer>, burst: number, perSecond: number, limit = 50): Promise<{ answers: Answer[]; allowed: number }> {
  const started = performance.now();
  const answers: Answer[] = [];
  for (let i = 0; i < limit; i++) {
    const answer = await send(i);
    answers.push(answer);
    if (answer.status !== 200) break;
  }
  return { answers, allowed: burst + Math.ceil(((performance.now() - started) / 1000) * perSecond) };
}

describe('runtime: rate limits (MODELSHIP_RATE_LIMIT_RPS / _BURST per client, _TOTAL_RPS per replica; REST and gRPC alike)', () => {
  let runtime: RunningRuntime;
  let dir: string;
  afterEach(async () => {
    await runtime?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('with bearer tokens required, each token is a client: past its burst, 429 with Retry-After and a JSON error; another token is unaffected; probes stay open', async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelship-rate-'));
    await writeFile(join(dir, 'tokens'), 'client-a\nclient-b\n');
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', authTokenFile: join(dir, 'tokens'), rateLimitRps: '2', rateLimitBurst: '4' });
    const { answers, allowed } = await untilRefused(() => inferFrom(runtime, '127.0.0.1', 'client-a'), 4, 2);
    const refused = answers.at(-1);
    expect(answers.slice(0, 4).map((answer) => answer.status), 'the burst is served').to.deep.equal([200, 200, 200, 200]);
    expect(refused?.status).to.equal(429);
    expect(answers.length - 1).to.be.at.most(allowed);
    expect(Number(refused?.retryAfter)).to.be.at.least(1);
    expect(refused?.error).to.equal('rate limit exceeded: 2 requests per second per client (bursts of 4)');
    expect((await inferFrom(runtime, '127.0.0.1', 'client-b')).status, 'a different token has its own bucket').to.equal(200);
    expect((await getJson(`${runtime.url}/v2/health/ready`)).status, 'probes are never limited').to.equal(200);
  });

  it('without tokens, a client is its address: a new made-up bearer string per request gets no new bucket, another address does', async () => {
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', rateLimitRps: '1', rateLimitBurst: '3' });
    const { answers, allowed } = await untilRefused((i) => inferFrom(runtime, '127.0.0.1', `made-up-${i}`), 3, 1);
    expect(answers.at(-1)?.status, 'refused although every request named another token').to.equal(429);
    expect(answers.length - 1).to.be.at.most(allowed);
    expect((await inferFrom(runtime, '127.0.0.1', 'yet-another')).status).to.equal(429);
    expect((await inferFrom(runtime, '127.0.0.2')).status, 'another address is another client').to.equal(200);
  });

  it('gRPC shares the buckets: past the burst, RESOURCE_EXHAUSTED with retry-after in the trailers, and the same client over REST is refused too', async () => {
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', rateLimitRps: '1', rateLimitBurst: '3' });
    const client = new GrpcTestClient(runtime.grpcAddress);
    try {
      const modelReady = async (): Promise<Answer> => client.call('ModelReady', { name: 'fraud' }).then(
        () => ({ status: 200, retryAfter: undefined, error: undefined }),
        (error: ServiceError) => ({ status: error.code, retryAfter: error.metadata?.get('retry-after')[0]?.toString(), error: error.details }),
      );
      const { answers, allowed } = await untilRefused(modelReady, 3, 1);
      const refused = answers.at(-1);
      expect(refused?.status, 'RESOURCE_EXHAUSTED').to.equal(8);
      expect(answers.length - 1).to.be.at.most(allowed);
      expect(refused?.error).to.equal('rate limit exceeded: 1 requests per second per client (bursts of 3)');
      expect(Number(refused?.retryAfter)).to.be.at.least(1);
      expect((await client.status('ServerReady')).code, 'readiness is never limited').to.equal(0);
      expect((await inferFrom(runtime, '127.0.0.1')).status, 'REST from the same address').to.equal(429);
    } finally {
      client.close();
    }
  });

  it('a total for all clients of the replica refuses the next client once the replica has served its share, whoever sends', async () => {
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', rateLimitTotalRps: '3' });
    const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    const { answers, allowed } = await untilRefused((i) => inferFrom(runtime, addresses[i % addresses.length] ?? '127.0.0.1'), 3, 3);
    const refused = answers.at(-1);
    expect(refused?.status).to.equal(429);
    expect(answers.length - 1).to.be.at.most(allowed);
    expect(refused?.error).to.equal('rate limit exceeded: 3 requests per second for all clients of this replica');
    expect(Number(refused?.retryAfter)).to.be.at.least(1);
  });
});
