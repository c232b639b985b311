import { MEMORY_ROLES, type MemoryRole } from '../core/device-facts.js';

export { MEMORY_ROLES, type MemoryRole };

export type BytesByRole = Record<MemoryRole, number>;

export interface MemoryReport {
  currentBytes: number;
  peakBytes: number;
  /** Bytes held per role at the moment of the peak. */
  peakByRole: BytesByRole;
  /** Largest bytes each role held at any time. */
  maxByRole: BytesByRole;
}

function zeroByRole(): BytesByRole {
  return { weights: 0, 'kv-cache': 0, activations: 0, scratch: 0 };
}

interface Allocation {
  role: MemoryRole;
  bytes: number;
}

/**
 * Every GPU buffer of the tool is created here, so current and peak bytes per role are exact.
 * `resetPeak()` starts a new case's accounting without freeing what is still alive.
 */
export class TrackedAllocator {
  private readonly live = new Map<GPUBuffer, Allocation>();
  private current = zeroByRole();
  private currentTotal = 0;
  private peakTotal = 0;
  private peakByRole = zeroByRole();
  private maxByRole = zeroByRole();

  /** Called after every allocation and free with the bytes then held per role (profile's memory counters). */
  onChange: ((current: Readonly<BytesByRole>) => void) | undefined;

  constructor(private readonly device: GPUDevice) {}

  createBuffer(role: MemoryRole, descriptor: GPUBufferDescriptor): GPUBuffer {
    const buffer = this.device.createBuffer(descriptor);
    const bytes = descriptor.size;
    this.live.set(buffer, { role, bytes });
    this.current[role] += bytes;
    this.currentTotal += bytes;
    this.maxByRole[role] = Math.max(this.maxByRole[role], this.current[role]);
    if (this.currentTotal > this.peakTotal) {
      this.peakTotal = this.currentTotal;
      this.peakByRole = { ...this.current };
    }
    this.onChange?.(this.current);
    return buffer;
  }

  destroy(buffer: GPUBuffer): void {
    const allocation = this.live.get(buffer);
    if (!allocation) return;
    this.live.delete(buffer);
    this.current[allocation.role] -= allocation.bytes;
    this.currentTotal -= allocation.bytes;
    buffer.destroy();
    this.onChange?.(this.current);
  }

  destroyAll(): void {
    for (const buffer of [...this.live.keys()]) this.destroy(buffer);
  }

  resetPeak(): void {
    this.peakTotal = this.currentTotal;
    this.peakByRole = { ...this.current };
    this.maxByRole = { ...this.current };
  }

  report(): MemoryReport {
    return {
      currentBytes: this.currentTotal,
      peakBytes: this.peakTotal,
      peakByRole: { ...this.peakByRole },
      maxByRole: { ...this.maxByRole },
    };
  }

  bytesOf(role: MemoryRole): number {
    return this.current[role];
  }
}
