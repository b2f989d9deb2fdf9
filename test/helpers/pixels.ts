/** Pearson correlation of two equally long pixel arrays: how alike two crops look, whatever their brightness. */
export function correlation(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`correlation of ${a.length} and ${b.length} pixels`);
  const mean = (v: Uint8Array) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}
