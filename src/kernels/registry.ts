import { attentionFamily } from './attention.js';
import { calibrationFamily } from './calibration.js';
import { moeFamily } from './moe.js';
import type { KernelFamily } from './family.js';
import { gemmFamily } from './gemm.js';
import { mlaFamily } from './mla.js';

const FAMILIES: readonly KernelFamily[] = [calibrationFamily, attentionFamily, mlaFamily, moeFamily, gemmFamily];

export function kernelFamily(name: string): KernelFamily | undefined {
  return FAMILIES.find((family) => family.name === name);
}

export function familyNames(): string[] {
  return FAMILIES.map((family) => family.name);
}
