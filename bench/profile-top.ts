// Summarise a V8 .cpuprofile (from `npm run bench -- <scenario> --cpu-prof`): the functions
// with the most self time, and the files they live in.
//   npx tsx bench/profile-top.ts bench/results/profiles/CPU.….cpuprofile [top=25]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

const file = process.argv[2];
if (!file) {
  console.error('usage: npx tsx bench/profile-top.ts <file.cpuprofile> [top=25]');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

// self time per node from the sample stream (hitCount is not always filled in)
const selfUs = new Map<number, number>();
const samples = profile.samples ?? [];
const deltas = profile.timeDeltas ?? [];
for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (deltas[i] ?? 0));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;

const short = (url: string): string => {
  const i = url.indexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 14);
  const j = url.indexOf('/src/');
  if (j >= 0) return url.slice(j + 1);
  return url.replace(/^file:\/\//, '') || '(native)';
};

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (us === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const where = short(url);
  const key = `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const fileKey = url.includes('/node_modules/') ? where.split('/').slice(0, where.startsWith('@') ? 2 : 1).join('/') : where;
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
}

const show = (title: string, m: Map<string, number>): void => {
  console.log(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
show('self time by function', byFunction);
show('self time by file / package', byFile);
