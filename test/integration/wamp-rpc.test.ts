// E2E: WAMP RPC through the gateway (CALL → AMQP request → INVOCATION, YIELD → reply → RESULT)
// with autobahn and raw peers, on both fabrics.
import { describe, expect, it } from 'vitest';
import { brokerAvailable } from '../support/broker.js';
import type { TestGateway } from '../support/gateway.js';
import { RawWamp, autobahn, uniqueTopic, wampGatewayFixture, type AbInvocation } from './wamp-support.js';

type CallError = { error: string; args: unknown[]; kwargs: Record<string, unknown> };

async function callError(p: PromiseLike<unknown>): Promise<CallError> {
  try {
    await p;
  } catch (err) {
    return err as CallError;
  }
  throw new Error('the call succeeded');
}

/** a raw callee that announces call_canceling and progressive results */
async function rawCallee(gw: TestGateway, procedure: string): Promise<{ raw: RawWamp; registration: number }> {
  const raw = await RawWamp.connect(gw.wsUrl('/ws'));
  raw.send([1, 'realm1', { roles: { callee: { features: { call_canceling: true, progressive_call_results: true } } } }]);
  expect((await raw.next())[0]).toBe(2);
  raw.send([64, 1, {}, procedure]);
  const registered = await raw.next();
  expect(registered.slice(0, 2)).toEqual([65, 1]);
  return { raw, registration: registered[2] as number };
}

