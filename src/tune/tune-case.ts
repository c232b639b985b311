import type { KernelFamily } from '../kernels/family.js';
import { describeSlotPlan, slotPlanKey, type PlanOverrides, type SlotPlan, type TunableSlot } from '../kernels/tunable.js';
import { errorMessage, type GpuSession } from '../run/run-case.js';
import type { PlannedCase } from '../suites/expand.js';
import { isCandidate, prepareCandidate, type Candidate } from './candidate.js';
import { confirmAgainst, race } from './race.js';
import { movesAlong, moveFields } from './search.js';
import { verdictOf, type Speedup } from './statistics.js';

/**
 * Tuning one case (one shape): coordinate descent over its tunable slots, each slot's fields in turn (its plan
 * kind first), every field's moves raced against the incumbent (race.ts: paired, alternating, successive halving,
 * a fresh confirmation of the survivor); then the final configuration against the defaults in fresh paired rounds,
 * kept only where those rounds say it is faster. Slots are taken in the order of their stage's share of the case's
 * time, and a slot under MIN_SLOT_SHARE of it is left at its default (it cannot move the whole past the noise).
 * Every configuration is checked against the float64 reference before it is timed; one that fails is recorded and
 * never raced. The search gets SEARCH_SHARE of the case's time, the final confirmation the rest.
 */

export interface ShapeOptions {
  seed: number;
  targetSampleMs: number;
  /** Clock time by which this case's tuning ends. */
  deadline: number;
  now(): number;
  /** A slot's space (default: the family's enumeration); a test adds a deliberately wrong plan to it. */
  spaceOf?(slot: TunableSlot): readonly SlotPlan[];
  /** What the search does, a line at a time (`tune --verbose`). */
  trace?(line: string): void;
}

/** A configuration that is out: it failed its numerics check, could not be built for the shape, or failed on the device. */
export interface FailingConfig {
  slot: string;
  plan: string;
  reason: string;
}

/** The best challenger a race found where it did not beat the incumbent: the evidence that the defaults hold. */
export interface Closest {
  slot: string;
  plan: string;
  speedup: Speedup;
}

interface Searched {
  defaults: Record<string, SlotPlan>;
  /** Every configuration built and checked (the defaults included). */
  evaluated: number;
  failing: FailingConfig[];
  closest: Closest | null;
  samples: number;
  elapsedMs: number;
}

export type ShapeResult =
  | (Searched & { status: 'tuned'; tuned: Record<string, SlotPlan>; speedup: Speedup })
  | (Searched & { status: 'default-kept'; tuned: Record<string, SlotPlan>; speedup: Speedup | null; why: string })
  | { status: 'skipped' | 'failed' | 'not-tunable'; reason: string; elapsedMs: number };

const SEARCH_SHARE = 0.7;
const MIN_SLOT_SHARE = 0.05;
/** A challenger whose first sample took this many times an incumbent sample right after it is not raced. */
const PRUNE_FACTOR = 3;
const MAX_PASSES = 2;
const RACE = { firstRungRounds: 3, confirm: { minRounds: 6, maxRounds: 40, tolerance: 0.01 } };
const FINAL = { confirm: { minRounds: 10, maxRounds: 120, tolerance: 0.005 } };

type Out = Extract<ShapeResult, { status: 'skipped' | 'failed' | 'not-tunable' }>;

class ShapeTuner {
  private readonly started: number;
  private readonly searchDeadline: number;
  private current: Record<string, SlotPlan> = {};
  private defaults: Record<string, SlotPlan> = {};
  private slots: TunableSlot[] = [];
  private defaultCandidate!: Candidate;
  private incumbent!: Candidate;
  private readonly failing: FailingConfig[] = [];
  private readonly tried = new Set<string>();
  private closest: Closest | null = null;
  private evaluated = 0;
  private samples = 0;

  constructor(
    private readonly session: GpuSession,
    private readonly family: KernelFamily,
    private readonly planned: PlannedCase,
    private readonly options: ShapeOptions,
  ) {
    this.started = options.now();
    this.searchDeadline = this.started + SEARCH_SHARE * (options.deadline - this.started);
  }

  private configKey(plans: Record<string, SlotPlan>): string {
    return Object.keys(plans)
      .sort()
      .map((slot) => `${slot}:${slotPlanKey(plans[slot]!)}`)
      .join('|');
  }

