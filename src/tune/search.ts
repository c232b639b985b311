import { planFields, slotPlanKey, type SlotPlan } from '../kernels/tunable.js';

/**
 * The search's moves, pure: coordinate descent over one slot's plan fields. A move along a field changes that
 * field to another value it takes in the space, the other fields kept where the space allows (derived fields, such
 * as the tiled attend's lanes, follow); a move along `kind` goes to another plan kind's first plan in the space
 * (its strategy's choice). Races between moves halve the field each rung (successive halving).
 */

/** Fields a slot's plan moves along, `kind` first. */
export function moveFields(plan: SlotPlan): string[] {
  return Object.keys(planFields(plan));
}

/** How many fields two plans share the value of. */
function agreement(a: Record<string, unknown>, b: Record<string, unknown>): number {
  return Object.keys(a).filter((key) => key in b && a[key] === b[key]).length;
}

/**
 * The moves from `current` along `field`: for each other value the field takes among the space's plans of the same
 * kind, the plan with that value that agrees with `current` on the most other fields (the first such in the space);
 * for `kind`, the first plan of each other kind.
 */
export function movesAlong(space: readonly SlotPlan[], current: SlotPlan, field: string): SlotPlan[] {
  const here = planFields(current);
  if (field === 'kind') {
    const kinds = new Map<string, SlotPlan>();
    for (const plan of space) {
      const kind = String(planFields(plan)['kind']);
      if (kind !== here['kind'] && !kinds.has(kind)) kinds.set(kind, plan);
    }
    return [...kinds.values()];
  }
  const best = new Map<string | number, { plan: SlotPlan; score: number }>();
  for (const plan of space) {
    const fields = planFields(plan);
    const value = fields[field];
    if (fields['kind'] !== here['kind'] || value === undefined || value === here[field]) continue;
    const score = agreement(fields, here);
    const held = best.get(value);
    if (!held || score > held.score) best.set(value, { plan, score });
  }
  return [...best.values()].map(({ plan }) => plan);
}

/** Whether `plan` is one of the space's plans (a tuning file's entry must be, to be used). */
export function inSpace(space: readonly SlotPlan[], plan: SlotPlan): boolean {
  const key = slotPlanKey(plan);
  return space.some((member) => slotPlanKey(member) === key);
}

/** The better half (rounded up) by score, lowest first; ties keep the earlier entry. */
export function betterHalf<T>(entries: readonly T[], score: (entry: T) => number): T[] {
  const ranked = entries
    .map((entry, index) => ({ entry, index, value: score(entry) }))
    .sort((a, b) => a.value - b.value || a.index - b.index);
  return ranked.slice(0, Math.ceil(entries.length / 2)).map(({ entry }) => entry);
}

/** Round r's order of n contenders: each round starts one further along, so no contender always comes first. */
export function roundOrder(n: number, round: number): number[] {
  return Array.from({ length: n }, (_, i) => (round + i) % n);
}
