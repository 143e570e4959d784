// The sequential (always-valid) p-value of each treatment over time, for one metric: the
// analysis repeated as of evenly spaced instants (`?timeline=` of the results API). Unlike the
// fixed-horizon p-value, the sequential one may be watched continuously; the dashed line is
// the significance threshold (1 − confidence). The y axis is logarithmic. SVG drawn by React,
// colours from classes (the CSP allows no inline style). Loaded on demand with the results.
import type { ExperimentResults, MetricResult } from '../api/queries';

type Point = ExperimentResults['timeline'][number];

/** Props of [`PValueChart`]. */
export interface PValueChartProps {
  /** The metric whose comparisons are drawn. */
  metric: MetricResult;
  /** The results' timeline, oldest first. */
  timeline: Point[];
  /** Confidence level, e.g. 0.95 (the threshold is 1 − confidence). */
  confidence: number;
}

const WIDTH = 760;
const HEIGHT = 220;
const LEFT = 60;
const RIGHT = 150;
const TOP = 10;
const BOTTOM = 34;
/** The smallest p-value drawn (10⁻⁶); smaller ones sit on the bottom line. */
const FLOOR = 6;

/** `-log10(p)`, capped at [`FLOOR`]. */
function depth(p: number): number {
  return Math.min(FLOOR, -Math.log10(Math.max(p, 10 ** -FLOOR)));
}

/** The chart (nothing when the timeline has fewer than two points with a sequential p-value). */
export default function PValueChart({ metric, timeline, confidence }: PValueChartProps) {
  const names = metric.variants.map((v) => v.variant);
  const series = metric.comparisons.map((c) => ({
    variant: c.variant,
    colour: Math.max(0, names.indexOf(c.variant)) % 6,
    points: timeline.flatMap((t) => {
      const p = t.comparisons.find(
        (x) => x.metric === metric.key && x.variant === c.variant,
      )?.sequential_p_value;
      return p === null || p === undefined ? [] : [{ at: t.at, p }];
    }),
  }));
  if (!series.some((s) => s.points.length >= 2)) return null;
  const start = timeline[0]?.at ?? 0;
  const end = timeline[timeline.length - 1]?.at ?? start;
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const x = (at: number) => LEFT + (end === start ? plotW : ((at - start) / (end - start)) * plotW);
  const y = (p: number) => TOP + (depth(p) / FLOOR) * plotH;
  const alpha = 1 - confidence;
  const titleId = `pvalues-${metric.key}-title`;
  const descId = `pvalues-${metric.key}-desc`;
  const fmt = (p: number) => (p < 0.0001 ? '< 0.0001' : p.toFixed(4));
  // Seconds matter when the data arrived within the hour.
  const time = (at: number) =>
    new Date(at).toLocaleString([], {
      dateStyle: 'short',
      timeStyle: end - start < 3_600_000 ? 'medium' : 'short',
    });
  // End labels, top to bottom, pushed apart so that they never overlap (nor leave the chart).
  const labels = series
    .flatMap((s) => {
      const last = s.points[s.points.length - 1];
      return last ? [{ variant: s.variant, colour: s.colour, p: last.p, y: y(last.p) + 4 }] : [];
    })
    .sort((a, b) => a.y - b.y);
  labels.forEach((l, i) => {
    const above = labels[i - 1];
    l.y = Math.max(l.y, above ? above.y + 14 : TOP + 10);
  });
  return (
    <figure className="forest pvalues">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        width="100%"
        role="img"
        aria-labelledby={titleId}
        aria-describedby={descId}
        preserveAspectRatio="xMinYMin meet"
      >
        <title id={titleId}>{`${metric.key}: sequential p-value over time`}</title>
        <desc id={descId}>
          {series
            .map((s) => {
              const last = s.points[s.points.length - 1];
              return last ? `${s.variant}: ${fmt(last.p)} at ${time(last.at)}` : `${s.variant}: no data`;
            })
            .join('; ')}
        </desc>
        {[0, 1, 2, 3, 4, 5, 6].map((d) => (
          <g key={d} className="tick">
            <line x1={LEFT} x2={LEFT + plotW} y1={TOP + (d / FLOOR) * plotH} y2={TOP + (d / FLOOR) * plotH} />
            <text x={LEFT - 6} y={TOP + (d / FLOOR) * plotH + 4} textAnchor="end">
              {d === 0 ? '1' : `1e-${d}`}
            </text>
          </g>
        ))}
        <g className="zero">
          <line x1={LEFT} x2={LEFT + plotW} y1={y(alpha)} y2={y(alpha)} />
          <text x={LEFT + 4} y={y(alpha) - 4}>{`p = ${Number(alpha.toFixed(4))}`}</text>
        </g>
        <text className="axis-label" x={LEFT} y={HEIGHT - 4}>
          {time(start)}
        </text>
        <text className="axis-label" x={LEFT + plotW} y={HEIGHT - 4} textAnchor="end">
          {time(end)}
        </text>
        {series.map((s) => (
          <g key={s.variant} className={`c${s.colour}`}>
            <polyline
              className="ci"
              fill="none"
              points={s.points.map((pt) => `${x(pt.at)},${y(pt.p)}`).join(' ')}
            />
          </g>
        ))}
        {labels.map((l) => (
          <g key={l.variant} className={`c${l.colour}`}>
            <text className="value" x={LEFT + plotW + 6} y={l.y}>
              {`${l.variant} ${fmt(l.p)}`}
            </text>
          </g>
        ))}
      </svg>
      <figcaption className="muted">
        Sequential p-value of each variant against the control as the data arrived (log scale); below the
        dashed line the difference is significant, and it stays valid however often you look.
      </figcaption>
    </figure>
  );
}
