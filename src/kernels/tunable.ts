import type { AttentionPlan } from './attention-plans.js';
import type { GemmPlan } from './gemm/plan.js';
import type { MoePlan } from './moe-stages.js';

/**
 * What a tuner may change about a case: its tunable slots. A slot is one plan choice of a case (the attention
 * core's attend, one GEMM stage, the MoE step's align plan), named by its stage; the family says which plan it
 * chose and enumerates the legal plans for the shape on this device (each family's `*-space.ts`). A case built
 * with `BuildContext.plans` runs the given plan in that slot instead of its strategy's choice: taken as given,
 * so callers pass members of the slot's space only (the tuner's candidates are; `run` admits a tuned plan only
 * where it is one).
 */

/** Each family's plan type. */
export interface FamilyPlans {
  attention: AttentionPlan;
  gemm: GemmPlan;
  moe: MoePlan;
}

/** A plan for one slot, tagged with the family whose plans it holds. */
export type SlotPlan = { [F in keyof FamilyPlans]: { readonly family: F; readonly plan: FamilyPlans[F] } }[keyof FamilyPlans];

/** Plans to build a case with instead of its strategies' choices, by slot name. */
export type PlanOverrides = Readonly<Record<string, SlotPlan>>;

/** One tunable choice of a built case. */
export interface TunableSlot {
  readonly name: string;
  /** The plan the case runs in this slot. */
  readonly chosen: SlotPlan;
  /** Every legal plan for the slot (the chosen one among them), enumerated on demand. */
  space(): readonly SlotPlan[];
}

type Field = string | number;

/** A plan's tunables as flat fields (nested tile objects spread), kind first. */
export function planFields(slot: SlotPlan): Record<string, Field> {
  const fields: Record<string, Field> = {};
  const visit = (value: object): void => {
    for (const [key, inner] of Object.entries(value)) {
      if (typeof inner === 'object' && inner !== null) visit(inner as object);
      else fields[key] = inner as Field;
    }
  };
  visit(slot.plan);
  return fields;
}

/** One line: `rows-subgroup rpi=2 wg=64 chunk=128 output=partials`. */
export function describeSlotPlan(slot: SlotPlan): string {
  const { kind, ...rest } = planFields(slot);
  return [String(kind), ...Object.entries(rest).map(([key, value]) => `${key}=${value}`)].join(' ');
}

/** A canonical text of a slot plan (family, then fields in sorted order), equal exactly for equal plans. */
export function slotPlanKey(slot: SlotPlan): string {
  const sorted = (value: unknown): unknown =>
    typeof value === 'object' && value !== null
      ? Object.fromEntries(
          Object.keys(value)
            .sort()
            .map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
        )
      : value;
  return JSON.stringify({ family: slot.family, plan: sorted(slot.plan) });
}

/** The override for `slot` where it holds a plan of `family`. */
export function overrideOf<F extends keyof FamilyPlans>(
  plans: PlanOverrides | undefined,
  slot: string,
  family: F,
): FamilyPlans[F] | undefined {
  const given = plans && Object.hasOwn(plans, slot) ? plans[slot] : undefined;
  return given?.family === family ? (given.plan as FamilyPlans[F]) : undefined;
}

/** Distinct plans in first-seen order. */
export function uniquePlans(plans: readonly SlotPlan[]): SlotPlan[] {
  const seen = new Set<string>();
  return plans.filter((plan) => {
    const key = slotPlanKey(plan);
    return !seen.has(key) && seen.add(key) !== undefined;
  });
}
