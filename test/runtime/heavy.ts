import { request } from 'node:http';
import { seededFloats } from './helpers.ts';

/** A wide-MLP request with `rows` rows in the binary extension (cheap to send, slow to run when large). */
export function heavyRequest(rows: number, seed: number): { body: Buffer; headerLength: number } {
  const features = Buffer.from(new Float32Array(seededFloats(seed, rows * 64, 2)).buffer);
  const header = Buffer.from(JSON.stringify({
    id: `heavy-${seed}`,
    inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 64], parameters: { binary_data_size: features.length } }],
    outputs: [{ name: 'label' }],
  }));
  return { body: Buffer.concat([header, features]), headerLength: header.length };
}

export interface HeavyResponse { status: number; id?: string; connection: string | null }

/** POSTs a heavy binary request; `sent` settles once the whole body has been handed to the socket. */
export function sendHeavy(url: string, rows: number, seed: number): { sent: Promise<void>; response: Promise<HeavyResponse> } {
  const { body, headerLength } = heavyRequest(rows, seed);
  let markSent: () => void = () => {};
  const sent = new Promise<void>((resolve) => (markSent = resolve));
  const response = new Promise<HeavyResponse>((resolve, reject) => {
    const req = request(`${url}/v2/models/wide/infer`, {
      method: 'POST',
      headers: { 'content-length': body.length, 'inference-header-content-length': String(headerLength) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: string };
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection ?? null, ...(json.id ? { id: json.id } : {}) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body, markSent);
  });
  return { sent, response };
}
