import { describe, expect, it } from 'vitest';
import {
  barSegments,
  evenSplit,
  FULL,
  fillRemainder,
  fromPercent,
  isComplete,
  setWeight,
  toPercent,
  total,
  totalMessage,
} from './rollout';

describe('rollout weights', () => {
  it('splits evenly to exactly 100 %', () => {
    const w = evenSplit(['a', 'b', 'c']);
    expect(w.map((x) => x.weight)).toEqual([3334, 3333, 3333]);
    expect(total(w)).toBe(FULL);
    expect(isComplete(w)).toBe(true);
    expect(evenSplit([])).toEqual([]);
  });
  it('converts percentages exactly', () => {
    expect(fromPercent('33.33')).toBe(3333);
    expect(fromPercent('5 %')).toBe(500);
    expect(fromPercent('0.5')).toBe(50);
    expect(fromPercent('100')).toBe(FULL);
    expect(fromPercent('100.01')).toBeUndefined();
    expect(fromPercent('1.234')).toBeUndefined();
    expect(fromPercent('-1')).toBeUndefined();
    expect(toPercent(3333)).toBe('33.33');
    expect(toPercent(5000)).toBe('50');
    expect(toPercent(50)).toBe('0.5');
  });
  it('fills the remainder into one variant and refuses when others exceed 100 %', () => {
    const w = setWeight(evenSplit(['on', 'off']), 0, 1000);
    expect(isComplete(w)).toBe(false);
    expect(totalMessage(w)).toBe('Weights total 60 %: 40 % left to assign');
    const filled = fillRemainder(w, 1);
    expect(filled.map((x) => x.weight)).toEqual([1000, 9000]);
    expect(totalMessage(filled)).toBe('');
    const over = setWeight(filled, 0, 20000);
    expect(over[0]?.weight).toBe(FULL);
    expect(totalMessage(over)).toBe('Weights total 190 %: 90 % too much');
    expect(
      fillRemainder(
        [
          { variant: 'a', weight: 9000 },
          { variant: 'b', weight: 9000 },
          { variant: 'c', weight: 0 },
        ],
        2,
      ),
    ).toEqual([
      { variant: 'a', weight: 9000 },
      { variant: 'b', weight: 9000 },
      { variant: 'c', weight: 0 },
    ]);
  });
  it('lays the bar out left to right, scaled when over 100 %', () => {
    const bar = barSegments([
      { variant: 'a', weight: 2500 },
      { variant: 'b', weight: 7500 },
    ]);
    expect(bar.map((s) => [s.start, s.width])).toEqual([
      [0, 25],
      [25, 75],
    ]);
    const over = barSegments([
      { variant: 'a', weight: 10000 },
      { variant: 'b', weight: 10000 },
    ]);
    expect(over.map((s) => s.width)).toEqual([50, 50]);
  });
});
