import { expect } from 'chai';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fraudRequest, modelPath, startTestRuntime } from './helpers.ts';

interface Sent { connection: string | undefined; localPort: number | undefined }

/** One request over `agent`: the answer's Connection header and the client port (same port, same connection). */
function infer(url: string, agent: Agent): Promise<Sent> {
  const body = JSON.stringify(fraudRequest(1, 3));
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v2/models/fraud/infer`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ connection: res.headers.connection, localPort: req.socket?.localPort }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('runtime: keep-alive connections have a maximum age (MODELSHIP_MAX_CONNECTION_AGE_SECONDS)', function () {
  this.timeout(30_000);

  it('closes a keep-alive connection after its first answer past the age, and the client\'s next request opens a new one', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', maxConnectionAgeSeconds: '1' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await infer(runtime.url, agent);
      const second = await infer(runtime.url, agent);
      expect(first.connection).to.equal('keep-alive');
      expect(second, 'the same young connection is kept').to.deep.equal(first);
      await sleep(1_100);
      const old = await infer(runtime.url, agent);
      expect(old.connection, 'past its age').to.equal('close');
      const next = await infer(runtime.url, agent);
      expect(next.connection).to.equal('keep-alive');
      expect(next.localPort, 'a new connection').to.not.equal(first.localPort);
    } finally {
      agent.destroy();
      await runtime.close();
    }
  });

  it('keeps connections open with 0', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', maxConnectionAgeSeconds: '0' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await infer(runtime.url, agent);
      await sleep(1_100);
      const later = await infer(runtime.url, agent);
      expect(later).to.deep.equal(first);
      expect(later.connection).to.equal('keep-alive');
    } finally {
      agent.destroy();
      await runtime.close();
    }
  });
});

/** A raw keep-alive connection that has had one answer; `closedByServer` turns true when the server ends it. */
async function answeredConnection(url: string): Promise<{ socket: Socket; closedByServer: () => boolean }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let closed = false;
  socket.on('end', () => { closed = true; });
  socket.on('close', () => { closed = true; });
  const answered = new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.write('GET /v2/health/live HTTP/1.1\r\nHost: runtime\r\nConnection: keep-alive\r\n\r\n');
  await answered;
  return { socket, closedByServer: () => closed };
}

describe('runtime: idle keep-alive connections outlive the proxies\' idle timeouts (MODELSHIP_KEEP_ALIVE_TIMEOUT_SECONDS)', function () {
  this.timeout(30_000);

  it('keeps an idle connection open past Node\'s own 5 s (a gateway reusing it then would get a reset and answer 502), and closes it after the setting', async () => {
    const model = { modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', maxConnectionAgeSeconds: '0' };
    const [byDefault, short] = await Promise.all([startTestRuntime(model), startTestRuntime({ ...model, keepAliveTimeoutSeconds: '1' })]);
    try {
      const [kept, closed] = await Promise.all([answeredConnection(byDefault.url), answeredConnection(short.url)]);
      await sleep(6_000);
      expect(kept.closedByServer(), 'default: still open after 6 s idle').to.equal(false);
      expect(closed.closedByServer(), 'MODELSHIP_KEEP_ALIVE_TIMEOUT_SECONDS=1: closed').to.equal(true);
      const reused = new Promise<string>((resolve) => kept.socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
      kept.socket.write('GET /v2/health/live HTTP/1.1\r\nHost: runtime\r\n\r\n');
      expect(await reused).to.match(/^HTTP\/1\.1 200/);
      kept.socket.destroy();
      closed.socket.destroy();
    } finally {
      await Promise.all([byDefault.close(), short.close()]);
    }
  });
});
