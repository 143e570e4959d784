import { describe, expect, it } from 'vitest';
import { dropIndex, keyStep, moveAnnouncement, moveItem } from './reorder';

const abc = ['a', 'b', 'c', 'd'] as const;

describe('moveItem', () => {
  it('moves down and up', () => {
    expect(moveItem(abc, 0, 2)).toEqual(['b', 'c', 'a', 'd']);
    expect(moveItem(abc, 3, 0)).toEqual(['d', 'a', 'b', 'c']);
    expect(moveItem(abc, 1, 2)).toEqual(['a', 'c', 'b', 'd']);
  });
  it('clamps the target and returns the same list when nothing moves', () => {
    expect(moveItem(abc, 0, -1)).toBe(abc);
    expect(moveItem(abc, 3, 9)).toBe(abc);
    expect(moveItem(abc, 2, 2)).toBe(abc);
    expect(moveItem(abc, 1, 99)).toEqual(['a', 'c', 'd', 'b']);
  });
  it('ignores an index outside the list and never loses or duplicates items', () => {
    expect(moveItem(abc, 7, 0)).toBe(abc);
    expect(moveItem([], 0, 0)).toEqual([]);
    for (let from = 0; from < abc.length; from++) {
      for (let to = 0; to < abc.length; to++) {
        expect([...moveItem(abc, from, to)].sort()).toEqual([...abc]);
        expect(moveItem(abc, from, to)[to]).toBe(abc[from]);
      }
    }
  });
});

describe('dropIndex', () => {
  it('drops before or after the item under the pointer', () => {
    // Dragging a (0) onto the lower half of c (2): after c.
    expect(moveItem(abc, 0, dropIndex(0, 2, false))).toEqual(['b', 'c', 'a', 'd']);
    // Onto the upper half of c: before c.
    expect(moveItem(abc, 0, dropIndex(0, 2, true))).toEqual(['b', 'a', 'c', 'd']);
    // Dragging d (3) onto the upper half of a: first.
    expect(moveItem(abc, 3, dropIndex(3, 0, true))).toEqual(['d', 'a', 'b', 'c']);
    // Onto the lower half of a: second.
    expect(moveItem(abc, 3, dropIndex(3, 0, false))).toEqual(['a', 'd', 'b', 'c']);
  });
  it('leaves the list alone when dropped on itself or next to itself', () => {
    expect(dropIndex(1, 1, true)).toBe(1);
    expect(dropIndex(1, 1, false)).toBe(1);
    expect(dropIndex(1, 0, false)).toBe(1);
    expect(dropIndex(1, 2, true)).toBe(1);
  });
});

describe('keyStep', () => {
  it('moves with Alt+ArrowUp/Down only', () => {
    expect(keyStep({ key: 'ArrowUp', altKey: true })).toBe(-1);
    expect(keyStep({ key: 'ArrowDown', altKey: true })).toBe(1);
    expect(keyStep({ key: 'ArrowDown', altKey: false })).toBe(0);
    expect(keyStep({ key: 'Enter', altKey: true })).toBe(0);
  });
});

it('announces the new position, counting from 1', () => {
  expect(moveAnnouncement('rule-2', 0, 3)).toBe('rule-2 moved to position 1 of 3');
});
