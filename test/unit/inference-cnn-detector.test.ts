import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apply } from '../../services/inference/runtime/affine';
import { intersectionOverUnion, nonMaxSuppression } from '../../services/inference/runtime/detectors/boxes';
import { decodeGrid, letterbox } from '../../services/inference/runtime/detectors/cnn';
import { liveMats } from '../../services/inference/runtime/cv';

/** A (1, 25, rows, cols) grid with every score far below zero (sigmoid ~ 0) and one chosen anchor set. */
function grid(rows: number, cols: number, hits: Array<{ row: number; col: number; anchor: number; v: [number, number, number, number, number] }>) {
  const plane = rows * cols;
  const g = new Float32Array(25 * plane);
  for (let a = 0; a < 5; a++) g.fill(-20, (a * 5 + 4) * plane, (a * 5 + 5) * plane);
  for (const h of hits) h.v.forEach((x, k) => (g[(h.anchor * 5 + k) * plane + h.row * cols + h.col] = x));
  return g;
}

describe('cnn face detector: decoding', () => {
  it('when one anchor fires, then its box is centred in its cell and sized by the anchor, in image pixels', () => {
    // tx = ty = 0 -> centre at half a cell; tw = th = 0 -> anchor 1 size (6.04 x 7.08 cells of 32 px).
    const g = grid(4, 5, [{ row: 2, col: 3, anchor: 1, v: [0, 0, 0, 0, 3] }]);
    const [box, ...rest] = decodeGrid(g, 4, 5, 0.5, 0.25); // input is half the image size
    assert.equal(rest.length, 0);
    assert.ok(Math.abs(box.score - 1 / (1 + Math.exp(-3))) < 1e-6);
    const cx = (box.x + box.width / 2) * 0.5;
    const cy = (box.y + box.height / 2) * 0.5;
    assert.ok(Math.abs(cx - 3.5 * 32) < 1e-3 && Math.abs(cy - 2.5 * 32) < 1e-3, `centre ${cx},${cy}`);
    assert.ok(Math.abs(box.width * 0.5 - 6.041143 * 32) < 1e-3);
    assert.ok(Math.abs(box.height * 0.5 - 7.080126 * 32) < 1e-3);
  });

  it('when scores are below the threshold, then nothing is returned', () => {
    const g = grid(2, 2, [{ row: 0, col: 0, anchor: 0, v: [0, 0, 0, 0, -1.2] }]); // sigmoid(-1.2) = 0.23
    assert.deepEqual(decodeGrid(g, 2, 2, 1, 0.25), []);
    assert.equal(decodeGrid(g, 2, 2, 1, 0.2).length, 1);
  });

  it('when two anchors find the same face, then only the higher-scoring box survives; separate faces both do', () => {
    const g = grid(6, 6, [
      { row: 2, col: 2, anchor: 3, v: [0, 0, 0, 0, 2] },
      { row: 2, col: 2, anchor: 2, v: [0.1, 0, 0.4, 0.4, 1] }, // about the same box, lower score
      { row: 5, col: 5, anchor: 0, v: [0, 0, 0, 0, 1.5] }, // far away
    ]);
    const boxes = decodeGrid(g, 6, 6, 1, 0.25);
    assert.equal(boxes.length, 2);
    assert.ok(boxes[0].score > boxes[1].score, 'best first');
    assert.ok(Math.abs(boxes[0].width - 4.266906 * 32) < 1e-3, 'anchor 3 kept');
  });

  it('when the grid has the wrong size, then it is refused with the expected shape', () => {
    assert.throws(() => decodeGrid(new Float32Array(10), 2, 2, 1, 0.5), /expected 25x2x2/);
  });

  it('IoU: identical 1, disjoint 0, half-overlapping 1/3', () => {
    const a = { x: 0, y: 0, width: 10, height: 10 };
    assert.equal(intersectionOverUnion(a, a), 1);
    assert.equal(intersectionOverUnion(a, { x: 20, y: 0, width: 10, height: 10 }), 0);
    assert.ok(Math.abs(intersectionOverUnion(a, { x: 5, y: 0, width: 10, height: 10 }) - 1 / 3) < 1e-9);
    assert.deepEqual(nonMaxSuppression([{ ...a, score: 0.4 }, { x: 5, y: 0, width: 10, height: 10, score: 0.9 }], 0.3).map((b) => b.score), [0.9]);
  });
});

describe('cnn face detector: letterbox', () => {
  it('when a 640x480 image goes to 512, then it is 512x384 (a view pixel is 1.25 image pixels), and padding is black', () => {
    const data = Buffer.alloc(640 * 480, 200);
    const out = letterbox({ data, width: 640, height: 480, format: 'raw' }, 512);
    assert.equal(out.width, 512);
    assert.equal(out.height, 384);
    assert.deepEqual(out.back.map((v) => v + 0), [1.25, 0, 0, 0, 1.25, 0]); // + 0: -0 is 0 here
    assert.equal(out.data[0], 200);
    assert.equal(liveMats(), 0);
  });

  it('when the view is turned, then it fits maxSide and `back` maps each view pixel to where it came from', () => {
    const img = { data: Buffer.alloc(640 * 480, 0), width: 640, height: 480, format: 'raw' as const };
    for (const [x, y] of [[100, 50], [500, 400], [320, 240]]) {
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) img.data[(y + dy) * 640 + x + dx] = 255;
    }
    for (const angle of [-35, 35]) {
      const out = letterbox(img, 512, angle);
      assert.ok(Math.max(out.width, out.height) <= 512 + 31, `${out.width}x${out.height}`);
      const bright: [number, number][] = [];
      for (let i = 0; i < out.data.length; i++) if (out.data[i] > 200) bright.push(apply(out.back, i % out.width, Math.floor(i / out.width)));
      for (const [x, y] of [[100, 50], [500, 400], [320, 240]]) {
        assert.ok(bright.some(([bx, by]) => Math.hypot(bx - x, by - y) < 3), `angle ${angle}: no bright view pixel maps back near (${x}, ${y})`);
      }
      assert.ok(bright.every(([bx, by]) => [[100, 50], [500, 400], [320, 240]].some(([x, y]) => Math.hypot(bx - x, by - y) < 6)));
    }
    assert.equal(liveMats(), 0);
  });

  it('when sides are not multiples of 32, then the input is padded up to them with zeros', () => {
    const out = letterbox({ data: Buffer.alloc(100 * 50, 255), width: 100, height: 50, format: 'raw' }, 200);
    assert.equal(out.width, 224); // 200 -> 7 cells
    assert.equal(out.height, 128); // 100 -> 4 cells
    assert.equal(out.data[199], 255);
    assert.equal(out.data[200], 0, 'right of the image is padding');
    assert.equal(out.data[100 * 224], 0, 'below the image is padding');
  });

  it('when a square is asked for (BlazeFace), then the image sits at its top left and the rest is zeros', () => {
    const out = letterbox({ data: Buffer.alloc(640 * 480, 200), width: 640, height: 480, format: 'raw' }, 256, 0, 'square');
    assert.deepEqual([out.width, out.height, out.data.length], [256, 256, 256 * 256]);
    assert.equal(out.data[191 * 256 + 255], 200, 'last image pixel');
    assert.equal(out.data[192 * 256], 0, 'below the image is padding');
    assert.deepEqual(out.back.map((v) => v + 0), [2.5, 0, 0, 0, 2.5, 0]);
  });
});
