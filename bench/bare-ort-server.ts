/**
 * The least an HTTP server can do to classify a crop: node:http, read the body, one session.run() on a fixed face
 * (the body is not decoded), answer the logits as JSON. bench/inference-http.ts runs it as a child process beside
 * the service, as the ceiling any Node HTTP server reaches on the machine: it separates what HTTP itself costs
 * (client and server sharing the cores, a round trip per request) from what the service adds.
 *   node --import tsx bench/bare-ort-server.ts <model.onnx> <intra-op threads>   -> prints the port
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ort from 'onnxruntime-node';
import { FACE_PIXELS, MODEL_INPUT_NAME, MODEL_OUTPUT_NAME } from '../lib/preprocess';
import { ortSessionOptions } from '../lib/onnx/classifier-session';

async function main(): Promise<void> {
  const [modelFile, threads] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(modelFile, ortSessionOptions(Number(threads)));
  const face = new ort.Tensor('float32', new Float32Array(FACE_PIXELS).fill(0.5), [1, 1, 48, 48]);
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
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
