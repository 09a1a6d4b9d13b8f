import { sampleShape, type ModelSignature } from '../model/signature.ts';

/** Every float of a sample: written with digits and a fraction, as clients' numbers are. */
const SAMPLE_FLOAT = 0.5;

/**
 * A valid V2 JSON request for the signature: `rows` rows where the model batches (every other
 * dynamic dim 1), every float 0.5, every integer 0, every string empty.
 */
export function sampleRequestBody(signature: ModelSignature, rows = 1): Buffer {
  const inputs = signature.inputs.map((spec) => {
    const { name, datatype } = spec;
    const dims = sampleShape(spec, signature, rows);
    // Integers stay 0: a model may index with them (the load-time run has shown that 0 works).
    const element = datatype === 'BYTES' ? '' : datatype === 'BOOL' ? false : datatype.startsWith('FP') ? SAMPLE_FLOAT : 0;
    return { name, datatype, shape: dims, data: new Array<string | boolean | number>(dims.reduce((a, b) => a * b, 1)).fill(element) };
  });
  return Buffer.from(JSON.stringify({ inputs }));
}
