import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { expect } from 'chai';
import type { RunningRuntime } from '../../runtime/server.ts';
import { eventually } from '../support/eventually.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus-server.ts';
import { GrpcTestClient } from './grpc-client.ts';
import { fraudRequest, LogCapture, modelPath, startTestRuntime } from './helpers.ts';
import { ensurePython, runPython } from './python.ts';

const run = promisify(execFile);

/** A test CA and server certificates it signs for 127.0.0.1, made with openssl. */
async function makeCertificates(dir: string): Promise<{ ca: string; issue(name: string): Promise<{ cert: string; key: string }> }> {
  const ca = join(dir, 'ca.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', ca, '-days', '2', '-subj', '/CN=modelship test CA']);
  return {
    ca,
    async issue(name) {
      const [key, csr, cert, ext] = ['key', 'csr', 'crt', 'ext'].map((suffix) => join(dir, `${name}.${suffix}`)) as [string, string, string, string];
      await writeFile(ext, 'subjectAltName=IP:127.0.0.1\n');
      await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
      await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext]);
      return { cert, key };
    },
  };
}

/** The subject CN of the certificate the server presents on a new connection. */
function presentedName(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca }, () => {
      const subject = socket.getPeerCertificate().subject;
      socket.end();
      resolve(String(subject?.CN));
    });
    socket.once('error', reject);
  });
}

function httpsJson(url: string, ca: Buffer, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const outgoing = request(url, { method: payload ? 'POST' : 'GET', ca, headers: payload ? { 'content-type': 'application/json' } : {} }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

describe('runtime: TLS from a certificate and key file (MODELSHIP_TLS_*), renewed without a restart', function () {
  this.timeout(300_000);
  let dir: string;
  let ca: Buffer;
  let issue: (name: string) => Promise<{ cert: string; key: string }>;
  let runtime: RunningRuntime;
  let prometheus: PrometheusServer | undefined;
  const logs = new LogCapture();
  const served = { cert: '', key: '' };
  /** Puts a pair where the runtime reads it, each file replaced at once (as the kubelet swaps a Secret volume). */
  const install = async (pair: { cert: string; key: string }) => {
    for (const [from, to] of [[pair.cert, served.cert], [pair.key, served.key]] as const) {
      await writeFile(`${to}.new`, await readFile(from));
      await rename(`${to}.new`, to);
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelship-tls-'));
    const made = await makeCertificates(dir);
    ca = await readFile(made.ca);
    issue = made.issue;
    Object.assign(served, { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') });
    await install(await issue('first'));
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', tlsCertFile: served.cert, tlsKeyFile: served.key, tlsReloadSeconds: '1' }, logs);
  });

  after(async () => {
    await runtime?.close();
    await prometheus?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves REST over HTTPS (probes and inference) and refuses plain HTTP on the same port', async () => {
    expect(runtime.url).to.match(/^https:\/\//);
    expect((await httpsJson(`${runtime.url}/v2/health/ready`, ca)).status).to.equal(200);
    const answer = await httpsJson(`${runtime.url}/v2/models/fraud/infer`, ca, fraudRequest(2, 1));
    expect(answer.status).to.equal(200);
    expect(answer.body.model_name).to.equal('fraud');
    const plain = await fetch(runtime.url.replace('https://', 'http://')).then(() => 'answered', (error: Error) => error.message);
    expect(plain, 'no plain-text answer').to.equal('fetch failed');
  });

  it('serves gRPC over TLS on its port: a client trusting the CA is answered, a plain-text one is not', async () => {
    const secure = new GrpcTestClient(runtime.grpcAddress, credentials.createSsl(ca));
    const plain = new GrpcTestClient(runtime.grpcAddress);
    try {
      expect(await secure.call('ServerReady')).to.deep.equal({ ready: true });
      expect((await plain.status('ServerReady')).code, 'UNAVAILABLE').to.equal(14);
    } finally {
      secure.close();
      plain.close();
    }
  });

  it('tritonclient with ssl=True, over REST and gRPC, infers', async () => {
    const python = await ensurePython();
    const report = JSON.parse(await runPython(python, ['test/runtime/triton_tls_check.py', runtime.url.replace('https://', ''), runtime.grpcAddress, 'fraud', join(dir, 'ca.crt')])) as Record<string, unknown>;
    expect(report).to.deep.equal({ rest_ready: true, rest_labels: [0, 1], grpc_ready: true, grpc_labels: [0, 1] });
  });

  it('a real Prometheus scrapes /metrics over HTTPS', async () => {
    prometheus = await startPrometheus(() => [{
      job_name: 'runtime-tls', scheme: 'https', tls_config: { ca_file: join(dir, 'ca.crt') }, static_configs: [{ targets: [new URL(runtime.url).host] }],
    }]);
    await eventually(async () => {
      const response = await fetch(`${prometheus?.url}/api/v1/query?query=${encodeURIComponent('up{job="runtime-tls"}')}`);
      const { data } = await response.json() as { data: { result: { value: [number, string] }[] } };
      expect(data.result[0]?.value[1]).to.equal('1');
    }, { timeoutMs: 60_000, intervalMs: 1_000 });
  });

  it('serves a renewed certificate to new connections within the reload interval, REST and gRPC, and keeps the last good one when the files do not make a pair', async () => {
    const port = Number(new URL(runtime.url).port);
    const grpcPort = Number(runtime.grpcAddress.split(':').at(-1));
    expect(await presentedName(port, ca)).to.equal('first');
    await install(await issue('renewed'));
    await eventually(async () => {
      expect(await presentedName(port, ca)).to.equal('renewed');
      expect(await presentedName(grpcPort, ca)).to.equal('renewed');
    }, { timeoutMs: 20_000, intervalMs: 250 });
    expect(logs.lines.some((line) => String(line.msg) === 'TLS certificate reloaded' && JSON.stringify(line).includes('CN=renewed'))).to.equal(true);

    const other = await issue('other');
    await writeFile(served.key, await readFile(other.key));
    await eventually(async () => expect(logs.lines.some((line) => String(line.msg).startsWith('TLS certificate or key unreadable or not a pair'))).to.equal(true), { timeoutMs: 20_000 });
    expect(await presentedName(port, ca), 'still the last good pair').to.equal('renewed');
    expect((await httpsJson(`${runtime.url}/v2/health/ready`, ca)).status).to.equal(200);
  });
});
