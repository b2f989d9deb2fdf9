import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { getPhotos } from '../../infra/photos';
import { loadConfig } from '../../services/inference/config';
import { decodeGray } from '../../services/inference/runtime/decode';
import { intersectionOverUnion } from '../../services/inference/runtime/detectors/boxes';
import { loadFaceVerifier, VERIFY_INPUT } from '../../services/inference/runtime/face-verifier';
import { closeFaceEngine, createFaceEngine, faceSetup, findFaces } from '../../services/inference/runtime/faces';
import { labelsFor, photoLabels, rotatePhoto } from '../helpers/photo-labels';

/** The face verifier (MTCNN's O-Net) that drops the CNN detector's boxes holding no face. */
describe('face verifier', () => {
  it('when the converted model file is missing or is another net, then loading says so', async () => {
    await assert.rejects(loadFaceVerifier('/nonexistent/mtcnn_onet.onnx'), /npm run bootstrap.*FEROPS_FACE_VERIFIER_MODEL/);
    const landmarkModel = faceSetup(loadConfig({})).landmarkModel!;
    await assert.rejects(loadFaceVerifier(landmarkModel), /is not the converted O-Net/);
  });

  it('when only the detector model is configured, then the verifier is looked for beside it; the Haar detector has none', () => {
    const setup = faceSetup(loadConfig({ faceDetectorModel: '/opt/ferops/blazeface_back.onnx' }, {}));
    assert.deepEqual(setup.verifier, { model: '/opt/ferops/mtcnn_onet.onnx', minScore: 0.2 }, "BlazeFace's boxes need 0.2");
    const tiny = faceSetup(loadConfig({ faceDetector: 'cnn', faceDetectorModel: '/opt/ferops/tiny_face_detector.onnx' }, {}));
    assert.deepEqual(tiny.verifier, { model: '/opt/ferops/mtcnn_onet.onnx', minScore: 0.05 }, "the Tiny Face Detector's 0.05");
    const env = { FEROPS_FACE_VERIFIER_MODEL: '/models/onet.onnx', FEROPS_MIN_FACE_SCORE: '0.3' };
    assert.deepEqual(faceSetup(loadConfig({}, env)).verifier, { model: '/models/onet.onnx', minScore: 0.3 });
    assert.equal(faceSetup(loadConfig({ faceDetector: 'haar' })).verifier, undefined);
    assert.throws(() => loadConfig({}, { FEROPS_MIN_FACE_SCORE: '1.5' }), /FEROPS_MIN_FACE_SCORE/);
  });

  it('when a batch does not hold whole 48x48 crops, then the run refuses it', async () => {
    const net = await loadFaceVerifier(faceSetup(loadConfig({})).verifier!.model);
    try {
      await assert.rejects(net.run(new Float32Array(VERIFY_INPUT * VERIFY_INPUT + 1), 1), /1 crops/);
      assert.equal((await net.run(new Float32Array(0), 0)).length, 0);
    } finally {
      await net.close();
    }
  });

  it('when the detector boxes the gap between two heads of a turned group photo, then the verifier drops that box and keeps every face', async () => {
    // sample5.jpg turned by 15 degrees: the Tiny Face Detector boxes the gap between two heads there
    // (docs/inference.md#landmarks-and-alignment); BlazeFace, the default, does not, and the verifier is the same.
    const photos = getPhotos();
    const file = photos.samples.find((f) => basename(f) === 'sample5.jpg')!;
    const turned = rotatePhoto(await decodeGray(readFileSync(file), 40e6), labelsFor(photoLabels(), file), 15);
    const isFalse = (box: { x: number; y: number; width: number; height: number }) => turned.faces.every((l) => intersectionOverUnion(box, l.box) < 0.3);
    const find = async (minFaceScore: number) => {
      const engine = await createFaceEngine(faceSetup(loadConfig({ faceDetector: 'cnn', minFaceScore })));
      try {
        return (await findFaces(turned.img, engine, true)).faces;
      } finally {
        await closeFaceEngine(engine);
      }
    };
    const unfiltered = await find(0);
    const falseBoxes = unfiltered.filter((f) => isFalse(f.box));
    assert.equal(falseBoxes.length, 1, 'control: without the verifier the detector answers its false box');
    assert.ok(falseBoxes[0].faceScore! < 0.05, `false box face score ${falseBoxes[0].faceScore}`);
    const kept = await find(0.05);
    assert.deepEqual(kept.filter((f) => isFalse(f.box)), []);
    assert.deepEqual(
      kept.map((f) => f.box),
      unfiltered.filter((f) => !isFalse(f.box)).map((f) => f.box),
    );
    for (const f of kept) assert.ok(f.faceScore! >= 0.5, `face at ${JSON.stringify(f.box)} scored ${f.faceScore}`);
  });
});
