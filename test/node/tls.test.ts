import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { expect } from 'chai';
import { plane } from '../integration/context.ts';
import { eventually } from '../support/eventually.ts';
import { type OperatorProcess } from '../support/operator-process.ts';
import { GrpcTestClient } from '../runtime/grpc-client.ts';
import { fraudRequest } from '../runtime/helpers.ts';
import { leaveNamespace, modelDigest, podsOf, prepareNamespace } from './cluster.ts';

const run = promisify(execFile);

/**
 * spec.security.tls on running pods: the kubelet's HTTPS probes pass, the Service answers HTTPS and
 * gRPC over TLS with the Secret's certificate, and a renewed Secret reaches the same pod (the kubelet
 * updates the volume) and is served without a restart.
 */
describe('real node: a ModelDeployment with security.tls serves HTTPS and gRPC over TLS, and a renewed certificate without a restart', function () {
  this.timeout(10 * 60_000);
  const namespace = `tls-${Date.now().toString(36)}`;
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  const serviceName = `fraud-tls.${namespace}.svc`;
  let operator: OperatorProcess;
  let dir: string;
  let ca: Buffer;

  const issue = async (name: string): Promise<{ cert: string; key: string }> => {
    const [key, csr, cert, ext] = ['key', 'csr', 'crt', 'ext'].map((suffix) => join(dir, `${name}.${suffix}`)) as [string, string, string, string];
    await writeFile(ext, `subjectAltName=DNS:${serviceName},DNS:${serviceName}.cluster.local\n`);
    await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', cert, '-days', '1', '-extfile', ext]);
    return { cert, key };
  };
  /** The Secret as cert-manager would write it: created, or replaced on renewal. */
  const writeSecret = async (pair: { cert: string; key: string }) => {
    const manifest = await kubectl(['create', 'secret', 'tls', 'fraud-cert', '-n', namespace, `--cert=${pair.cert}`, `--key=${pair.key}`, '--dry-run=client', '-o', 'json']);
    await kubectl(['apply', '-f', '-'], manifest);
  };
  const presentedName = (host: string, port: number): Promise<string> => new Promise((resolve, reject) => {
    const socket = connect({ host, port, ca, servername: serviceName }, () => {
      const subject = socket.getPeerCertificate().subject;
      socket.end();
      resolve(String(subject?.CN));
    });
    socket.once('error', reject);
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelship-node-tls-'));
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '2', '-subj', '/CN=modelship test CA']);
    ca = await readFile(join(dir, 'ca.crt'));
    operator = await prepareNamespace(kubectl, namespace, 'operator-tls');
    await writeSecret(await issue('first'));
  });

  after(async () => {
    await leaveNamespace(kubectl, namespace, operator);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('turns Ready by HTTPS probes and answers HTTPS and gRPC over TLS through its Service; a renewed Secret is served by the same pod', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'fraud-tls', namespace },
      spec: {
        model: { uri: 'http://models.modelship-system.svc:8000/fraud-fp32.onnx', sha256: modelDigest('fraud-fp32.onnx') },
        runtime: { resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '1Gi' } } },
        replicas: 1,
        security: { tls: { secretName: 'fraud-cert' } },
      },
    }));
    const [pod] = await eventually(async () => {
      const pods = await podsOf(kubectl, namespace, 'app.kubernetes.io/instance=fraud-tls');
      expect(pods.map((p) => [p.status.phase, p.status.containerStatuses?.[0]?.ready])).to.deep.equal([['Running', true]]);
      return pods;
    }, { timeoutMs: 240_000, intervalMs: 1_000 });
    const clusterIp = (await kubectl(['get', 'service', 'fraud-tls', '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}'])).trim();

    const answer = await new Promise<{ status: number; body: { model_name?: string; outputs?: unknown[] } }>((resolve, reject) => {
      const body = JSON.stringify(fraudRequest(2, 3));
      const outgoing = request({ host: clusterIp, port: 8080, path: '/v2/models/fraud-tls/infer', method: 'POST', ca, servername: serviceName, headers: { 'content-type': 'application/json' } }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as { model_name?: string } }));
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
    expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    expect(answer.body.model_name).to.equal('fraud-tls');

    const grpc = new GrpcTestClient(`${clusterIp}:8081`, credentials.createSsl(ca), { 'grpc.ssl_target_name_override': serviceName });
    try {
      expect(await grpc.call('ModelReady', { name: 'fraud-tls' })).to.deep.equal({ ready: true });
    } finally {
      grpc.close();
    }
    expect(await presentedName(clusterIp, 8080)).to.equal('first');

    await writeSecret(await issue('renewed'));
    const started = Date.now();
    await eventually(async () => {
      expect(await presentedName(clusterIp, 8080)).to.equal('renewed');
      expect(await presentedName(clusterIp, 8081)).to.equal('renewed');
    }, { timeoutMs: 180_000, intervalMs: 1_000 });
    console.log(`      renewed certificate served ${((Date.now() - started) / 1000).toFixed(1)} s after the Secret changed (kubelet volume sync, then the runtime's reload)`);
    const [after] = await podsOf(kubectl, namespace, 'app.kubernetes.io/instance=fraud-tls');
    expect(after?.metadata.name, 'the same pod').to.equal(pod?.metadata.name);
    expect(after?.status.containerStatuses?.[0]?.restartCount, 'no restart').to.equal(0);
  });
});
