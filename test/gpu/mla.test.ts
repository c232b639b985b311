import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mlaCase, mlaFamily, MLA_FORMS, type MlaForm, type MlaSpec } from '../../src/kernels/mla.js';
import type { BuildContext } from '../../src/kernels/family.js';
import type { AttentionTiling } from '../../src/kernels/attention.js';
import type { Dtype, KernelCase } from '../../src/kernels/spec.js';
import type { MlaDims } from '../../src/reference/mla.js';
import { closeTestGpu, runChecked, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

async function context(seed = 11): Promise<BuildContext> {
  const gpu = await testGpu();
  return { limits: gpu.limits, features: gpu.features, seed };
}

// Small dims with the presets' structure (d_c > d_nope, d_r = d_nope / 2) keep the float64 reference and the
// pipelines cheap; head counts and lengths that are no multiple of the tiles.
const DIMS: MlaDims = { heads: 3, dNope: 16, dRope: 8, dV: 12, dLatent: 32, dQLatent: 0, dModel: 24 };
const DIMS_Q: MlaDims = { ...DIMS, dQLatent: 20 };

async function build(spec: MlaSpec, dtype: Dtype, seed = 11): Promise<KernelCase> {
  const built = mlaCase(spec, dtype, await context(seed));
  if (built.kind === 'skip') throw new Error(`skipped: ${built.reason}`);
  return built.kernelCase;
}

function spec(form: MlaForm, over: Partial<MlaSpec> = {}): MlaSpec {
  return { dims: DIMS, form, batch: 2, context: 37, qLen: 1, layer: 'attention', oProj: false, tiling: 'rows', ...over };
}

for (const dtype of ['f32', 'f16'] as const) {
  for (const tiling of ['rows', 'workgroup'] as AttentionTiling[]) {
    test(`every form passes numerics (${dtype}, ${tiling}), decode q_len 1 and q_len 3`, async () => {
      for (const form of MLA_FORMS) {
        for (const qLen of [1, 3]) {
          const kernelCase = await build(spec(form, { tiling, qLen }), dtype);
          const { checks } = await runChecked(kernelCase);
          for (const check of checks) assert.ok(check.passed, `${form} q_len ${qLen}: ${JSON.stringify(check)}`);
        }
      }
    });
  }
}
