// A unified diff (the server's text) shown line by line: added and removed lines coloured and
// marked with + and −, unchanged lines muted, each with its line numbers in the older and the
// newer text.
import { diffLines, diffStat } from '../model/config';

const SIGN = { add: '+', del: '-', context: ' ', hunk: '', header: '', note: '' } as const;

/** Shows `diff` (unified diff text) under `label`. */
export function UnifiedDiff({ diff, label }: { diff: string; label: string }) {
  const lines = diffLines(diff);
  const { added, removed } = diffStat(lines);
  return (
    <figure className="udiff">
      <figcaption>
        {label}{' '}
        <span className="muted">
          (<span className="stat-add">+{added}</span> <span className="stat-del">−{removed}</span> lines)
        </span>
      </figcaption>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
      <pre tabIndex={0}>
        {lines.map((l, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the lines of one diff never reorder
          <span key={i} className={`dl ${l.kind}`}>
            <span className="ln" aria-hidden="true">
              {l.old ?? ''}
            </span>
            <span className="ln" aria-hidden="true">
              {l.new ?? ''}
            </span>
            <span className="sign">{SIGN[l.kind]}</span>
            {l.text || ' '}
          </span>
        ))}
      </pre>
    </figure>
  );
}
