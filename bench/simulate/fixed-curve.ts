/**
 * Reading a keep-alive policy against the fixed policy's trade-off curve: fixed keep-alive at
 * several windows gives points (idle memory-time, cold starts); a policy is compared with the
 * curve at its own idle memory-time (the cold starts fixed would have there) and at its own cold
 * starts (the idle memory-time fixed would need), linear between the points, undefined outside
 * them. Used by the simulator's keep-alive comparison and by the real-platform replay.
 */

/** One run of the fixed policy (or of any policy, to be read against the curve). */
export type CurvePoint = { idleGbS: number; coldStarts: number };

/** `y` of the curve at `x` (linear between its points, sorted by `x`); undefined outside it. */
function along(curve: readonly CurvePoint[], at: number, x: keyof CurvePoint, y: keyof CurvePoint): number | undefined {
  const pts = [...curve].sort((a, b) => a[x] - b[x]);
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!;
    const b = pts[i]!;
    if (at >= a[x] && at <= b[x]) return a[y] + ((at - a[x]) / (b[x] - a[x] || 1)) * (b[y] - a[y]);
  }
  return undefined;
}

/** Cold starts of the fixed curve at a given idle memory-time (linear between its points). */
export function fixedAtIdle(curve: readonly CurvePoint[], idleGbS: number): number | undefined {
  return along(curve, idleGbS, 'idleGbS', 'coldStarts');
}

/** Idle memory-time of the fixed curve at a given count of cold starts (linear between its points). */
export function fixedIdleAtColdStarts(curve: readonly CurvePoint[], coldStarts: number): number | undefined {
  return along(curve, coldStarts, 'coldStarts', 'idleGbS');
}
