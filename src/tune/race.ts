import { betterHalf, roundOrder } from './search.js';
import { decided, medianOf, pairedSpeedup, verdictOf, type Speedup } from './statistics.js';

/**
 * A race of challenger configurations against the incumbent, paired and alternating: in every round each contender
 * is sampled once, the order rotating from round to round, and each challenger is scored by its rounds' median
 * ln(challenger / incumbent). Successive halving: after a rung the better half goes on and the next rung has twice
 * the rounds, until one challenger is left. That survivor then meets the incumbent alone in fresh rounds (the
 * rounds that picked it are biased towards it: the best of several noisy scores), and takes the incumbent's place
 * only if those fresh rounds say it is faster (the 95% CI of the speed-up above 1).
 */

/** Something that can be timed: one sample, in milliseconds per repeat. */
export interface Contender {
  sample(): Promise<number>;
}

export interface RaceOptions {
  /** Rounds of the first rung; each later rung has twice as many. */
  firstRungRounds: number;
  /** The survivor's fresh rounds against the incumbent: at least minRounds, at most maxRounds, until decided. */
  confirm: { minRounds: number; maxRounds: number; tolerance: number };
  /** Clock time at which the race stops sampling; an unconfirmed survivor does not win. */
  deadline: number;
  now(): number;
}

export interface RaceOutcome<T> {
  /** The survivor where the fresh rounds found it faster than the incumbent, else null. */
  winner: T | null;
  /** The best challenger of the halving (null: no time to sample one). */
  survivor: T | null;
  /** The survivor's speed-up over the incumbent in the fresh rounds. */
  estimate: Speedup | null;
  /** Samples taken, every contender counted. */
  samples: number;
}

/** One round: a sample of each contender in the round's order, returned in the contenders' order. */
async function sampleRound(contenders: readonly Contender[], round: number): Promise<number[]> {
  const times = new Array<number>(contenders.length);
  for (const i of roundOrder(contenders.length, round)) times[i] = await contenders[i]!.sample();
  return times;
}

/** A challenger's score: the median of its log ratios (Infinity with none). */
const score = (logs: readonly number[]): number => (logs.length ? medianOf(logs) : Infinity);

/** Successive halving down to one challenger (or the deadline): the survivor and the samples taken. */
async function halve<T extends Contender>(
  incumbent: Contender,
  challengers: readonly T[],
  options: RaceOptions,
): Promise<{ survivor: T | null; samples: number }> {
  let alive = [...challengers];
  const logs = new Map<T, number[]>(alive.map((c) => [c, []]));
  let rungRounds = options.firstRungRounds;
  let round = 0;
  let samples = 0;
  while (alive.length > 1 && options.now() < options.deadline) {
    for (let r = 0; r < rungRounds && options.now() < options.deadline; r++) {
      const [reference, ...times] = await sampleRound([incumbent, ...alive], round++);
      samples += alive.length + 1;
      alive.forEach((c, i) => logs.get(c)!.push(Math.log(times[i]! / reference!)));
    }
    alive = betterHalf(alive, (c) => score(logs.get(c)!));
    rungRounds *= 2;
  }
  const sampled = alive.filter((c) => logs.get(c)!.length > 0 || challengers.length === 1);
  return { survivor: betterHalf(sampled, (c) => score(logs.get(c)!))[0] ?? null, samples };
}

export async function race<T extends Contender>(
  incumbent: Contender,
  challengers: readonly T[],
  options: RaceOptions,
): Promise<RaceOutcome<T>> {
  const halving = await halve(incumbent, challengers, options);
  const survivor = halving.survivor;
  if (!survivor) return { winner: null, survivor: null, estimate: null, samples: halving.samples };
  const { estimate, samples } = await confirmAgainst(incumbent, survivor, options);
  const winner = estimate && estimate.rounds >= options.confirm.minRounds && verdictOf(estimate) === 'faster' ? survivor : null;
  return { winner, survivor, estimate, samples: halving.samples + samples };
}

/**
 * Fresh paired rounds of a challenger against a reference until the speed-up's CI decides (at least minRounds),
 * maxRounds, or the deadline. The estimate is null when not one round fitted.
 */
export async function confirmAgainst(
  reference: Contender,
  challenger: Contender,
  options: Pick<RaceOptions, 'confirm' | 'deadline' | 'now'>,
): Promise<{ estimate: Speedup | null; samples: number }> {
  const referenceMs: number[] = [];
  const challengerMs: number[] = [];
  const { minRounds, maxRounds, tolerance } = options.confirm;
  for (let round = 0; round < maxRounds && options.now() < options.deadline; round++) {
    const [a, b] = await sampleRound([reference, challenger], round);
    referenceMs.push(a!);
    challengerMs.push(b!);
    if (round + 1 >= minRounds && decided(pairedSpeedup(referenceMs, challengerMs), tolerance)) break;
  }
  const estimate = referenceMs.length ? pairedSpeedup(referenceMs, challengerMs) : null;
  return { estimate, samples: 2 * referenceMs.length };
}
