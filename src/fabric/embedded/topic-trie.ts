// AMQP topic matching as a trie over dot-separated words: `*` matches exactly one word,
// `#` zero or more. Matching walks only the branches a routing key can reach, so its cost
// grows with the key's length and the wildcards on the way, not with the number of bindings.
// (RabbitMQ's rabbit_exchange_type_topic keeps the same trie in Mnesia.)

interface TrieNode<T> {
  words: Map<string, TrieNode<T>>;
  star: TrieNode<T> | undefined;
  hash: TrieNode<T> | undefined;
  /** values bound at this node, with how many bindings hold each */
  values: Map<T, number>;
}

function newNode<T>(): TrieNode<T> {
  return { words: new Map(), star: undefined, hash: undefined, values: new Map() };
}

/** RabbitMQ splits the empty key into zero words, not one empty word. */
export function splitTopic(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

/** `a.#.#.b` matches exactly what `a.#.b` matches; collapsing keeps matching linear. */
function normalise(pattern: string): string[] {
  const out: string[] = [];
  for (const w of splitTopic(pattern)) {
    if (w === '#' && out[out.length - 1] === '#') continue;
    out.push(w);
  }
  return out;
}

export class TopicTrie<T> {
  private readonly root: TrieNode<T> = newNode();
  private bindingCount = 0;

  get size(): number {
    return this.bindingCount;
  }

  add(pattern: string, value: T): void {
    let node = this.root;
    for (const w of normalise(pattern)) node = child(node, w, true) as TrieNode<T>;
    node.values.set(value, (node.values.get(value) ?? 0) + 1);
    this.bindingCount++;
  }

  /** removes one binding of `value` at `pattern`; prunes empty branches */
  remove(pattern: string, value: T): boolean {
    const path: [TrieNode<T>, string][] = [];
    let node: TrieNode<T> | undefined = this.root;
    for (const w of normalise(pattern)) {
      path.push([node, w]);
      node = child(node, w, false);
      if (node === undefined) return false;
    }
    const n = node.values.get(value);
    if (n === undefined) return false;
    if (n > 1) node.values.set(value, n - 1);
    else node.values.delete(value);
    this.bindingCount--;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, w] = path[i] as [TrieNode<T>, string];
      const c = child(parent, w, false) as TrieNode<T>;
      if (!isEmpty(c)) break;
      detach(parent, w);
    }
    return true;
  }

  match(routingKey: string, out: Set<T>): void {
    walk(this.root, splitTopic(routingKey), 0, out);
  }
}

function child<T>(node: TrieNode<T>, word: string, create: boolean): TrieNode<T> | undefined {
  if (word === '*') {
    if (create && node.star === undefined) node.star = newNode();
    return node.star;
  }
  if (word === '#') {
    if (create && node.hash === undefined) node.hash = newNode();
    return node.hash;
  }
  let c = node.words.get(word);
  if (c === undefined && create) {
    c = newNode();
    node.words.set(word, c);
  }
  return c;
}

function detach<T>(node: TrieNode<T>, word: string): void {
  if (word === '*') node.star = undefined;
  else if (word === '#') node.hash = undefined;
  else node.words.delete(word);
}

function isEmpty<T>(n: TrieNode<T>): boolean {
  return n.values.size === 0 && n.words.size === 0 && n.star === undefined && n.hash === undefined;
}

function walk<T>(node: TrieNode<T>, words: string[], i: number, out: Set<T>): void {
  if (node.hash !== undefined) {
    // `#` swallows words i..j-1 for every j, including none
    for (let j = i; j <= words.length; j++) walk(node.hash, words, j, out);
  }
  if (i === words.length) {
    for (const v of node.values.keys()) out.add(v);
    return;
  }
  const next = node.words.get(words[i] as string);
  if (next !== undefined) walk(next, words, i + 1, out);
  if (node.star !== undefined) walk(node.star, words, i + 1, out);
}