function rpcSuite(fabric: 'embedded' | 'amqp') {
  const fixture = wampGatewayFixture(fabric);
  const join = fixture.join;

  it('calls a procedure with args and kwargs; results and errors come back', async () => {
    const proc = uniqueTopic('add');
    const [caller, callee] = [await join('json'), await join('msgpack')];
    await callee.register(proc, (args, kwargs) => {
      if (kwargs.fail === true) throw new autobahn.Error('com.example.refused', ['no'], { why: 'asked to' });
      return new autobahn.Result([(args[0] as number) + (args[1] as number)], { op: 'add' });
    });
    const result = (await caller.call(proc, [2, 3], { extra: 1 })) as { args: unknown[]; kwargs: unknown };
    expect(result).toMatchObject({ args: [5], kwargs: { op: 'add' } });
    const err = await callError(caller.call(proc, [1, 1], { fail: true }));
    expect(err).toMatchObject({ error: 'com.example.refused', args: ['no'], kwargs: { why: 'asked to' } });
  });

  it('a single-value result is the plain value (autobahn unwraps args [x])', async () => {
    const proc = uniqueTopic('echo');
    const [caller, callee] = [await join(), await join()];
    await callee.register(proc, (args) => args[0]);
    expect(await caller.call(proc, [{ deep: [1, 2, { x: 'y' }] }])).toEqual({ deep: [1, 2, { x: 'y' }] });
    expect(await caller.call(proc, ['text'])).toBe('text');
  });

  it('no_such_procedure when nobody registered it', async () => {
    const caller = await join();
    expect((await callError(caller.call(uniqueTopic('nobody'), []))).error).toBe('wamp.error.no_such_procedure');
  });

  it('a second single registration is refused; after UNREGISTER the procedure is free again', async () => {
    const proc = uniqueTopic('single');
    const [a, b, caller] = [await join(), await join(), await join()];
    const reg = await a.register(proc, () => 'a');
    const refused = await b.register(proc, () => 'b').then(() => null, (e: CallError) => e);
    expect(refused?.error).toBe('wamp.error.procedure_already_exists');
    const sharedRefused = await b.register(proc, () => 'b', { invoke: 'roundrobin' }).then(() => null, (e: CallError) => e);
    expect(sharedRefused?.error).toBe('wamp.error.procedure_already_exists');
    await a.unregister(reg);
    await b.register(proc, () => 'b');
    expect(await caller.call(proc, [])).toBe('b');
  });

  it('shared registration: roundrobin, first, last, random; a different policy is refused', async () => {
    const caller = await join();
    const callees = [await join(), await join(), await join()];
    for (const invoke of ['roundrobin', 'first', 'last', 'random'] as const) {
      const proc = uniqueTopic(invoke);
      for (const [i, c] of callees.entries()) await c.register(proc, () => i, { invoke });
      const refused = await (await join()).register(proc, () => 9, { invoke: invoke === 'first' ? 'last' : 'first' }).then(() => null, (e: CallError) => e);
      expect(refused?.error, invoke).toBe('wamp.error.procedure_already_exists');
      const answers: number[] = [];
      for (let n = 0; n < 30; n++) answers.push((await caller.call(proc, [])) as number);
      const counts = [0, 1, 2].map((i) => answers.filter((x) => x === i).length);
      if (invoke === 'roundrobin') expect(counts).toEqual([10, 10, 10]);
      if (invoke === 'first') expect(counts).toEqual([30, 0, 0]);
      if (invoke === 'last') expect(counts).toEqual([0, 0, 30]);
      if (invoke === 'random') expect(counts.filter((c) => c > 0).length).toBeGreaterThan(1);
    }
  });

  it('progressive results reach a caller that asked for them, then the final result', async () => {
    const proc = uniqueTopic('progress');
    const [caller, callee] = [await join(), await join()];
    await callee.register(proc, async (_args, _kw, details: AbInvocation) => {
      for (let i = 1; i <= 3; i++) details.progress?.([i]);
      return 'done';
    });
    const progress: unknown[] = [];
    const final = await new Promise((resolve, reject) => {
      caller.call(proc, [], {}, { receive_progress: true }).then(resolve, reject, (p) => progress.push(p));
    });
    expect(progress).toEqual([1, 2, 3]);
    expect(final).toBe('done');
    // without receive_progress only the final result arrives
    expect(await caller.call(proc, [])).toBe('done');
  });

  it('caller identification: disclose_me shows the caller to the callee', async () => {
    const proc = uniqueTopic('whoami');
    const [caller, callee] = [await join(), await join()];
    await callee.register(proc, (_a, _k, details) => [details.caller ?? null, details.caller_authid ?? null]);
    expect(await caller.call(proc, [], {}, { disclose_me: true })).toEqual([caller.id, 'guest']);
    expect(await caller.call(proc, [])).toEqual([null, null]);
  });

  it('call timeout: wamp.error.timeout, and the callee is interrupted', async () => {
    const proc = uniqueTopic('slow');
    const { raw } = await rawCallee(fixture.gw, proc);
    const caller = await join();
    const pending = callError(caller.call(proc, ['x'], {}, { timeout: 300 }));
    const invocation = await raw.next();
    expect(invocation[0]).toBe(68);
    expect(invocation[3]).toMatchObject({ timeout: 300 });
    expect((await pending).error).toBe('wamp.error.timeout');
    expect(await raw.next()).toEqual([69, invocation[1], { mode: 'killnowait' }]);
    raw.close();
  });

  it('CANCEL skip forgets the call (no ERROR: autobahn rejects locally, as with Crossbar) and drops the late result', async () => {
    const proc = uniqueTopic('skip');
    const { raw } = await rawCallee(fixture.gw, proc);
    const caller = await join();
    const call = caller.call(proc, []);
    const invocation = await raw.next();
    call.cancel({ mode: 'skip' });
    expect(await callError(call)).toMatchObject({ error: 'Cancelled' }); // autobahn rejects locally for skip
    raw.send([70, invocation[1], {}, ['late']]);
    // the session stays healthy: a new call works
    const next = caller.call(proc, ['again']);
    const inv2 = await raw.next();
    raw.send([70, inv2[1], {}, ['fresh']]);
    expect(await next).toBe('fresh');
    raw.close();
  });

  it('CANCEL killnowait answers canceled at once and interrupts the callee', async () => {
    const proc = uniqueTopic('killnowait');
    const { raw } = await rawCallee(fixture.gw, proc);
    const callerRaw = await RawWamp.connect(fixture.gw.wsUrl('/ws'));
    await callerRaw.hello();
    callerRaw.send([48, 3, {}, proc, []]);
    const invocation = await raw.next();
    callerRaw.send([49, 3, { mode: 'killnowait' }]);
    expect(await callerRaw.next()).toEqual([8, 48, 3, { message: 'call canceled' }, 'wamp.error.canceled']);
    expect(await raw.next()).toEqual([69, invocation[1], { mode: 'killnowait' }]);
    raw.send([70, invocation[1], {}, ['too late']]);
    callerRaw.send([48, 4, {}, proc, []]); // the late YIELD is not delivered: the next message is about call 4
    const inv2 = await raw.next();
    raw.send([70, inv2[1], {}, ['four']]);
    expect(await callerRaw.next()).toEqual([50, 4, {}, ['four']]);
    raw.close();
    callerRaw.close();
  });

  it('CANCEL kill interrupts the callee and the caller gets its answer', async () => {
    const proc = uniqueTopic('kill');
    const { raw } = await rawCallee(fixture.gw, proc);
    const callerRaw = await RawWamp.connect(fixture.gw.wsUrl('/ws'));
    await callerRaw.hello('realm1', { roles: { caller: { features: { call_canceling: true } } } });
    callerRaw.send([48, 7, {}, proc, ['work']]);
    const invocation = await raw.next();
    callerRaw.send([49, 7, { mode: 'kill' }]);
    expect(await raw.next()).toEqual([69, invocation[1], { mode: 'kill' }]);
    raw.send([8, 68, invocation[1], {}, 'wamp.error.canceled', ['stopped']]);
    expect(await callerRaw.next()).toEqual([8, 48, 7, {}, 'wamp.error.canceled', ['stopped']]);
    raw.close();
    callerRaw.close();
  });

  it('a callee that leaves mid-call fails the call with canceled', async () => {
    const proc = uniqueTopic('leaver');
    const { raw } = await rawCallee(fixture.gw, proc);
    const caller = await join();
    const pending = callError(caller.call(proc, []));
    await raw.next();
    raw.close();
    expect((await pending).error).toBe('wamp.error.canceled');
  });

  it('request errors: invalid procedure URI, pattern registration, unknown registration', async () => {
    const raw = await RawWamp.connect(fixture.gw.wsUrl('/ws'));
    await raw.hello();
    raw.send([48, 1, {}, 'bad uri']);
    expect((await raw.next()).slice(0, 5)).toEqual([8, 48, 1, expect.any(Object), 'wamp.error.invalid_uri']);
    raw.send([64, 2, { match: 'prefix' }, 'a.b']);
    expect((await raw.next()).slice(0, 5)).toEqual([8, 64, 2, expect.any(Object), 'wamp.error.invalid_argument']);
    raw.send([66, 3, 424242]);
    expect((await raw.next()).slice(0, 5)).toEqual([8, 66, 3, expect.any(Object), 'wamp.error.no_such_registration']);
    raw.send([48, 4, { timeout: -1 }, 'a.b']);
    expect((await raw.next()).slice(0, 5)).toEqual([8, 48, 4, expect.any(Object), 'wamp.error.invalid_argument']);
    raw.close();
  });
}

describe('E2E: wamp RPC [embedded]', () => rpcSuite('embedded'));
describe.runIf(brokerAvailable)('[rabbitmq] E2E: wamp RPC', () => rpcSuite('amqp'));
