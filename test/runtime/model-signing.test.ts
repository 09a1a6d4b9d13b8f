import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { closedPort, fraudRequest, getJson, modelPath, postJson, REPO_ROOT, startTestRuntime, type V2InferResponse } from './helpers.ts';
import { spawnRuntime } from './process.ts';
import { ModelSignatureError } from '../../runtime/model/signing/errors.ts';

const run = promisify(execFile);
const FATAL = 60;

/** The real OpenSSF model-signing CLI from PyPI, in its own venv. */
async function modelSigningCli(): Promise<string> {
  const { stdout } = await run('bash', [`${REPO_ROOT}test/runtime/ensure-model-signing.sh`], { cwd: REPO_ROOT, timeout: 900_000, maxBuffer: 16 << 20 });
  const cli = stdout.trim().split('\n').at(-1);
  if (!cli) throw new Error('ensure-model-signing.sh printed no CLI path');
  return cli;
}

async function openssl(args: readonly string[]): Promise<void> {
  await run('openssl', [...args], { timeout: 60_000 });
}

interface Signed {
  readonly model: string;
  readonly signature: string;
  readonly method: 'key' | 'certificate';
  /** The public key (key) or the CA certificate (certificate) the runtime is given. */
  readonly trust: string;
}

type Outcome = 'serves' | 'missing' | 'wrongKey' | 'badSignature' | 'untrustedCertificate' | 'digestMismatch';