  /** The defaults built, checked and sized; the slots to tune, by their stage's share of the time. */
  async start(): Promise<Out | null> {
    const built = await prepareCandidate(this.session, this.family, this.planned, this.options.seed, {}, this.options.targetSampleMs);
    this.evaluated++;
    if (!isCandidate(built))
      return { status: built.kind === 'invalid' ? 'skipped' : 'failed', reason: `defaults: ${built.reason}`, elapsedMs: this.elapsed() };
    this.defaultCandidate = this.incumbent = built;
    const slots = built.kernelCase.tunables ?? [];
    if (!slots.length) return { status: 'not-tunable', reason: 'the case has no tunable slots', elapsedMs: this.elapsed() };
    this.defaults = Object.fromEntries(slots.map((slot) => [slot.name, slot.chosen]));
    this.current = { ...this.defaults };
    this.tried.add(this.configKey(this.current));
    this.slots = slots.length > 1 ? await this.slotsByShare(built, slots) : [...slots];
    return null;
  }

  private trace(line: string): void {
    this.options.trace?.(`${(this.elapsed() / 1e3).toFixed(1)}s ${line}`);
  }

  private elapsed(): number {
    return this.options.now() - this.started;
  }

  /** Slots whose stage takes at least MIN_SLOT_SHARE of the case (the largest always), largest first. */
  private async slotsByShare(candidate: Candidate, slots: readonly TunableSlot[]): Promise<TunableSlot[]> {
    const stages = candidate.kernelCase.stages;
    // One stage at a time: the timer has one query set and one readback buffer.
    const shares: { slot: TunableSlot; ms: number }[] = [];
    for (const slot of slots) {
      const dispatches = stages.flatMap((stage, index) => (stage.name === slot.name ? [index] : []));
      shares.push({ slot, ms: dispatches.length ? await candidate.stageMs(dispatches) : Infinity });
    }
    const total = shares.reduce((sum, { ms }) => sum + (Number.isFinite(ms) ? ms : 0), 0);
    shares.sort((a, b) => b.ms - a.ms);
    return shares.filter(({ ms }, i) => i === 0 || !Number.isFinite(ms) || ms >= MIN_SLOT_SHARE * total).map(({ slot }) => slot);
  }

  private spaceOf(slot: TunableSlot): readonly SlotPlan[] {
    return this.options.spaceOf ? this.options.spaceOf(slot) : slot.space();
  }

