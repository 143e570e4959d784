// A forest plot of one metric: each treatment's difference from the control as a point with
// its confidence interval, CUPED-adjusted intervals below their unadjusted ones, on one axis
// with the line of no effect at 0. SVG drawn by React (no chart library); colours come from
// classes, so the CSP needs no inline style. Loaded on demand with the results.
import type { MetricResult } from '../api/queries';
import {
  differenceUnit,
  formatDifference,
  formatInterval,
  interval,
  niceScale,
  place,
} from '../model/experiment';

/** Props of [`ForestPlot`]. */
export interface ForestPlotProps {
  /** The metric's results. */
  metric: MetricResult;
  /** Confidence level of the intervals, e.g. 0.95. */
  confidence: number;
}

interface Row {
  label: string;
  colour: number;
  estimate: number;
  ci: [number, number];
  cuped: boolean;
}

const WIDTH = 760;
const LABEL = 150; // left column: variant names
const VALUES = 250; // right column: estimate and interval
const ROW = 30;
const TOP = 10;
const AXIS = 34;

/** The forest plot of a metric's comparisons (nothing when it has none). */
export default function ForestPlot({ metric, confidence }: ForestPlotProps) {
  const names = metric.variants.map((v) => v.variant);
  const rows: Row[] = metric.comparisons.flatMap((c) => {
    const colour = Math.max(0, names.indexOf(c.variant)) % 6;
    const plain: Row = {
      label: c.variant,
      colour,
      estimate: c.difference,
      ci: interval(c.difference_ci),
      cuped: false,
    };
    if (!c.cuped) return [plain];
    const adjusted: Row = {
      label: `${c.variant} (CUPED)`,
      colour,
      estimate: c.cuped.difference,
      ci: interval(c.cuped.difference_ci),
      cuped: true,
    };
    return [plain, adjusted];
  });
  if (rows.length === 0) return null;
  const { factor, unit } = differenceUnit(metric.kind);
  const scale = niceScale(rows.flatMap((r) => [r.ci[0] * factor, r.ci[1] * factor]));
  const plot = WIDTH - LABEL - VALUES;
  const x = (v: number) => LABEL + place(scale, v * factor, plot);
  const height = TOP + rows.length * ROW + AXIS;
  const level = `${Math.round(confidence * 1000) / 10} %`;
  const titleId = `forest-${metric.key}-title`;
  const descId = `forest-${metric.key}-desc`;
  const control = names[0] ?? 'control';
  return (
    <figure className="forest">
      <svg
        viewBox={`0 0 ${WIDTH} ${height}`}
        width="100%"
        role="img"
        aria-labelledby={titleId}
        aria-describedby={descId}
        preserveAspectRatio="xMinYMin meet"
      >
        <title id={titleId}>{`${metric.key}: difference from ${control} with ${level} intervals`}</title>
        <desc id={descId}>
          {rows
            .map(
              (r) =>
                `${r.label}: ${formatDifference(r.estimate, metric.kind)}, interval ${formatInterval(r.ci, metric.kind)}`,
            )
            .join('; ')}
        </desc>
        {scale.ticks.map((t) => (
          <g key={t} className={t === 0 ? 'zero' : 'tick'}>
            <line x1={x(t / factor)} x2={x(t / factor)} y1={TOP - 4} y2={TOP + rows.length * ROW} />
            <text x={x(t / factor)} y={TOP + rows.length * ROW + 16} textAnchor="middle">
              {Number(t.toPrecision(6))}
            </text>
          </g>
        ))}
        <text className="axis-label" x={LABEL + plot / 2} y={height - 4} textAnchor="middle">
          {`${metric.kind === 'conversion' ? 'rate' : 'mean'} − ${control}${unit ? ` (${unit})` : ''}`}
        </text>
        {rows.map((r, i) => {
          const y = TOP + i * ROW + ROW / 2;
          const [lo, hi] = [x(r.ci[0]), x(r.ci[1])];
          const excludesZero = r.ci[0] > 0 || r.ci[1] < 0;
          return (
            <g key={r.label} className={`c${r.colour}${r.cuped ? ' cuped' : ''}`}>
              <text className="label" x={LABEL - 10} y={y + 4} textAnchor="end">
                {r.label}
              </text>
              <line className="ci" x1={lo} x2={hi} y1={y} y2={y} />
              <line className="ci" x1={lo} x2={lo} y1={y - 6} y2={y + 6} />
              <line className="ci" x1={hi} x2={hi} y1={y - 6} y2={y + 6} />
              <rect
                className={excludesZero ? 'point significant' : 'point'}
                x={x(r.estimate) - 5}
                y={y - 5}
                width={10}
                height={10}
                transform={`rotate(45 ${x(r.estimate)} ${y})`}
              />
              <text className="value" x={WIDTH - VALUES + 10} y={y + 4}>
                {`${formatDifference(r.estimate, metric.kind)} (${formatInterval(r.ci, metric.kind)})`}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="muted">
        Difference from {control} with {level} confidence intervals; a filled diamond marks an interval that
        excludes 0.
      </figcaption>
    </figure>
  );
}
