// Calibration: FMA throughput in the storage type T. Sixteen independent vec4 chains per invocation
// hide FMA latency; the multiplier and addend come from memory so nothing folds at compile time.
// Each chain is a_{n+1} = a_n * m + c, which converges to c / (1 - m): the reference has a closed form.
override WORKGROUP_SIZE: u32 = 256;

struct Params {
  threads: u32,
  iterations: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> coefficients: array<vec4<T>>;  // [m, c, seed]
@group(0) @binding(2) var<storage, read_write> result: array<vec4<T>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let thread = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
  if (thread >= params.threads) {
    return;
  }
  let m = coefficients[0];
  let c = coefficients[1];
  let seed = coefficients[2] * T(thread % 8u);
  var a0 = seed + T(0);
  var a1 = seed + T(1);
  var a2 = seed + T(2);
  var a3 = seed + T(3);
  var a4 = seed - T(1);
  var a5 = seed - T(2);
  var a6 = seed - T(3);
  var a7 = seed + T(4);
  var a8 = seed + T(5);
  var a9 = seed - T(4);
  var a10 = seed + T(6);
  var a11 = seed - T(5);
  var a12 = seed + T(7);
  var a13 = seed - T(6);
  var a14 = seed + T(8);
  var a15 = seed - T(7);
  for (var i = 0u; i < params.iterations; i++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);
    a8 = fma(a8, m, c);
    a9 = fma(a9, m, c);
    a10 = fma(a10, m, c);
    a11 = fma(a11, m, c);
    a12 = fma(a12, m, c);
    a13 = fma(a13, m, c);
    a14 = fma(a14, m, c);
    a15 = fma(a15, m, c);
  }
  result[thread] = (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) + (((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15)));
}
