import { expect } from 'chai';
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { closedPort, fraudRequest, modelPath } from './helpers.ts';
import { spawnRuntime, type RuntimeProcess } from './process.ts';
import { requestHead, residentBytes, sendRaw, type RawOutcome } from './raw-http.ts';

const MAX_BODY_BYTES = 1 << 20;
// The headers timeout is left at its default (10 s): the runtime caps it at the request timeout.
const REQUEST_TIMEOUT_MS = 1500;
/** A verdict (answer or close) must come long before this; past it the case counts as a hang. */
const HANG_MS = 10 * REQUEST_TIMEOUT_MS;
const RSS_GROWTH_BOUND = 256 * 1024 * 1024;
const V2_TYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;

/** One hostile request: method, path, headers (lies included) and body bytes. */
interface Attack {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | number>;
  readonly body: Uint8Array;
}

const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value), 'utf8');
const inferPath = (model: string) => `/v2/models/${model}/infer`;
const bodyAttack = (model: string, body: Uint8Array): Attack => ({
  method: 'POST', path: inferPath(model), headers: { 'Content-Type': 'application/json', 'Content-Length': body.length }, body,
});
const jsonAttack = (model: string, request: unknown): Attack => bodyAttack(model, json(request));

const awkwardInt = fc.oneof(
  fc.integer({ min: -3, max: 40 }),
  fc.constantFrom(-1, 2 ** 31, 2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER, 2 ** 53, 1e300, -(2 ** 53)),
  fc.double(),
);
const awkwardShape = fc.oneof(fc.array(awkwardInt, { maxLength: 6 }), fc.jsonValue());
const awkwardDatatype = fc.oneof(fc.constantFrom(...V2_TYPES, 'BF16', 'fp32', 'FLOAT', ''), fc.string(), fc.integer());
const awkwardData = fc.oneof(
  fc.array(fc.oneof(fc.double(), fc.integer(), fc.boolean(), fc.string()), { maxLength: 80 }),
  fc.array(fc.array(fc.double({ noNaN: true }), { maxLength: 40 }), { maxLength: 4 }),
  fc.jsonValue(),
);

/** A valid request for the model with one field of one tensor replaced by something awkward. */
function mutatedTensor(valid: () => Record<string, unknown>) {
  return fc.record({
    field: fc.constantFrom('name', 'datatype', 'shape', 'data', 'parameters', 'drop', 'duplicate'),
    datatype: awkwardDatatype,
    shape: awkwardShape,
    data: awkwardData,
    name: fc.oneof(fc.string(), fc.constant('features')),
    parameters: fc.oneof(fc.jsonValue(), fc.record({ binary_data_size: awkwardInt })),
    id: fc.option(fc.oneof(fc.string(), fc.jsonValue()), { nil: undefined }),
    outputs: fc.option(fc.oneof(fc.jsonValue(), fc.array(fc.record({ name: fc.oneof(fc.string(), fc.constantFrom('label', 'probabilities')) }))), { nil: undefined }),
  }).map((m) => {
    const request = valid();
    const inputs = request.inputs as Array<Record<string, unknown>>;
    const first = inputs[0] as Record<string, unknown>;
    if (m.field === 'drop') inputs.shift();
    else if (m.field === 'duplicate') inputs.push({ ...first });
    else first[m.field] = m[m.field as 'name' | 'datatype' | 'shape' | 'data' | 'parameters'];
    return { ...request, ...(m.id !== undefined ? { id: m.id } : {}), ...(m.outputs !== undefined ? { outputs: m.outputs } : {}) };
  });
}

/** Binary tensor data extension requests whose sizes (header length, binary_data_size, tail) disagree. */
function lyingBinary(model: string) {
  return fc.record({
    rows: fc.integer({ min: 0, max: 3 }),
    declaredSize: fc.oneof(awkwardInt, fc.constant('120')),
    tailBytes: fc.integer({ min: 0, max: 600 }),
    headerLength: fc.oneof(fc.constant('exact'), fc.constant('missing'), fc.integer({ min: -10, max: 2000 }), fc.constantFrom('abc', '1e3', ' 12', '99999999999999999999', '-0')),
    binaryOutput: fc.boolean(),
  }).map(({ rows, declaredSize, tailBytes, headerLength, binaryOutput }): Attack => {
    const header = json({
      inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 30], parameters: { binary_data_size: declaredSize } }],
      parameters: { binary_data_output: binaryOutput },
    });
    const body = Buffer.concat([header, Buffer.alloc(tailBytes, 7)]);
    const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length };
    if (headerLength !== 'missing') headers['Inference-Header-Content-Length'] = headerLength === 'exact' ? header.length : headerLength;
    return { method: 'POST', path: inferPath(model), headers, body };
  });
}

