// Cold-mode cache eviction: read-modify-write of a scratch buffer larger than the last-level cache.
override WORKGROUP_SIZE: u32 = 256;

@group(0) @binding(0) var<storage, read_write> scratch: array<vec4<u32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (i < arrayLength(&scratch)) {
    scratch[i] = scratch[i] + vec4<u32>(1u);
  }
}
