/**
 * The real inputs every inference bench sends, so that no bench measures a uniform image on a fast path:
 * - benchPhoto(): a 640x480 JPEG with one face (Grace Hopper's portrait, padded with grey);
 * - realCrops(): the aligned 48x48 grayscale crops (PNG) of every face the service's default detector finds on the
 *   8 real test photos (infra/photos.ts), made by the service's own code: the exact bytes a client that crops
 *   faces itself would post to `?detect=false`, and the faces the model sees.
 * Both come from packages fetched at run time (infra/photos.ts), nothing is committed.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { getPhotos } from '../infra/photos';
import { FACE_SIZE } from '../lib/labels';
import { facesToTensorData } from '../lib/preprocess';
import { loadConfig } from '../services/inference/config';
import { decodeGray } from '../services/inference/runtime/decode';
import { closeFaceEngine, createFaceEngine, faceSetup, findFaces } from '../services/inference/runtime/faces';

export async function benchPhoto(): Promise<Buffer> {
  // Two pipelines: sharp applies resize before extend within one, whatever the call order.
  const portrait = await sharp(readFileSync(getPhotos().graceHopper)).resize({ height: 480 }).toBuffer(); // 410x480
  const jpeg = await sharp(portrait).extend({ left: 115, right: 115, background: '#808080' }).jpeg({ quality: 90 }).toBuffer();
  const meta = await sharp(jpeg).metadata();
  if (meta.width !== 640 || meta.height !== 480) throw new Error(`bench photo is ${meta.width}x${meta.height}, expected 640x480`);
  return jpeg;
}

let crops: Promise<Buffer[]> | undefined;

/** PNG crops of the faces in the 8 test photos, in photo order; computed once per process. */
export function realCrops(): Promise<Buffer[]> {
  crops ??= (async () => {
    const photos = getPhotos();
    const engine = await createFaceEngine(faceSetup(loadConfig({})));
    try {
      const out: Buffer[] = [];
      for (const file of [photos.graceHopper, photos.astronaut, ...photos.samples]) {
        const found = await findFaces(await decodeGray(readFileSync(file), 40e6), engine, true);
        for (const face of found.faces) {
          out.push(await sharp(Buffer.from(face.pixels), { raw: { width: FACE_SIZE, height: FACE_SIZE, channels: 1 } }).png().toBuffer());
        }
      }
      if (out.length < 20) throw new Error(`only ${out.length} faces found on the test photos; expected about 24`);
      return out;
    } finally {
      await closeFaceEngine(engine);
    }
  })();
  return crops;
}

/** The crops decoded to the model's float input, as lib/preprocess packs them for the model. */
export async function realCropTensors(): Promise<Float32Array[]> {
  return Promise.all((await realCrops()).map(async (png) => facesToTensorData([new Uint8Array(await sharp(png).toColourspace('b-w').raw().toBuffer())])));
}

if (require.main === module) {
  realCrops().then((cs) => {
    const sizes = cs.map((c) => c.length).sort((a, b) => a - b);
    console.log(`${cs.length} crops, PNG bytes min ${sizes[0]} median ${sizes[sizes.length >> 1]} max ${sizes[sizes.length - 1]}`);
  });
}
