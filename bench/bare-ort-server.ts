/**
 * The least an HTTP server can do to classify a crop: node:http, read the body, one session.run() on a fixed face
 * (the body is not decoded), answer the logits as JSON. bench/inference-http.ts runs it as a child process beside
 * the service, as the ceiling any Node HTTP server reaches on the machine: it separates what HTTP itself costs
 * (client and server sharing the cores, a round trip per request) from what the service adds.
 * With `decode`, it classifies the crop it is sent instead: the body's PNG decoded by the service's own fast decoder
 * (png-gray.ts, the quickest here) into the model's input. That is the least a server that reads its input does, so
 * it shows how much of the service's gap to the ceiling is the decode and the real pixels, and how much is the rest.
 *   node --import tsx bench/bare-ort-server.ts <model.onnx> <intra-op threads> [decode]   -> prints the port
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ort from 'onnxruntime-node';
import { FACE_PIXELS, facesToTensorData, MODEL_INPUT_NAME, MODEL_OUTPUT_NAME } from '../lib/preprocess';
import { ortSessionOptions } from '../lib/onnx/classifier-session';
import { decodePlainGrayPng } from '../services/inference/runtime/png-gray';

async function main(): Promise<void> {
  const [modelFile, threads, mode] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(modelFile, ortSessionOptions(Number(threads)));
  const fixed = new ort.Tensor('float32', new Float32Array(FACE_PIXELS).fill(0.5), [1, 1, 48, 48]);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => mode === 'decode' && chunks.push(chunk));
    req.on('end', async () => {
      let face = fixed;
      if (mode === 'decode') {
        const gray = decodePlainGrayPng(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
        if (gray?.data.length !== FACE_PIXELS) return void res.writeHead(400).end();
        face = new ort.Tensor('float32', facesToTensorData([gray.data]), [1, 1, 48, 48]);
      }
      const out = await session.run({ [MODEL_INPUT_NAME]: face });
      const body = JSON.stringify({ logits: Array.from(out[MODEL_OUTPUT_NAME].data as Float32Array) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.listen(0, '127.0.0.1', () => console.log((server.address() as AddressInfo).port));
  // An orderly exit on the bench's SIGTERM, so that a --cpu-prof run writes its profile (a signal's death does not).
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
