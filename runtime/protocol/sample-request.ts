import type { ModelSignature } from '../model/signature.ts';

/**
 * A valid V2 JSON request for the signature: `rows` rows where the model batches (every other
 * dynamic dim 1), every number `value` (0.5 by default: written with digits and a fraction, as
 * clients' numbers are), every string empty.
 */
export function sampleRequestBody(signature: ModelSignature, rows = 1, value = 0.5): Buffer {
  const inputs = signature.inputs.map(({ name, datatype, shape }) => {
    const dims = shape.map((dim, i) => (dim >= 0 ? dim : i === 0 && signature.batchable ? rows : 1));
    const zero = datatype === 'BYTES' ? '' : datatype === 'BOOL' ? false : datatype.startsWith('FP') ? value : Math.round(value);
    return { name, datatype, shape: dims, data: new Array<string | boolean | number>(dims.reduce((a, b) => a * b, 1)).fill(zero) };
  });
  return Buffer.from(JSON.stringify({ inputs }));
}
