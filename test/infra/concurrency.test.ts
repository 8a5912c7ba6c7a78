import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContextError, readStackContext } from '../../lib/context.js';
import { DEFAULT_MAX_CONCURRENCY } from '../../lib/definitions.js';
import { FanoutStack, type FanoutStackProps } from '../../lib/fanout-stack.js';
import {
  FUNCTION_NAMES,
  ofType,
  props,
  type Synthesized,
  synthesize,
  synthesized,
} from '../support/template.js';

/**
 * The stack's concurrency bounds: every SQS event source mapping has a maximum concurrency, from context or its
 * default, and the API functions can be given reserved concurrency so delivery can never starve them.
 */
const QUEUES = ['fanout', 'delivery'] as const;

/** Each queue's event source mapping, by queue name. */
function mappings({ stack, id, resources }: Synthesized) {
  const all = ofType(resources, 'AWS::Lambda::EventSourceMapping').map(([, mapping]) => mapping);
  expect(all).toHaveLength(QUEUES.length);
  return Object.fromEntries(
    QUEUES.map((name) => {
      const queueId = id((name === 'fanout' ? stack.fanoutQueue : stack.deliveryQueue).queue);
      return [name, all.find((mapping) => mapping.EventSourceArn['Fn::GetAtt'][0] === queueId)];
    }),
  ) as Record<(typeof QUEUES)[number], Record<string, unknown>>;
}

/** ReservedConcurrentExecutions of every function, by name; absent where none is reserved. */
function reserved({ stack, id, resources }: Synthesized) {
  return Object.fromEntries(
    FUNCTION_NAMES.flatMap((name) => {
      const value = props(resources, id(stack.functions[name])).ReservedConcurrentExecutions;
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

describe('Stack: concurrency by default', () => {
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthesize();
  });

  it('bounds the fan-out mapping at 10 and the delivery mapping at 100 concurrent invocations', () => {
    expect(DEFAULT_MAX_CONCURRENCY).toEqual({ fanout: 10, delivery: 100 });
    const { fanout, delivery } = mappings(synth);
    expect(fanout?.ScalingConfig).toEqual({ MaximumConcurrency: 10 });
    expect(delivery?.ScalingConfig).toEqual({ MaximumConcurrency: 100 });
    // MaximumConcurrency and provisioned pollers exclude each other.
    expect(fanout?.ProvisionedPollerConfig).toBeUndefined();
    expect(delivery?.ProvisionedPollerConfig).toBeUndefined();
  });

  it('reserves no concurrency for any function', () => {
    expect(reserved(synth)).toEqual({});
  });
});

describe('Stack: concurrency from context', () => {
  it('takes each mapping’s maximum from context, as -c gives it or as cdk.json does, to the ends of its range', () => {
    const { fanout, delivery } = mappings(
      synthesize({ fanoutMaxConcurrency: '2', deliveryMaxConcurrency: 1000 }),
    );
    expect(fanout?.ScalingConfig).toEqual({ MaximumConcurrency: 2 });
    expect(delivery?.ScalingConfig).toEqual({ MaximumConcurrency: 1000 });
  });

  it('reserves concurrency for the API functions it is given for, and for no other', () => {
    const synth = synthesize({ authorizerReservedConcurrency: '20', ingestReservedConcurrency: 50 });
    expect(reserved(synth)).toEqual({ authorizer: 20, ingest: 50 });
    expect(mappings(synth).delivery?.ScalingConfig).toEqual({ MaximumConcurrency: 100 });
    expect(reserved(synthesize({ apiReservedConcurrency: '5' }))).toEqual({ api: 5 });
  });

  it('refuses bad values, every one named with what it accepts, in one error', () => {
    const values: Record<string, unknown> = {
      fanoutMaxConcurrency: '1',
      deliveryMaxConcurrency: 1001,
      authorizerReservedConcurrency: 2.5,
      apiReservedConcurrency: '0',
      ingestReservedConcurrency: 'lots',
    };
    let error: unknown;
    try {
      readStackContext((key) => values[key]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ContextError);
    expect((error as ContextError).problems).toEqual([
      'context "fanoutMaxConcurrency" must be a whole number from 2 to 1000, the event source mapping\'s MaximumConcurrency (e.g. 10), got "1"',
      'context "deliveryMaxConcurrency" must be a whole number from 2 to 1000, the event source mapping\'s MaximumConcurrency (e.g. 100), got 1001',
      'context "authorizerReservedConcurrency" must be a positive whole number (e.g. 50), got 2.5',
      'context "apiReservedConcurrency" must be a positive whole number (e.g. 50), got "0"',
      'context "ingestReservedConcurrency" must be a positive whole number (e.g. 50), got "lots"',
    ]);
    expect(() => synthesize({ deliveryMaxConcurrency: '0' })).toThrow(ContextError);
  });
});

describe('Stack: concurrency from props', () => {
  const build = (stackProps: FanoutStackProps) => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    return synthesized(app, new FanoutStack(app, 'Test', stackProps));
  };

  it('sets the maxima and reservations the props give', () => {
    const synth = build({
      fanoutMaxConcurrency: 4,
      deliveryMaxConcurrency: 40,
      reservedConcurrency: { api: 10 },
    });
    expect(mappings(synth).fanout?.ScalingConfig).toEqual({ MaximumConcurrency: 4 });
    expect(mappings(synth).delivery?.ScalingConfig).toEqual({ MaximumConcurrency: 40 });
    expect(reserved(synth)).toEqual({ api: 10 });
  });

  it('refuses what the event source mapping or Lambda would refuse', () => {
    expect(() => build({ deliveryMaxConcurrency: 1 })).toThrow(
      "deliveryMaxConcurrency must be a whole number from 2 to 1000 (an event source mapping's MaximumConcurrency), got 1",
    );
    expect(() => build({ fanoutMaxConcurrency: 12.5 })).toThrow(
      "fanoutMaxConcurrency must be a whole number from 2 to 1000 (an event source mapping's MaximumConcurrency), got 12.5",
    );
    expect(() => build({ reservedConcurrency: { ingest: 0 } })).toThrow(
      'ingest reserved concurrency must be a positive whole number, got 0',
    );
  });
});
