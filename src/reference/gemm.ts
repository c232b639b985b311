/**
 * float64 batched matrix product on dense row-major matrices: c[z][i][j] = sum_l a[z][i][l] b[z][l][j], with
 * a [batch][m][k] (or one [m][k] for every z: sharedA) and b [batch][k][n].
 */
export interface MatmulShape {
  batch: number;
  m: number;
  n: number;
  k: number;
  sharedA?: boolean;
}

/** Rows (z, i) of the product, in the order given: picks.length x n values. */
export function matmulRows(
  shape: MatmulShape,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  picks: readonly (readonly [number, number])[],
): Float64Array {
  const { m, n, k } = shape;
  const c = new Float64Array(picks.length * n);
  const acc = new Float64Array(n);
  picks.forEach(([z, i], slot) => {
    acc.fill(0);
    const aRow = ((shape.sharedA ? 0 : z) * m + i) * k;
    for (let l = 0; l < k; l++) {
      const x = a[aRow + l] as number;
      const bRow = (z * k + l) * n;
      for (let j = 0; j < n; j++) acc[j] = (acc[j] as number) + x * (b[bRow + j] as number);
    }
    c.set(acc, slot * n);
  });
  return c;
}

/** Every row, batch-major: batch x m x n values. */
export function batchedMatmul(shape: MatmulShape, a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const picks: [number, number][] = [];
  for (let z = 0; z < shape.batch; z++) for (let i = 0; i < shape.m; i++) picks.push([z, i]);
  return matmulRows(shape, a, b, picks);
}

/** float64 FLOPs the reference spends per output row. */
export function matmulRowFlops(shape: MatmulShape): number {
  return 2 * shape.n * shape.k;
}
