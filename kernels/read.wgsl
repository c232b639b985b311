// Calibration: read bandwidth. Each invocation sums ITEMS vec4s and writes one f32, so writes are
// 1/(4*ITEMS) of the traffic. CHUNKED picks the access pattern as in copy.wgsl.
override WORKGROUP_SIZE: u32 = 256;
override ITEMS: u32 = 16;
override CHUNKED: bool = false;

struct Params {
  count: u32,
  threads: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let thread = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (thread >= params.threads) {
    return;
  }
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < ITEMS; k++) {
    let i = select(thread + k * params.threads, thread * ITEMS + k, CHUNKED);
    if (i < params.count) {
      acc += src[i];
    }
  }
  sums[thread] = acc.x + acc.y + acc.z + acc.w;
}
