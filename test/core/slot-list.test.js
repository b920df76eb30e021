'use strict';
const { expect } = require('chai');
const { SlotList } = require('../../dist/core/slot-list.js');

/** The list's slots from head to tail, walked through `next`. */
function walk(list) {
  const out = [];
  for (let s = list.head; s !== -1; s = list.next[s]) out.push(s);
  return out;
}

describe('SlotList (least-recently-seen order of slots, shared by the baseline and recent-peak stores)', function () {
  it('keeps the same order as an array model through appends, moves to the tail and removals (seeded random operations)', function () {
    let seed = 12345;
    const rand = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const list = new SlotList();
    const model = [];
    const free = [];
    let hwm = 0;
    for (let i = 0; i < 5000; i++) {
      const op = rand(3);
      if (op === 0 || model.length === 0) {
        const s = free.length > 0 ? free.pop() : hwm++;
        list.grow(hwm);
        list.append(s);
        model.push(s);
      } else if (op === 1) {
        const s = model[rand(model.length)];
        list.moveToTail(s);
        model.splice(model.indexOf(s), 1);
        model.push(s);
      } else {
        const s = rand(2) === 0 ? model[0] : model[rand(model.length)]; // evicting the head, or any slot
        list.remove(s);
        model.splice(model.indexOf(s), 1);
        free.push(s);
      }
      if (i % 250 === 0) expect(walk(list), `after operation ${i}`).to.deep.equal(model);
    }
    expect(walk(list)).to.deep.equal(model);
    expect(list.head).to.equal(model.length ? model[0] : -1);
    expect(list.tail).to.equal(model.length ? model[model.length - 1] : -1);
  });

  it('grow keeps the links; clear empties the list', function () {
    const list = new SlotList();
    list.grow(2);
    list.append(1); list.append(0);
    list.grow(1000);
    list.append(999);
    expect(walk(list)).to.deep.equal([1, 0, 999]);
    list.moveToTail(1);
    expect(walk(list)).to.deep.equal([0, 999, 1]);
    list.remove(1);
    expect([list.head, list.tail]).to.deep.equal([0, 999]);
    list.clear();
    expect([list.head, list.tail, walk(list).length]).to.deep.equal([-1, -1, 0]);
  });
});
