import { describeSlotPlan, slotPlanKey, type PlanOverrides } from '../kernels/tunable.js';
import type { KernelCase } from '../kernels/spec.js';
import { inSpace } from './search.js';

/**
 * Why a case built with tuned `plans` must not run them, or null: every tuned slot must be one of the case's
 * tunable slots, built with exactly that plan, and a member of the slot's space of legal plans for this shape on
 * this device (a plan from another device, another version or an edited file may not be).
 */
export function plansProblem(kernelCase: KernelCase, plans: PlanOverrides): string | null {
  const slots = new Map((kernelCase.tunables ?? []).map((slot) => [slot.name, slot]));
  for (const [name, plan] of Object.entries(plans)) {
    const slot = slots.get(name);
    if (!slot) return `the case has no tunable slot "${name}"`;
    if (slotPlanKey(slot.chosen) !== slotPlanKey(plan)) return `slot ${name}: ${plan.family} plan not taken by the case`;
    if (!inSpace(slot.space(), plan)) return `slot ${name}: ${describeSlotPlan(plan)} is not a legal plan for this shape on this device`;
  }
  return null;
}

/** Each tunable slot's plan in one line, by slot name. */
export function describePlans(kernelCase: KernelCase): Record<string, string> {
  return Object.fromEntries((kernelCase.tunables ?? []).map((slot) => [slot.name, describeSlotPlan(slot.chosen)]));
}