function bodyOnInfer(model: string, body: fc.Arbitrary<Uint8Array>, extraHeaders: fc.Arbitrary<Record<string, string>> = fc.constant({})) {
  return fc.tuple(body, extraHeaders).map(([bytes, extra]): Attack => {
    const attack = bodyAttack(model, bytes);
    return { ...attack, headers: { ...attack.headers, ...extra } };
  });
}

/** Paths and methods for models, versions and routes that do not exist (or only almost). */
const strayRoutes = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
  model: fc.oneof(fc.constantFrom('fraud', 'fraudx', 'FRAUD', '..', '%2e%2e', '%zz', '%'), fc.string({ minLength: 1 }).map(encodeURIComponent)),
  version: fc.option(fc.oneof(fc.constantFrom('1', '2', '01', '%ff', ''), fc.string().map(encodeURIComponent)), { nil: undefined }),
  suffix: fc.constantFrom('', '/ready', '/infer', '/infer/', '/metadata', '/../infer'),
}).map(({ method, model, version, suffix }): Attack => ({
  method,
  path: `/v2/models/${model}${version !== undefined ? `/versions/${version}` : ''}${suffix}`,
  headers: { 'Content-Type': 'application/json', 'Content-Length': 2 },
  body: Buffer.from('{}'),
}));

