import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { eventually } from '../support/eventually.ts';
import { GrpcTestClient } from './grpc-client.ts';
import { getJson, modelPath, postJson, startTestRuntime, type LogCapture } from './helpers.ts';
import type { RunningRuntime } from '../../runtime/server.ts';

const token = 's3cret-token-for-tests';
const request = { inputs: [{ name: 'features', shape: [1, 30], datatype: 'FP32', data: new Array<number>(30).fill(0.1) }] };

describe('runtime: a fixed bearer token (MODELSHIP_AUTH_TOKEN)', () => {
  let runtime: RunningRuntime;
  const infer = () => `${runtime.url}/v2/models/fraud/infer`;

  before(async () => {
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', authToken: token });
  });
  after(async () => runtime?.close());

  it('refuses inference and metadata without a token: 401 JSON with WWW-Authenticate', async () => {
    const inferred = await postJson(infer(), request);
    expect(inferred.status).to.equal(401);
    expect(inferred.headers.get('www-authenticate')).to.match(/^Bearer/);
    expect(inferred.body.error).to.match(/missing bearer token/);
    expect((await getJson(`${runtime.url}/v2/models/fraud`)).status).to.equal(401);
    expect((await getJson(`${runtime.url}/v2`)).status).to.equal(401);
  });

  it('refuses a wrong token', async () => {
    const response = await postJson(infer(), request, { authorization: `Bearer ${token}x` });
    expect(response.status).to.equal(401);
    expect(response.body.error).to.equal('invalid bearer token');
  });

  it('serves with the right token', async () => {
    const response = await postJson<{ outputs: unknown[] }>(infer(), request, { authorization: `Bearer ${token}` });
    expect(response.status).to.equal(200);
    expect(response.body.outputs).to.have.length(2);
  });

  it('leaves probes and /metrics open for the kubelet and Prometheus', async () => {
    expect((await getJson(`${runtime.url}/v2/health/live`)).status).to.equal(200);
    expect((await getJson(`${runtime.url}/v2/health/ready`)).status).to.equal(200);
    expect((await fetch(`${runtime.url}/metrics`)).status).to.equal(200);
  });
});

describe('runtime: bearer tokens from a file that rotates without a restart (MODELSHIP_AUTH_TOKEN_FILE, the mounted spec.security.authSecret)', () => {
  let runtime: RunningRuntime & { logs: LogCapture };
  let dir: string;
  let tokenFile: string;
  let grpc: GrpcTestClient;
  const infer = (bearer: string) => postJson(`${runtime.url}/v2/models/fraud/infer`, request, { authorization: `Bearer ${bearer}` });
  const grpcCode = (bearer: string) =>
    grpc.call('ModelMetadata', { name: 'fraud', version: '' }, bearer).then(() => 0, (error: ServiceError) => error.code);
  /** Replaces the file in one step, as the kubelet's atomic writer swaps a mounted Secret. */
  const rotate = async (content: string) => {
    const next = `${tokenFile}.next`;
    await writeFile(next, content);
    await rename(next, tokenFile);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelship-auth-'));
    tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'old-token\n');
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', authTokenFile: tokenFile, authTokenReloadSeconds: '1' });
    grpc = new GrpcTestClient(runtime.grpcAddress);
  });
  after(async () => {
    grpc?.close();
    await runtime?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('moves from the old token to the new one over REST and gRPC, accepting both while the file lists both', async () => {
    expect((await infer('old-token')).status).to.equal(200);
    expect((await infer('new-token')).status).to.equal(401);

    await rotate('# both while clients move over\nold-token\nnew-token\n');
    await eventually(async () => expect((await infer('new-token')).status).to.equal(200), { timeoutMs: 15_000 });
    expect((await infer('old-token')).status).to.equal(200);
    expect(await grpcCode('new-token')).to.equal(0);

    await rotate('new-token\n');
    await eventually(async () => expect((await infer('old-token')).status).to.equal(401), { timeoutMs: 15_000 });
    expect((await infer('new-token')).status).to.equal(200);
    expect(await grpcCode('old-token')).to.equal(GrpcStatus.UNAUTHENTICATED);
    expect(await grpcCode('new-token')).to.equal(0);
    const reloads = runtime.logs.lines.filter((line) => line.msg === 'auth tokens reloaded');
    expect(reloads.map((line) => line.tokens)).to.deep.equal([2, 1]);
    expect(JSON.stringify(runtime.logs.lines)).to.not.contain('new-token');
  });

  it('keeps the last tokens, and says so, when the file is emptied or removed', async () => {
    await rotate('\n# nothing\n');
    await eventually(async () => expect(runtime.logs.lines.some((line) => String(line.msg).includes('keeping the previous auth tokens'))).to.equal(true), { timeoutMs: 15_000 });
    expect((await infer('new-token')).status).to.equal(200);
    expect((await infer('anything')).status).to.equal(401);
    await rm(tokenFile);
    await sleep(2500);
    expect((await infer('new-token')).status).to.equal(200);
    expect((await postJson(`${runtime.url}/v2/models/fraud/infer`, request)).status).to.equal(401);
  });

  it('refuses to start without a readable token file rather than serve openly', async () => {
    const missing = join(dir, 'absent');
    let failure: Error | undefined;
    await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', authTokenFile: missing }).then(
      async (started) => started.close(),
      (error: Error) => { failure = error; },
    );
    expect(failure?.message).to.match(/cannot read the auth token file: .*absent/);
  });
});
