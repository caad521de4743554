import { describe, expect, it } from 'vitest';
import { corkForTurn } from '../../../src/transport/turn-cork.js';

function fakeSocket() {
  const calls: string[] = [];
  return { calls, cork: () => calls.push('cork'), uncork: () => calls.push('uncork') };
}

const nextCheckPhase = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('UNIT: corkForTurn', () => {
  it('corks a socket once per event-loop turn and uncorks every corked socket after it', async () => {
    const a = fakeSocket();
    const b = fakeSocket();
    corkForTurn(a);
    corkForTurn(a);
    corkForTurn(b);
    corkForTurn(a);
    expect(a.calls).toEqual(['cork']);
    expect(b.calls).toEqual(['cork']);
    await nextCheckPhase();
    expect(a.calls).toEqual(['cork', 'uncork']);
    expect(b.calls).toEqual(['cork', 'uncork']);
  });

  it('corks again in a later turn', async () => {
    const a = fakeSocket();
    corkForTurn(a);
    await nextCheckPhase();
    corkForTurn(a);
    await nextCheckPhase();
    expect(a.calls).toEqual(['cork', 'uncork', 'cork', 'uncork']);
  });
});
