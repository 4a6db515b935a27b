// The module system: registration and names, state dicts, modes, traversal, devices, printing.
import { describe, expect, it } from 'vitest';
import * as kiln from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { expectClose, t64, vals } from '../helpers/nn.js';

const { nn } = kiln;

class Net extends nn.Module {
  features = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.BatchNorm1d(8));
  head = new nn.Linear(8, 2);
  scale!: kiln.nn.Parameter;
  constructor() {
    super();
    this.registerParameter('scale', kiln.ones([1]));
    this.registerBuffer('steps', kiln.zeros([1]));
    this.registerBuffer('cache', kiln.zeros([2]), false);
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(this.features.forward(x)).mul(this.scale);
  }
}

describe('Module', () => {
  it('names parameters and buffers by dotted path, own ones first, as PyTorch', () => {
    const m = new Net();
    expect(m.namedParameters().map(([k]) => k)).toEqual([
      'scale', 'features.0.weight', 'features.0.bias', 'features.2.weight', 'features.2.bias', 'head.weight', 'head.bias',
    ]);
    expect(Object.keys(m.stateDict())).toEqual([
      'scale', 'steps', 'features.0.weight', 'features.0.bias', 'features.2.weight', 'features.2.bias',
      'features.2.running_mean', 'features.2.running_var', 'features.2.num_batches_tracked',
      'head.weight', 'head.bias',
    ]);
    expect(m.namedBuffers().map(([k]) => k)).toContain('cache');
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect(m.numParameters()).toBe(4 * 8 + 8 + 8 + 8 + 8 * 2 + 2 + 1);
  });
  it('stateDict -> loadStateDict round trip, strict and non-strict, shape errors', () => {
    const a = new Net();
    const b = new Net();
    b.loadStateDict(a.stateDict());
    for (const [k, v] of Object.entries(a.stateDict())) expect(vals(b.stateDict()[k])).toEqual(vals(v));
    const partial = a.stateDict();
    delete partial['head.bias'];
    partial.extra = kiln.zeros([1]);
    expect(() => b.loadStateDict(partial)).toThrow(/missing keys: head.bias; unexpected keys: extra/);
    expect(b.loadStateDict(partial, { strict: false })).toEqual({ missingKeys: ['head.bias'], unexpectedKeys: ['extra'] });
    const bad = a.stateDict();
    bad['head.weight'] = kiln.zeros([3, 8]);
    expect(() => b.loadStateDict(bad)).toThrow(/head.weight: checkpoint shape \[3,8\] != model shape \[2,8\]/);
  });
  it('loadStateDict writes in place, so an optimizer keeps its references', () => {
    const m = new nn.Linear(2, 2);
    const w = m.weight;
    m.loadStateDict({ weight: kiln.ones([2, 2]), bias: kiln.zeros([2]) });
    expect(m.weight).toBe(w);
    expect(vals(w)).toEqual([1, 1, 1, 1]);
  });
  it('train / eval reach every descendant; apply visits children first', () => {
    const m = new Net();
    m.eval();
    expect([...m.modules()].every((x) => !x.training)).toBe(true);
    m.train();
    expect([...m.modules()].every((x) => x.training)).toBe(true);
    const order: string[] = [];
    m.apply((x) => order.push(x.constructor.name));
    expect(order[order.length - 1]).toBe('Net');
    expect(order.indexOf('Linear')).toBeLessThan(order.indexOf('Sequential'));
  });
  it('zeroGrad clears gradients; requiresGrad_ freezes', () => {
    const m = new Net();
    m.forward(kiln.randn([3, 4])).sum().backward();
    expect(m.parameters().every((p) => p.grad !== null)).toBe(true);
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
    m.head.requiresGrad_(false);
    expect(m.numParameters(true)).toBe(m.numParameters() - 18);
  });
  it('to(dtype) converts parameters and float buffers, keeping names', () => {
    const m = new Net().to('float64');
    expect(m.parameters().every((p) => p.dtype === 'float64')).toBe(true);
    expect(m.features.at(2).stateDict()['num_batches_tracked'].dtype).toBe('int32');
    expect(m.forward(t64([2, 4], 3)).dtype).toBe('float64');
  });
  it('toString shows the tree and the parameter count', () => {
    const s = new Net().toString();
    expect(s).toContain('(features): Sequential(');
    expect(s).toContain('(0): Linear(inFeatures=4, outFeatures=8, bias=true)  # 40');
    expect(s).toMatch(/75 parameters$/);
  });
  it('shared parameters are listed once', () => {
    const lin = new nn.Linear(3, 3);
    const seq = new nn.Sequential(lin, new nn.ReLU(), lin);
    expect(seq.parameters().length).toBe(2);
  });
  it('Sequential, ModuleList and ModuleDict', () => {
    const seq = new nn.Sequential(new nn.Linear(2, 3), new nn.Tanh());
    seq.append(new nn.Linear(3, 1));
    expect(seq.length).toBe(3);
    expect(seq.forward(kiln.randn([5, 2])).shape).toEqual([5, 1]);
    const list = new nn.ModuleList([new nn.Linear(1, 1), new nn.Linear(1, 1)]);
    expect(Object.keys(list.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect([...list].length).toBe(2);
    const dict = new nn.ModuleDict({ enc: new nn.Linear(2, 2), dec: new nn.Linear(2, 2) });
    expect(dict.keys()).toEqual(['enc', 'dec']);
    expect(Object.keys(dict.stateDict())[0]).toBe('enc.weight');
    expect(() => list.forward()).toThrow(/no forward/);
  });
  it('call() runs forward()', () => {
    const lin = new nn.Linear(2, 2, { dtype: 'float64' });
    const x = t64([1, 2], 3);
    expectClose(lin.call(x), vals(lin.forward(x)));
  });
  it('clone() is a deep copy: same class, names, values and modes; independent storage', () => {
    const a = new Net();
    a.forward(kiln.randn([3, 4]));
    a.head.requiresGrad_(false);
    a.eval();
    const b = a.clone();
    expect(b).toBeInstanceOf(Net);
    expect(b.features).toBeInstanceOf(nn.Sequential);
    expect(b.features).not.toBe(a.features);
    expect(Object.keys(b.stateDict())).toEqual(Object.keys(a.stateDict()));
    expect(b.namedBuffers().map(([k]) => k)).toEqual(a.namedBuffers().map(([k]) => k));
    for (const [k, v] of Object.entries(a.stateDict())) {
      expect(vals(b.stateDict()[k])).toEqual(vals(v));
      expect(b.stateDict({ keepVars: true })[k]).not.toBe(a.stateDict({ keepVars: true })[k]);
    }
    expect(b.parameters().map((p) => p.requiresGrad)).toEqual(a.parameters().map((p) => p.requiresGrad));
    expect([...b.modules()].every((m) => !m.training)).toBe(true);
    const x = kiln.randn([2, 4]);
    kiln.noGrad(() => expect(vals(b.forward(x))).toEqual(vals(a.forward(x))));
    // Writes to the copy leave the original alone (parameters and buffers).
    const before = vals(a.head.weight);
    kiln.noGrad(() => {
      b.head.weight.fill_(3);
      (b.features.at(2) as kiln.nn.BatchNorm1d).running_mean!.fill_(7);
    });
    expect(vals(a.head.weight)).toEqual(before);
    expect(vals((a.features.at(2) as kiln.nn.BatchNorm1d).running_mean!).every((v) => v !== 7)).toBe(true);
    b.train();
    expect(a.training).toBe(false);
    // Registering a buffer on the copy does not register it on the original.
    b.registerBuffer('extra', kiln.zeros([1]));
    expect(Object.keys(b.stateDict())).toContain('extra');
    expect(Object.keys(a.stateDict())).not.toContain('extra');
    b.dispose();
  });
  it('clone() keeps sharing inside the tree and trains independently', () => {
    const lin = new nn.Linear(3, 3);
    const seq = new nn.Sequential(lin, new nn.ReLU(), lin);
    const c = seq.clone();
    expect(c.at(0)).toBe(c.at(2));
    expect(c.at(0)).not.toBe(lin);
    expect(c.parameters().length).toBe(2);
    c.forward(kiln.randn([2, 3])).sum().backward();
    expect(c.parameters().every((p) => p.grad !== null)).toBe(true);
    expect(seq.parameters().every((p) => p.grad === null)).toBe(true);
  });
  it('clone() copies tensors held in arrays and plain records, and built-in layers run the same', () => {
    class Holder extends nn.Module {
      table = { scale: kiln.ones([2]), list: [kiln.zeros([1])] };
      forward(x: Tensor): Tensor {
        return x.mul(this.table.scale);
      }
    }
    const h = new Holder();
    const c = h.clone();
    expect(c.table.scale).not.toBe(h.table.scale);
    expect(c.table.list[0]).not.toBe(h.table.list[0]);
    expect(vals(c.table.scale)).toEqual([1, 1]);
    const lstm = new nn.LSTM(3, 4, { numLayers: 2, dtype: 'float64' });
    const copy = lstm.clone();
    expect(Object.keys(copy.stateDict())).toEqual(Object.keys(lstm.stateDict()));
    const x = t64([5, 2, 3], 9);
    kiln.noGrad(() => expectClose(copy.forward(x)[0], vals(lstm.forward(x)[0]), 0));
  });
  it('building and running a model inside tidy leaks nothing but the model', () => {
    const before = kiln.memory().tensors;
    const m = kiln.tidy(() => new Net());
    const count = m.parameters().length + m.buffers().length;
    expect(kiln.memory().tensors - before).toBe(count);
    kiln.tidy(() => m.forward(kiln.randn([3, 4])).sum().backward());
    m.zeroGrad();
    m.dispose();
    expect(kiln.memory().tensors).toBe(before);
  });
});
