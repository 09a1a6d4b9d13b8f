import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFetchError, resolveModelFile, sha256OfFile } from '../../runtime/model/fetch.ts';
import { closedPort, getJson, modelPath, startTestRuntime } from './helpers.ts';

const FRAUD = modelPath('fraud-fp32.onnx');

/** Serves one file on 127.0.0.1 and counts downloads. */
async function serveFile(path: string): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  const bytes = await readFile(path);
  let hits = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/private/fraud.onnx' && req.headers.authorization !== 'Bearer s3cr3t') {
      res.statusCode = 401;
      res.end();
      return;
    }
    if (req.url !== '/models/fraud.onnx' && req.url !== '/private/fraud.onnx') {
      res.statusCode = 404;
      res.end();
      return;
    }
    hits++;
    res.setHeader('content-type', 'application/octet-stream');
    res.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('runtime: model loading from a path or URL, with sha256 verification', () => {
  let cacheDir: string;
  let origin: Awaited<ReturnType<typeof serveFile>>;
  let digest: string;

  before(async () => {
    digest = await sha256OfFile(FRAUD);
    origin = await serveFile(FRAUD);
  });
  beforeEach(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'modelship-cache-'));
  });
  afterEach(() => rm(cacheDir, { recursive: true, force: true }));
  after(() => origin.close());

  it('verifies a local file against its digest', async () => {
    expect(await resolveModelFile(FRAUD, cacheDir, digest)).to.equal(FRAUD);
    const wrong = 'f'.repeat(64);
    await resolveModelFile(FRAUD, cacheDir, wrong).then(
      () => expect.fail('a wrong digest must be refused'),
      (error: Error) => {
        expect(error).to.be.instanceOf(ModelFetchError);
        expect(error.message).to.equal(`sha256 mismatch for ${FRAUD}: expected ${wrong}, got ${digest}`);
      },
    );
  });

  it('downloads an http URL once into the cache and serves it', async () => {
    const before = origin.hits();
    const runtime = await startTestRuntime({
      modelUri: `${origin.url}/models/fraud.onnx`, modelSha256: digest, modelCacheDir: cacheDir, modelName: 'fraud',
    });
    try {
      expect((await getJson(`${runtime.url}/v2/models/fraud`)).status).to.equal(200);
    } finally {
      await runtime.close();
    }
    expect(await readdir(cacheDir)).to.deep.equal([`${digest}.onnx`]);
    const again = await startTestRuntime({ modelUri: `${origin.url}/models/fraud.onnx`, modelSha256: digest, modelCacheDir: cacheDir });
    await again.close();
    expect(origin.hits() - before, 'downloads').to.equal(1);
  });

  it('sends MODELSHIP_MODEL_DOWNLOAD_TOKEN as a bearer token with the download (a registry behind auth)', async () => {
    const uri = `${origin.url}/private/fraud.onnx`;
    const refused = await startTestRuntime({ modelUri: uri, modelSha256: digest, modelCacheDir: cacheDir }).catch((e: Error) => e);
    expect((refused as Error).message).to.equal(`cannot download model from ${uri}: HTTP 401`);
    const runtime = await startTestRuntime({ modelUri: uri, modelSha256: digest, modelCacheDir: cacheDir, modelName: 'fraud', modelDownloadToken: 's3cr3t' });
    try {
      expect((await getJson(`${runtime.url}/v2/models/fraud`)).status).to.equal(200);
    } finally {
      await runtime.close();
    }
  });

  it('refuses a download whose digest does not match, and leaves no cache entry', async () => {
    const error = await resolveModelFile(`${origin.url}/models/fraud.onnx`, cacheDir, '0'.repeat(64)).catch((e: Error) => e);
    expect(error).to.be.instanceOf(ModelFetchError);
    expect((error as Error).message).to.match(/^sha256 mismatch/);
    expect(await readdir(cacheDir)).to.deep.equal([]);
  });

  it('reports HTTP errors and unreachable hosts clearly', async () => {
    const missing = await resolveModelFile(`${origin.url}/models/none.onnx`, cacheDir).catch((e: Error) => e);
    expect((missing as Error).message).to.match(/cannot download model from .*: HTTP 404/);
    const url = `http://127.0.0.1:${await closedPort()}/model.onnx`;
    const unreachable = await resolveModelFile(url, cacheDir).catch((e: Error) => e);
    expect((unreachable as Error).message).to.equal(`cannot download model from ${url}: fetch failed: connect ECONNREFUSED ${url.slice(7, -11)}`);
    expect(await readdir(cacheDir)).to.deep.equal([]);
  });

  it('startRuntime rejects a model that cannot be served, with one clear reason', async () => {
    const error = await startTestRuntime({ modelUri: modelPath('SHA256SUMS') }).catch((e: Error) => e);
    expect((error as Error).message).to.match(/^invalid model .*SHA256SUMS: /);
  });
});
