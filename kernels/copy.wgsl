// Calibration: copy bandwidth. Each invocation moves ITEMS vec4s.
// CHUNKED = false: strided by the invocation count, so neighbouring invocations touch neighbouring
// addresses (coalesced: what GPUs want). CHUNKED = true: each invocation walks its own contiguous run
// (what CPU-backed adapters such as lavapipe want). The ceiling is the better of the two.
override WORKGROUP_SIZE: u32 = 256;
override ITEMS: u32 = 4;
override CHUNKED: bool = false;

struct Params {
  count: u32,    // vec4 elements to copy
  threads: u32,  // invocations in the grid
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let thread = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  for (var k = 0u; k < ITEMS; k++) {
    let i = select(thread + k * params.threads, thread * ITEMS + k, CHUNKED);
    if (i < params.count) {
      dst[i] = src[i];
    }
  }
}
