/**
 * The table-model step every case table shares (as nvbench's Markdown does): the axes whose value varies
 * across a table's cases become its columns, the ones with a single value are said once, in its title.
 */

export type AxisValue = string | number;
export type Params = Readonly<Record<string, AxisValue>>;

export interface AxisSplit {
  /** Axes with two or more values, or missing from some cases, in order of first appearance: a column each. */
  readonly varying: readonly string[];
  /** Axes with one value in every case, in order of first appearance. */
  readonly constant: ReadonlyArray<readonly [axis: string, value: AxisValue]>;
}

export function splitAxes(params: readonly Params[]): AxisSplit {
  const axes = [...new Set(params.flatMap((p) => Object.keys(p)))];
  const varying: string[] = [];
  const constant: Array<readonly [string, AxisValue]> = [];
  for (const axis of axes) {
    const values = new Set(params.map((p) => p[axis]));
    const only = params[0]?.[axis];
    if (values.size === 1 && only !== undefined) constant.push([axis, only]);
    else varying.push(axis);
  }
  return { varying, constant };
}

/** The constant axes as `a=1, b=x`, or '' where there are none. */
export function describeConstants(split: AxisSplit): string {
  return split.constant.map(([axis, value]) => `${axis}=${value}`).join(', ');
}

/** A title with the constant axes after it in parentheses, e.g. `attention-decode (phase=decode, batch=1)`. */
export function titleWithConstants(title: string, split: AxisSplit): string {
  const constants = describeConstants(split);
  return constants ? `${title} (${constants})` : title;
}

/** A case's value of each varying axis, '-' where it has none. */
export function varyingCells(params: Params, split: AxisSplit): string[] {
  return split.varying.map((axis) => (params[axis] === undefined ? '-' : String(params[axis])));
}

/** A case named by its varying axes alone, `a=1 b=x` ('' where nothing varies). */
export function describeVarying(params: Params, split: AxisSplit): string {
  return split.varying
    .filter((axis) => params[axis] !== undefined)
    .map((axis) => `${axis}=${params[axis]}`)
    .join(' ');
}

/** A case named by what tells it apart from the table's constants: its varying axes and any constant it differs on. */
export function describeAgainst(params: Params, split: AxisSplit): string {
  const constant = new Map(split.constant);
  return Object.entries(params)
    .filter(([axis, value]) => constant.get(axis) !== value)
    .map(([axis, value]) => `${axis}=${value}`)
    .join(' ');
}
