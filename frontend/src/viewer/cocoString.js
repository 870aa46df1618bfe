// @ts-check
/**
 * pycocotools' compressed RLE strings (maskApi.c rleToString / rleFrString), in plain
 * JavaScript so that the Node browser tests (e2e/) read masks with the viewer's own code.
 */

/**
 * pycocotools rleToString: LEB128-like, 5 bits a char, deltas from i-2 for i > 2.
 * @param {ArrayLike<number>} counts
 * @returns {string}
 */
export function countsToString(counts) {
  let s = "";
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5;
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

/**
 * pycocotools rleFrString: the run lengths (off, on, off, ... in column-major order).
 * @param {string} s
 * @returns {number[]}
 */
export function stringToCounts(s) {
  /** @type {number[]} */
  const counts = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new Error("truncated RLE string");
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new Error(`invalid RLE character at ${p}`);
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}