function fraudAttacks(): fc.Arbitrary<Attack> {
  const valid = () => fraudRequest(1, 3);
  return fc.oneof(
    bodyOnInfer('fraud', fc.uint8Array({ maxLength: 3000 })),
    bodyOnInfer('fraud', fc.string({ maxLength: 400 }).map((text) => Buffer.from(text, 'utf8'))),
    bodyOnInfer('fraud', fc.jsonValue().map(json)),
    bodyOnInfer('fraud', mutatedTensor(valid).map(json)),
    bodyOnInfer('fraud', fc.integer({ min: 1, max: 200_000 }).map((depth) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`))
      .map((nested) => Buffer.concat([Buffer.from('{"inputs":[{"name":"features","datatype":"FP32","shape":[1,30],"data":'), nested, Buffer.from('}]}')]))),
    bodyOnInfer('fraud', fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)), fc.constantFrom({ 'Content-Encoding': 'gzip' }, { 'Content-Encoding': 'deflate' }, { 'Content-Encoding': 'br' })),
    bodyOnInfer('fraud', fc.constant(gzipSync(Buffer.alloc(4 * MAX_BODY_BYTES, 0x20))), fc.constant({ 'Content-Encoding': 'gzip' })),
    fc.integer({ min: MAX_BODY_BYTES + 1, max: 64 * MAX_BODY_BYTES }).map((declared): Attack => ({
      method: 'POST', path: inferPath('fraud'), headers: { 'Content-Type': 'application/json', 'Content-Length': declared }, body: Buffer.from('{"inputs":['),
    })),
    lyingBinary('fraud'),
    strayRoutes,
  );
}

function identityAttacks(): fc.Arbitrary<Attack> {
  const valid = () => ({
    inputs: V2_TYPES.map((datatype) => ({
      name: `in_${datatype}`, datatype, shape: [1, 2],
      data: datatype === 'BOOL' ? [true, false] : datatype === 'BYTES' ? ['a', 'b'] : [1, 2],
    })),
  });
  const retyped = fc.record({
    which: fc.constantFrom(...V2_TYPES),
    change: fc.oneof(
      awkwardDatatype.map((datatype) => ({ datatype })),
      awkwardShape.map((shape) => ({ shape })),
      awkwardData.map((data) => ({ data })),
      fc.tuple(awkwardShape, awkwardData).map(([shape, data]) => ({ shape, data })),
    ),
  }).map(({ which, change }) => {
    const request = valid();
    Object.assign(request.inputs.find((tensor) => tensor.datatype === which) as object, change);
    return request;
  });
  return fc.oneof(bodyOnInfer('identity', retyped.map(json)), bodyOnInfer('identity', mutatedTensor(valid).map(json)));
}

/** Cases that broke the runtime once (each was a 500 before its fix), always run first. */
const FRAUD_REGRESSIONS: Attack[] = [
  jsonAttack('fraud', { inputs: [{ name: 'features', datatype: 'FP32', shape: [0, 30], data: [] }] }),
  bodyAttack('fraud', Buffer.from(`{"inputs":[{"name":"features","datatype":"FP32","shape":[1,30],"data":${'['.repeat(20_000)}${']'.repeat(20_000)}}]}`)),
  { method: 'GET', path: '/v2/models/%zz', headers: {}, body: new Uint8Array() },
  { method: 'GET', path: '/v2/models/fraud/versions/%ff/ready', headers: {}, body: new Uint8Array() },
];
const IDENTITY_REGRESSIONS: Attack[] = [[0, 2 ** 40], [2 ** 40, 0], [Number.MAX_SAFE_INTEGER, 0], [1, 0]].map((shape) => jsonAttack('identity', {
  inputs: V2_TYPES.map((datatype) => ({ name: `in_${datatype}`, datatype, shape, data: [] })),
}));

/** A verdict is acceptable when it is a 4xx JSON error with a message, or a correct 200. */
function checkVerdict(attack: Attack, outcome: RawOutcome): number {
  const what = `${attack.method} ${attack.path} ${JSON.stringify(attack.headers)} ${Buffer.from(attack.body).subarray(0, 300).toString('utf8')}`;
  expect(outcome.kind, `no HTTP answer for ${what}`).to.equal('answer');
  if (outcome.kind !== 'answer') return 0;
  const { status, headers, body } = outcome;
  expect(status, `${what} -> ${body.toString('utf8').slice(0, 300)}`).to.be.within(200, 499);
  if (status === 200) {
    // Mutations can leave a request valid; then it must be a proper V2 answer.
    const length = Number(headers['inference-header-content-length'] ?? body.length);
    expect((JSON.parse(body.subarray(0, length).toString('utf8')) as { outputs?: unknown }).outputs, what).to.be.an('array');
    return status;
  }
  expect(status, what).to.be.at.least(400);
  expect(headers['content-type'], what).to.match(/^application\/json/);
  const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown };
  expect(parsed.error, what).to.be.a('string').and.not.equal('');
  return status;
}

async function fire(runtime: RuntimeProcess, port: number, attack: Attack): Promise<RawOutcome> {
  // The connection stays open for the answer: node:http takes a half-close (FIN) as the client leaving.
  const outcome = await sendRaw(port, [requestHead(attack.method, attack.path, attack.headers), attack.body], { after: 'keep-open', deadlineMs: HANG_MS });
  // Let a crash, if this case caused one, show as the process's exit rather than as the next case's failure.
  await new Promise((resolve) => setImmediate(resolve));
  expect(runtime.child.exitCode, `the runtime exited: ${runtime.stderrTail()}`).to.equal(null);
  return outcome;
}

async function startProcess(model: string, file: string): Promise<{ runtime: RuntimeProcess; port: number }> {
  const port = await closedPort();
  const runtime = spawnRuntime({
    modelUri: modelPath(file), modelName: model, port: String(port), logLevel: 'info', maxBatchSize: '16',
    maxBodyBytes: String(MAX_BODY_BYTES), requestTimeoutMs: String(REQUEST_TIMEOUT_MS),
  });
  await runtime.waitForLog((line) => line.msg === 'model ready');
  return { runtime, port };
}

async function goodAnswer(port: number): Promise<unknown> {
  const body = json(fraudRequest(2, 42, { id: 'good' }));
  const outcome = await sendRaw(port, [requestHead('POST', inferPath('fraud'), { 'Content-Type': 'application/json', 'Content-Length': body.length }), body], { deadlineMs: HANG_MS });
  expect(outcome.kind === 'answer' && outcome.status).to.equal(200);
  return outcome.kind === 'answer' ? JSON.parse(outcome.body.toString('utf8')) : undefined;
}

describe('runtime process under hostile input (fast-check over real HTTP, fraud model)', function () {
  this.timeout(240_000);
  let runtime: RuntimeProcess;
  let port: number;
  let reference: unknown;
  let rssBefore: number;

  before(async () => {
    ({ runtime, port } = await startProcess('fraud', 'fraud-fp32.onnx'));
    reference = await goodAnswer(port);
    rssBefore = await residentBytes(runtime.child.pid as number);
  });
  after(async () => {
    if (!runtime) return;
    runtime.child.kill('SIGTERM');
    expect(await runtime.exited(), 'exit code after SIGTERM').to.equal(0);
  });

  it('answers every malformed, lying or stray request with a 4xx JSON error, never a 5xx or a hang', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fraudAttacks(), async (attack) => {
        const status = checkVerdict(attack, await fire(runtime, port, attack));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }),
      { examples: FRAUD_REGRESSIONS.map((attack) => [attack]), numRuns: Number(process.env.FUZZ_RUNS ?? 300), interruptAfterTimeLimit: Number(process.env.FUZZ_TIME_LIMIT_MS ?? 40_000), seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), verbose: 1 },
    );
    // The generators reach every refusal the protocol has, not just one.
    if (process.env.FUZZ_RUNS) console.log('fuzz statuses', JSON.stringify([...statuses]));
    for (const status of [400, 404, 413]) expect(statuses.get(status) ?? 0, `answers with ${status} among ${JSON.stringify([...statuses])}`).to.be.greaterThan(0);
  });

  it('a truncated body (the client half-closes early) gets a 4xx JSON error', async () => {
    const body = json(fraudRequest(4, 9));
    for (const cut of [0, 1, 17, body.length - 1]) {
      const outcome = await sendRaw(port, [requestHead('POST', inferPath('fraud'), { 'Content-Type': 'application/json', 'Content-Length': body.length }), body.subarray(0, cut)], { after: 'half-close', deadlineMs: HANG_MS });
      checkVerdict({ method: 'POST', path: 'truncated', headers: {}, body: body.subarray(0, cut) }, outcome);
    }
  });

  it('slow-loris clients (headers or body trickled, or silent) get 408 and lose the connection, and others are served meanwhile', async () => {
    const body = json(fraudRequest(1, 5));
    const head = requestHead('POST', inferPath('fraud'), { 'Content-Type': 'application/json', 'Content-Length': body.length });
    const trickledHeaders = Array.from({ length: 200 }, (_, i) => head.slice(i, i + 1));
    const trickledBody = [head, ...Array.from({ length: 200 }, (_, i) => body.subarray(i, i + 1))];
    const slow = [
      ...Array.from({ length: 15 }, () => sendRaw(port, trickledHeaders, { pauseMs: 100, after: 'keep-open', deadlineMs: HANG_MS })),
      ...Array.from({ length: 15 }, () => sendRaw(port, trickledBody, { pauseMs: 100, after: 'keep-open', deadlineMs: HANG_MS })),
      ...Array.from({ length: 15 }, () => sendRaw(port, [head, body.subarray(0, body.length - 3)], { after: 'keep-open', deadlineMs: HANG_MS })),
      ...Array.from({ length: 15 }, () => sendRaw(port, [], { after: 'keep-open', deadlineMs: HANG_MS })),
    ];
    expect(await goodAnswer(port), 'a good request while 60 slow clients hold connections').to.deep.equal(reference);
    const outcomes = await Promise.all(slow);
    outcomes.forEach((outcome, i) => {
      // A silent connection has sent no request to answer; it is just closed.
      if (i >= 45 && outcome.kind === 'closed') return;
      expect(outcome.kind === 'answer' && outcome.status, `slow client ${i}`).to.equal(408);
      if (outcome.kind === 'answer') expect(JSON.parse(outcome.body.toString('utf8'))).to.have.property('error').that.matches(/too long/);
    });
  });

  it('is still alive, still correct, and its memory stayed bounded', async () => {
    expect(runtime.child.exitCode, 'the runtime process exited').to.equal(null);
    expect(await goodAnswer(port)).to.deep.equal(reference);
    const rssAfter = await residentBytes(runtime.child.pid as number);
    expect(rssAfter - rssBefore, `RSS ${rssBefore} -> ${rssAfter} bytes`).to.be.lessThan(RSS_GROWTH_BOUND);
    expect(runtime.lines.filter((line) => (line.level as number) >= 50), 'error or fatal log lines').to.deep.equal([]);
  });
});

describe('runtime process under hostile input (fast-check over real HTTP, all-types identity model)', function () {
  this.timeout(120_000);
  let runtime: RuntimeProcess;
  let port: number;
  before(async () => {
    ({ runtime, port } = await startProcess('identity', 'all-types-identity.onnx'));
  });
  after(async () => {
    if (!runtime) return;
    runtime.child.kill('SIGTERM');
    expect(await runtime.exited()).to.equal(0);
  });

  it('answers wrong datatypes, shapes and data for every V2 type with a 4xx JSON error or a correct answer', async () => {
    await fc.assert(
      fc.asyncProperty(identityAttacks(), async (attack) => {
        checkVerdict(attack, await fire(runtime, port, attack));
      }),
      { examples: IDENTITY_REGRESSIONS.map((attack) => [attack]), numRuns: Number(process.env.FUZZ_RUNS ?? 200), interruptAfterTimeLimit: Number(process.env.FUZZ_TIME_LIMIT_MS ?? 30_000), seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), verbose: 1 },
    );
    expect(runtime.child.exitCode).to.equal(null);
    expect(runtime.lines.filter((line) => (line.level as number) >= 50), 'error or fatal log lines').to.deep.equal([]);
  });
});
