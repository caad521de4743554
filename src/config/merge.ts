// Layering config sources: objects merge key by key, everything else (scalars, lists)
// replaces. Each layer remembers which source set which key, so errors can say where a
// bad value came from.

import { isPlainObject } from './schema-walk.js';

export type DeepPartial<T> = T extends readonly (infer U)[]
  ? readonly U[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export type Tree = Record<string, unknown>;

export function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

export function setPath(tree: Tree, path: readonly string[], value: unknown): void {
  let node = tree;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (!isPlainObject(next)) node[key] = {};
    node = node[key] as Tree;
  });
}

/** every leaf path a tree sets (lists and empty objects count as leaves) */
export function leavesOf(tree: unknown, path: string[] = []): string[][] {
  if (!isPlainObject(tree) || Object.keys(tree).length === 0) return [path];
  return Object.entries(tree).flatMap(([key, value]) => leavesOf(value, [...path, key]));
}

/** One source of settings: a partial config tree and who set each key. */
export class Layer {
  readonly tree: Tree = {};
  private readonly origins = new Map<string, string>();

  constructor(readonly label: string) {}

  static fromTree(label: string, tree: Tree): Layer {
    const layer = new Layer(label);
    for (const path of leavesOf(tree)) if (path.length > 0) layer.origins.set(path.join('.'), label);
    Object.assign(layer.tree, tree);
    return layer;
  }

  set(path: readonly string[], value: unknown, origin: string): void {
    setPath(this.tree, path, value);
    this.origins.set(path.join('.'), origin);
  }

  /** who set this key, a key under it, or (for a missing key) one of its siblings */
  originNear(path: readonly string[]): string | undefined {
    const key = path.join('.');
    const exact = this.origins.get(key);
    if (exact) return exact;
    for (const [set, origin] of this.origins) if (key === '' || set.startsWith(`${key}.`)) return origin;
    return undefined;
  }
}

/** The source that explains a problem at `path`: the nearest key, latest layer first. */
export function originOf(layers: readonly Layer[], path: readonly string[]): string | undefined {
  for (let n = path.length; n >= 0; n--) {
    for (let i = layers.length - 1; i >= 0; i--) {
      const origin = layers[i]?.originNear(path.slice(0, n));
      if (origin) return origin;
    }
  }
  return undefined;
}
