import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { collector, openSession } from './wamp-support.js';

describe.each(['embedded', 'amqp'] as const)('E2E: wamp smoke (%s)', (fabric) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({}, { fabric });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('joins, subscribes, publishes, calls', async () => {
    const a = await openSession(gw.wsUrl('/ws'));
    const b = await openSession(gw.wsUrl('/ws'), { serializer: 'msgpack' });
    const got = collector<[unknown[], Record<string, unknown>]>(1);
    await b.session.subscribe('com.x.temp', (args, kwargs) => got.handler(args, kwargs));
    await a.session.publish('com.x.temp', [21.5], {}, { acknowledge: true });
    expect((await got.all)[0]).toEqual([[21.5], {}]);
    await b.session.register('com.x.add', (args) => (args[0] as number) + (args[1] as number));
    expect(await a.session.call('com.x.add', [2, 3])).toBe(5);
    await a.close();
    await b.close();
  });
});
