import { describe, expect, it } from 'vitest';
import { DEEP, HUGE } from '../support/hostile/payload-cases.js';
import { by, VALID_SUBSCRIPTION } from '../support/hostile/requests.js';
import { refusesEach, useHostileWorld } from '../support/hostile/world.js';

/**
 * Hostile payloads: too large or nested too deep, each refused with its status and error code and changing
 * nothing (cases in test/support/hostile/payload-cases.ts); and keys such as __proto__ and constructor, which
 * JSON allows and the service accepts, reaching no prototype and stored intact.
 */

describe('Security: hostile requests are refused with the error contract and change nothing', () => {
  const setup = useHostileWorld();
  refusesEach(setup, [...HUGE, ...DEEP]);

  // Accepted, not refused: JSON allows these keys, so the point is that no parser or schema step lets them
  // reach a prototype.
  it('a __proto__ key in event data pollutes no prototype', async () => {
    const { service, world, apis } = setup;
    const created = await apis.service(
      by(
        world.alice,
        'POST',
        '/subscriptions',
        '{"url":"https://hooks.example.com/proto","eventTypes":["proto.*"]}',
      ),
    );
    expect(created.statusCode, created.body).toBe(201);
    const published = await apis.service(
      by(world.alice, 'POST', '/events', '{"type":"proto.test","data":{"__proto__":{"polluted":true}}}'),
    );
    expect(published.statusCode, published.body).toBe(202);
    expect(await service.pollFanout()).toMatchObject({ received: 1, failed: 0 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('x');
  });

  // Once bugs: the DynamoDB marshaller read an own "constructor" key as the value's class, and the schema's
  // record dropped "__proto__". Payloads are now stored as JSON text and published as parsed.
  it('answers a metadata key "constructor" with 201 or 422, never a 5xx', async () => {
    const { world, apis } = setup;
    const created = await apis.service(
      by(
        world.alice,
        'POST',
        '/subscriptions',
        JSON.stringify({ ...VALID_SUBSCRIPTION, metadata: { constructor: 'x' } }),
      ),
    );
    expect([201, 422]).toContain(created.statusCode);
  });

  it('stores event data with a "constructor" key at any depth intact', async () => {
    const { service, world, apis } = setup;
    for (const [i, data] of [
      '{"constructor":1}',
      '{"a":{"constructor":"x"}}',
      '{"constructor":{"name":"String"}}',
    ].entries()) {
      const id = `evt-constructor-${i}`;
      const published = await apis.service(
        by(world.alice, 'POST', '/events', `{"id":"${id}","type":"proto.test","data":${data}}`),
      );
      expect(published.statusCode).toBe(202);
      expect(await service.pollFanout()).toMatchObject({ received: 1, failed: 0 });
      const stored = await apis.service(by(world.alice, 'GET', `/events/${id}`));
      expect(JSON.parse(stored.body).data).toEqual(JSON.parse(data));
    }
  });

  it('keeps a "__proto__" key of event data', async () => {
    const { service, world, apis } = setup;
    const data = '{"__proto__":{"a":1},"b":2}';
    await apis.service(
      by(world.alice, 'POST', '/events', `{"id":"evt-proto","type":"proto.test","data":${data}}`),
    );
    await service.pollFanout();
    const stored = await apis.service(by(world.alice, 'GET', '/events/evt-proto'));
    expect(JSON.parse(stored.body).data).toEqual(JSON.parse(data));
  });
});
