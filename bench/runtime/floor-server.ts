import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

/**
 * The floor: the least a Node HTTP server can do per request. It reads the whole body and answers a
 * fixed JSON body (the runtime's own answer to the same request, so both write as many bytes);
 * no parsing, no model. Whatever Node's HTTP stack costs, every Node server pays at least this.
 *   FLOOR_RESPONSE_FILE=path FLOOR_PORT=port node bench/runtime/floor-server.ts
 */
const body = readFileSync(process.env.FLOOR_RESPONSE_FILE ?? '');
const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.listen(Number(process.env.FLOOR_PORT ?? 0), '127.0.0.1', () => console.log('ready'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
