// Calibration: per-dispatch overhead. One tiny workgroup whose only work is one store per invocation.
override WORKGROUP_SIZE: u32 = 64;

struct Params {
  base: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> result: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) lane: u32) {
  result[lane] = params.base + f32(lane);
}
