import { parseArgs } from 'node:util';
import type { V2Datatype } from '../../runtime/model/datatypes.ts';
import type { ModelSignature } from '../../runtime/model/signature.ts';
import { decodeInferRequest } from '../../runtime/protocol/infer-request.ts';
import { convImages, ensureConvModels, jsonImageBody, ROW_SHAPE } from './conv-images.ts';

/**
 * Decode time of one conv image sent as V2 JSON (about 540 KB), in one process, side by side:
 * decodeInferRequest with the JSON tensor fast path (runtime/protocol/json-tensors.ts) and without it
 * (JSON.parse of the whole body), for FP32 and FP64.
 *   npm run bench:json-decode -- [--rounds 200]
 */
const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '200' } } });
const rounds = Number(args.rounds);

function signature(datatype: V2Datatype): ModelSignature {
  return {
    inputs: [{ name: 'image', datatype, shape: [-1, ...ROW_SHAPE] }],
    outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }],
    batchable: true,
  };
}

/** Median ms per body over `rounds` decodes by each path, the bodies taken in turn. */
function compare(bodies: Buffer[], datatype: V2Datatype): { fast: number; parse: number } {
  const model = signature(datatype);
  const fast: number[] = [];
  const parse: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const body = bodies[round % bodies.length] as Buffer;
    // Which path goes first alternates, so neither always pays for the other's garbage.
    const timed = (fastPath: boolean, into: number[]) => {
      const started = performance.now();
      const data = decodeInferRequest(body, undefined, model, { jsonFastPath: fastPath }).inputs.image?.data as ArrayLike<unknown>;
      into.push(performance.now() - started);
      return data;
    };
    const [viaFast, viaParse] = round % 2 ? [timed(true, fast), timed(false, parse)] : [undefined, timed(false, parse)];
    const fastData = viaFast ?? timed(true, fast);
    if (round < bodies.length) {
      for (let i = 0; i < viaParse.length; i++) {
        if (!Object.is(fastData[i], viaParse[i])) throw new Error(`${datatype}: element ${i} differs: ${String(fastData[i])} vs ${String(viaParse[i])}`);
      }
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return { fast: median(fast), parse: median(parse) };
}

await ensureConvModels();
const images = convImages(16);
const fp32 = images.map(jsonImageBody);
const fp64 = fp32.map((body) => Buffer.from(body.toString('utf8').replace('"FP32"', '"FP64"')));
const lines = [
  `node ${process.version}, ${rounds} decodes per path, median; one 3x48x192 image per body (~${Math.round((fp32[0]?.length ?? 0) / 1024)} KB), bodies as JSON.stringify writes them.`,
  '', '| datatype | fast path ms/image | JSON.parse path ms/image | speed-up |', '|---|---:|---:|---:|',
];
for (const [datatype, bodies] of [['FP32', fp32], ['FP64', fp64]] as const) {
  const { fast, parse } = compare(bodies, datatype);
  lines.push(`| ${datatype} | ${fast.toFixed(2)} | ${parse.toFixed(2)} | ${(parse / fast).toFixed(1)}x |`);
}
console.log(lines.join('\n'));
