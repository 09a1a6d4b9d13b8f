import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { ROOT } from './servers.ts';

/** The conv classifier's models and sample images (bench/runtime/build_conv_model.py), built on first use. */
export const CONV_MODELS = `${ROOT}.cache/bench-models`;
export const ROW_SHAPE = [3, 48, 192] as const;
export const ROW = ROW_SHAPE.reduce((a, b) => a * b, 1);

export async function ensureConvModels(): Promise<void> {
  if (existsSync(`${CONV_MODELS}/conv-int8.onnx`)) return;
  const run = promisify(execFile);
  const python = (await run('bash', [`${ROOT}test/runtime/ensure-python.sh`])).stdout.trim();
  await run(python, [`${ROOT}bench/runtime/build_conv_model.py`, CONV_MODELS]);
}

/** The first `count` sample images, one FP32 3x48x192 image each. */
export function convImages(count: number): Float32Array[] {
  const samples = new Float32Array(readFileSync(`${CONV_MODELS}/conv-samples.f32`).buffer.slice(0));
  return Array.from({ length: count }, (_, i) => samples.subarray(i * ROW, (i + 1) * ROW));
}

/** One image as a V2 JSON inference request body (about 540 KB). */
export function jsonImageBody(image: Float32Array): Buffer {
  return Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, ...ROW_SHAPE], data: Array.from(image) }] }));
}
