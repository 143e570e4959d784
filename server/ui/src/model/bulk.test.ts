import { describe, expect, it } from 'vitest';
import type { Flag } from '../api/client';
import { planBulk, runBulk, selectionState, selectShown } from './bulk';

const flag = (key: string, enabled: boolean | undefined) =>
  ({
    key,
    environments:
      enabled === undefined
        ? {}
        : { prod: { enabled, revision: 3, off_variant: 'off', default: { variant: 'on' } } },
  }) as unknown as Flag;

describe('planBulk', () => {
  const flags = [flag('a', false), flag('b', true), flag('c', undefined), flag('d', false)];
  it('writes only the selected flags that change, and names the rest', () => {
    const plan = planBulk(flags, new Set(['a', 'b', 'c', 'gone']), 'prod', true);
    expect(plan.writes.map((w) => w.key)).toEqual(['a']);
    expect(plan.writes[0]?.targeting.revision).toBe(3);
    expect(plan.unchanged).toEqual(['b']);
    expect(plan.missing).toEqual(['c', 'gone']);
  });
  it('turns off as well', () => {
    expect(planBulk(flags, new Set(['a', 'b', 'd']), 'prod', false).writes.map((w) => w.key)).toEqual(['b']);
  });
});

describe('runBulk', () => {
  it('reports each outcome in order, failures without stopping the rest', async () => {
    const heard: string[] = [];
    const out = await runBulk(
      [{ key: 'a' }, { key: 'b' }, { key: 'c' }],
      async (i) => {
        await new Promise((r) => setTimeout(r, i.key === 'a' ? 20 : 1));
        if (i.key === 'b') throw new Error('conflict');
      },
      2,
      (o) => heard.push(o.key),
    );
    expect(out.map((o) => [o.key, o.ok])).toEqual([
      ['a', true],
      ['b', false],
      ['c', true],
    ]);
    expect(heard).toEqual(['b', 'c', 'a']);
    const failed = out[1];
    expect(failed && !failed.ok && (failed.error as Error).message).toBe('conflict');
  });
  it('keeps to the concurrency', async () => {
    let running = 0;
    let most = 0;
    await runBulk(
      Array.from({ length: 10 }, (_, i) => ({ key: `k${i}` })),
      async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
      },
      3,
    );
    expect(most).toBe(3);
  });
  it('does nothing for no items', async () => {
    expect(await runBulk([], async () => {})).toEqual([]);
  });
});

describe('selection', () => {
  it('tells all, some or none of the shown flags', () => {
    expect(selectionState(['a', 'b'], new Set())).toBe('none');
    expect(selectionState(['a', 'b'], new Set(['a', 'x']))).toBe('some');
    expect(selectionState(['a', 'b'], new Set(['a', 'b']))).toBe('all');
    expect(selectionState([], new Set(['a']))).toBe('none');
  });
  it('selects and clears the shown flags, keeping others', () => {
    expect([...selectShown(new Set(['x']), ['a', 'b'], true)].sort()).toEqual(['a', 'b', 'x']);
    expect([...selectShown(new Set(['a', 'x']), ['a', 'b'], false)]).toEqual(['x']);
  });
});