  /** Coordinate descent: every slot's fields in turn, again while a pass moved something. */
  async descend(): Promise<void> {
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      let moved = false;
      for (const slot of this.slots) {
        for (let f = 0; f < moveFields(this.current[slot.name]!).length; f++) {
          if (this.options.now() >= this.searchDeadline) return;
          const field = moveFields(this.current[slot.name]!)[f]!;
          if (await this.raceField(slot, field)) moved = true;
        }
      }
      if (!moved) return;
    }
  }

  /** The field's moves from the current configuration, raced against the incumbent; true where one won. */
  private async raceField(slot: TunableSlot, field: string): Promise<boolean> {
    const moves = movesAlong(this.spaceOf(slot), this.current[slot.name]!, field);
    const contenders = await this.prepareMoves(slot, moves);
    if (!contenders.length) return false;
    const outcome = await race(this.incumbent, contenders, { ...RACE, deadline: this.searchDeadline, now: this.options.now });
    this.samples += outcome.samples;
    const estimate = outcome.estimate
      ? ` ${outcome.estimate.speedup.toFixed(3)}x [${outcome.estimate.lo.toFixed(3)}, ${outcome.estimate.hi.toFixed(3)}] in ${outcome.estimate.rounds} rounds`
      : '';
    this.trace(
      `${slot.name} ${field}: ${contenders.length} raced, survivor ${outcome.survivor ? describeSlotPlan(outcome.survivor.plan) : '-'}${estimate}: ${outcome.winner ? 'moves' : 'stays'}`,
    );
    for (const { candidate } of contenders) if (candidate !== outcome.winner?.candidate) candidate.dispose();
    if (outcome.survivor && outcome.estimate && !outcome.winner) this.noteClosest(slot, outcome.survivor.plan, outcome.estimate);
    if (!outcome.winner) return false;
    if (this.incumbent !== this.defaultCandidate) this.incumbent.dispose();
    this.incumbent = outcome.winner.candidate;
    this.current = { ...this.current, [slot.name]: outcome.winner.plan };
    return true;
  }

  private noteClosest(slot: TunableSlot, plan: SlotPlan, speedup: Speedup): void {
    if (!this.closest || speedup.speedup > this.closest.speedup.speedup)
      this.closest = { slot: slot.name, plan: describeSlotPlan(plan), speedup };
  }

  /** Each move built and checked (failures recorded), those not hopelessly slower than the incumbent as contenders. */
  private async prepareMoves(
    slot: TunableSlot,
    moves: readonly SlotPlan[],
  ): Promise<{ plan: SlotPlan; candidate: Candidate; sample(): Promise<number> }[]> {
    const ready: { plan: SlotPlan; candidate: Candidate; sample(): Promise<number> }[] = [];
    for (const plan of moves) {
      const plans: PlanOverrides = { ...this.current, [slot.name]: plan };
      const key = this.configKey(plans);
      if (this.tried.has(key) || this.options.now() >= this.searchDeadline) continue;
      this.tried.add(key);
      this.evaluated++;
      const built = await prepareCandidate(this.session, this.family, this.planned, this.options.seed, plans, this.options.targetSampleMs);
      if (!isCandidate(built)) {
        this.failing.push({ slot: slot.name, plan: describeSlotPlan(plan), reason: `${built.kind}: ${built.reason}` });
        this.trace(`${slot.name} ${describeSlotPlan(plan)}: ${built.kind}: ${built.reason}`);
      } else if ((await built.sample()) > PRUNE_FACTOR * (await this.incumbent.sample())) {
        this.samples += 2;
        this.trace(`${slot.name} ${describeSlotPlan(plan)}: pruned (over ${PRUNE_FACTOR}x the incumbent's time, paired)`);
        built.dispose();
      } else {
        ready.push({ plan, candidate: built, sample: () => built.sample() });
      }
    }
    return ready;
  }

  /** The configuration found against the defaults, in fresh paired rounds until the case's deadline. */
  async finish(): Promise<ShapeResult> {
    const searched: Searched = {
      ...{ defaults: this.defaults, evaluated: this.evaluated, failing: this.failing, closest: this.closest },
      ...{ samples: this.samples, elapsedMs: 0 },
    };
    if (this.incumbent === this.defaultCandidate) {
      return {
        ...searched,
        status: 'default-kept',
        tuned: this.defaults,
        speedup: null,
        why: 'no configuration beat the defaults',
        elapsedMs: this.elapsed(),
      };
    }
    const { estimate, samples } = await confirmAgainst(this.defaultCandidate, this.incumbent, {
      ...FINAL,
      deadline: this.options.deadline,
      now: this.options.now,
    });
    searched.samples += samples;
    const done = { ...searched, elapsedMs: this.elapsed() };
    if (estimate && verdictOf(estimate) === 'faster') return { ...done, status: 'tuned', tuned: this.current, speedup: estimate };
    const why = estimate
      ? 'the configuration found was not faster than the defaults in the final paired rounds'
      : 'no time left to confirm the configuration found';
    return { ...done, status: 'default-kept', tuned: this.defaults, speedup: estimate, why };
  }

  dispose(): void {
    if (this.incumbent && this.incumbent !== this.defaultCandidate) this.incumbent.dispose();
    this.defaultCandidate?.dispose();
  }
}

/** Tunes one planned case (see the module comment). */
export async function tuneShape(
  session: GpuSession,
  family: KernelFamily,
  planned: PlannedCase,
  options: ShapeOptions,
): Promise<ShapeResult> {
  if (planned.skip) return { status: 'skipped', reason: planned.skip, elapsedMs: 0 };
  const tuner = new ShapeTuner(session, family, planned, options);
  const started = options.now();
  try {
    const out = await tuner.start();
    if (out) return out;
    await tuner.descend();
    return await tuner.finish();
  } catch (error) {
    // One case's failure (a device error outside a candidate's scopes) is its row, not the end of the tune.
    return { status: 'failed', reason: errorMessage(error), elapsedMs: options.now() - started };
  } finally {
    tuner.dispose();
  }
}