describe('runtime: model-signing signatures (real model_signing CLI from PyPI)', function () {
  this.timeout(900_000);
  let cli: string;
  let dir: string;
  const cases = new Map<string, { signed: Signed; outcome: Outcome }>();

  const file = (name: string) => join(dir, name);

  /** Writes an EC key pair (PEM) and returns the paths of the private and public key. */
  async function keyPair(name: string, namedCurve: 'P-256' | 'P-384'): Promise<{ privateKey: string; publicKey: string }> {
    const pair = generateKeyPairSync('ec', { namedCurve, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    await writeFile(file(`${name}.key`), pair.privateKey);
    await writeFile(file(`${name}.pub`), pair.publicKey);
    return { privateKey: file(`${name}.key`), publicKey: file(`${name}.pub`) };
  }

  /** A CA (self-signed, CA:TRUE) and a code-signing certificate it issued; returns the paths. */
  async function certificateAuthority(name: string): Promise<{ ca: string; leafKey: string; leaf: string }> {
    const [caKey, ca, leafKey, csr, leaf, ext] = ['ca.key', 'ca.pem', 'leaf.key', 'leaf.csr', 'leaf.pem', 'leaf.ext'].map((f) => file(`${name}-${f}`)) as [string, string, string, string, string, string];
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey]);
    await openssl(['req', '-x509', '-new', '-key', caKey, '-subj', `/CN=${name} CA`, '-days', '2', '-out', ca,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', leafKey]);
    await openssl(['req', '-new', '-key', leafKey, '-subj', `/CN=${name} model signer`, '-out', csr]);
    await writeFile(ext, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n');
    await openssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', leaf]);
    return { ca, leafKey, leaf };
  }

  async function model(name: string): Promise<string> {
    await copyFile(modelPath('fraud-fp32.onnx'), file(name));
    return file(name);
  }

  async function signWithKey(modelFile: string, privateKey: string): Promise<string> {
    await run(cli, ['sign', 'key', '--private_key', privateKey, '--signature', `${modelFile}.sig`, modelFile], { timeout: 120_000 });
    return `${modelFile}.sig`;
  }

  before(async () => {
    cli = await modelSigningCli();
    dir = await mkdtemp(join(tmpdir(), 'modelship-signing-'));
    const p256 = await keyPair('p256', 'P-256');
    const p384 = await keyPair('p384', 'P-384');
    const other = await keyPair('other', 'P-256');
    const trusted = await certificateAuthority('trusted');
    const stranger = await certificateAuthority('stranger');

    const good = await model('good.onnx');
    cases.set('P-256 key, untouched model', { signed: { model: good, signature: await signWithKey(good, p256.privateKey), method: 'key', trust: p256.publicKey }, outcome: 'serves' });
    const good384 = await model('good384.onnx');
    cases.set('P-384 key (ECDSA over SHA-384)', { signed: { model: good384, signature: await signWithKey(good384, p384.privateKey), method: 'key', trust: p384.publicKey }, outcome: 'serves' });

    const certified = await model('certified.onnx');
    await run(cli, ['sign', 'certificate', '--private_key', trusted.leafKey, '--signing_certificate', trusted.leaf, '--certificate_chain', trusted.ca,
      '--signature', `${certified}.sig`, certified], { timeout: 120_000 });
    cases.set('certificate chained to the configured CA', { signed: { model: certified, signature: `${certified}.sig`, method: 'certificate', trust: trusted.ca }, outcome: 'serves' });
    cases.set('certificate from another CA', { signed: { model: certified, signature: `${certified}.sig`, method: 'certificate', trust: stranger.ca }, outcome: 'untrustedCertificate' });

    const flipped = await model('flipped.onnx');
    const flippedSignature = await signWithKey(flipped, p256.privateKey);
    const bytes = await readFile(flipped);
    bytes[bytes.length >> 1]! ^= 0x01;
    await writeFile(flipped, bytes);
    cases.set('one byte of the model flipped after signing', { signed: { model: flipped, signature: flippedSignature, method: 'key', trust: p256.publicKey }, outcome: 'digestMismatch' });

    cases.set('verified with another key', { signed: { model: good, signature: `${good}.sig`, method: 'key', trust: other.publicKey }, outcome: 'wrongKey' });

    // The signed statement swapped for one listing another digest (root digest kept consistent): the signature no longer covers it.
    const forged = await model('forged.onnx');
    const bundle = JSON.parse(await readFile(await signWithKey(forged, p256.privateKey), 'utf8')) as { dsseEnvelope: { payload: string } };
    bundle.dsseEnvelope.payload = Buffer.from(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8').replace(/"name": "forged.onnx"/, '"name": "renamed.onnx"')).toString('base64');
    await writeFile(`${forged}.sig`, JSON.stringify(bundle));
    cases.set('statement altered after signing', { signed: { model: forged, signature: `${forged}.sig`, method: 'key', trust: p256.publicKey }, outcome: 'badSignature' });

    const unsigned = await model('unsigned.onnx');
    cases.set('no signature next to the model', { signed: { model: unsigned, signature: `${unsigned}.sig`, method: 'key', trust: p256.publicKey }, outcome: 'missing' });
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const signatureEnv = ({ model: modelFile, signature, method, trust }: Signed) => ({
    modelUri: modelFile,
    modelName: 'fraud',
    modelSignatureMethod: method,
    modelSignatureTrustFile: trust,
    // The default, <model uri>.sig, is what every case uses; passing it checks the explicit setting too.
    ...(signature === `${modelFile}.sig` ? {} : { modelSignatureUri: signature }),
  });

  for (const name of ['P-256 key, untouched model', 'P-384 key (ECDSA over SHA-384)', 'certificate chained to the configured CA']) {
    it(`serves and answers inference: ${name}`, async () => {
      const { signed } = cases.get(name)!;
      const runtime = await startTestRuntime(signatureEnv(signed));
      try {
        expect((await getJson(`${runtime.url}/v2/health/ready`)).status).to.equal(200);
        const answer = await postJson<V2InferResponse>(`${runtime.url}/v2/models/fraud/infer`, fraudRequest(2, 7));
        expect(answer.status).to.equal(200);
        expect(answer.body.outputs.find((output) => output.name === 'label')?.shape).to.deep.equal([2]);
      } finally {
        await runtime.close();
      }
    });
  }

  for (const name of ['one byte of the model flipped after signing', 'verified with another key', 'statement altered after signing', 'no signature next to the model', 'certificate from another CA']) {
    it(`refuses to serve, never ready, one fatal line and a termination message: ${name}`, async () => {
      const { signed, outcome } = cases.get(name)!;
      const terminationLog = file(`termination-${outcome}`);
      const runtime = spawnRuntime({ ...signatureEnv(signed), port: String(await closedPort()), terminationMessagePath: terminationLog });
      expect(await runtime.exited()).to.equal(1);
      const fatal = runtime.lines.filter((line) => line.level === FATAL);
      expect(fatal, JSON.stringify(runtime.lines)).to.have.length(1);
      expect(fatal[0]).to.include({ reason: 'ModelSignatureInvalid', signatureFailure: outcome });
      expect(fatal[0]?.msg).to.match(new RegExp(`^cannot serve model: model signature rejected \\(${outcome}\\): `));
      expect(runtime.lines.some((line) => line.msg === 'model ready'), 'never ready').to.equal(false);
      expect(await readFile(terminationLog, 'utf8')).to.equal(`ModelSignatureInvalid: ${String(fatal[0]?.msg)}`);
    });
  }

  describe('over http(s), fetched like the model', () => {
    let origin: Server;
    let base: string;

    before(async () => {
      origin = createServer((req, res) => {
        void readFile(file(basename(req.url ?? '/'))).then((body) => res.end(body), () => res.writeHead(404).end());
      });
      await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    });
    after(() => {
      origin.closeAllConnections();
      origin.close();
    });

    it('downloads <model url>.sig next to the model and serves once it verifies', async () => {
      const { signed } = cases.get('P-256 key, untouched model')!;
      const runtime = await startTestRuntime({ ...signatureEnv(signed), modelUri: `${base}/${basename(signed.model)}`, modelCacheDir: join(dir, 'cache') });
      try {
        expect((await getJson(`${runtime.url}/v2/health/ready`)).status).to.equal(200);
      } finally {
        await runtime.close();
      }
    });

    it('refuses when the signature URL answers 404', async () => {
      const { signed } = cases.get('no signature next to the model')!;
      const error = await startTestRuntime({ ...signatureEnv(signed), modelUri: `${base}/${basename(signed.model)}`, modelCacheDir: join(dir, 'cache') }).then(
        async (runtime) => { await runtime.close(); return undefined; },
        (failure: unknown) => failure,
      );
      expect(error).to.be.instanceOf(ModelSignatureError).and.to.include({ failure: 'missing' });
      expect((error as Error).message).to.match(/cannot download http:\/\/127\.0\.0\.1:\d+\/unsigned\.onnx\.sig: HTTP 404$/);
    });
  });

  it('a signature required but the trust file not given is a configuration error (exit 2)', async () => {
    const runtime = spawnRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelSignatureMethod: 'key' });
    expect(await runtime.exited()).to.equal(2);
    expect(runtime.lines[0]?.msg).to.match(/MODELSHIP_MODEL_SIGNATURE_TRUST_FILE is required with MODELSHIP_MODEL_SIGNATURE_METHOD=key/);
  });

  it("the real CLI's verify agrees with the runtime on every case", async () => {
    for (const [name, { signed, outcome }] of cases) {
      const trustFlag = signed.method === 'key' ? '--public_key' : '--certificate_chain';
      const verdict = await run(cli, ['verify', signed.method, '--signature', signed.signature, trustFlag, signed.trust, signed.model], { timeout: 120_000 })
        .then(() => 'verified', () => 'refused');
      expect(verdict, name).to.equal(outcome === 'serves' ? 'verified' : 'refused');
    }
  });
});
