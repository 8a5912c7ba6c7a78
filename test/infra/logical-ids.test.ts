import { describe, expect, it } from 'vitest';
import { ofType, synthesize } from '../support/template.js';

/**
 * The logical ids of the stateful resources, pinned as deployed stacks have them: a changed id makes the next
 * `cdk deploy` create a new table, queue, key or log group and drop (or orphan) the old one with its data.
 * Change this list only together with a migration that keeps the data.
 */
const TABLES = [
  'StorageAttempts7355C338',
  'StorageEvents1AF1C090',
  'StorageSubscriptions1D7D4017',
  'StorageTenants23CFB847',
];
const QUEUES = [
  'DeliveryQueue8F251BF1',
  'DeliveryQueueDeadLetterQueue00F9657C',
  'FanoutQueue76B7DFD8',
  'FanoutQueueDeadLetterQueue74944778',
  'IngestionRuleDeadLetterQueue4E6E058B',
];
const LOG_GROUPS = [
  'ApiAccessLogs50B185DB',
  'AuthorizerFunctionLogGroup00CC12E9',
  'DeliverFunctionLogGroup84B9739C',
  'FanoutFunctionLogGroup61C04927',
  'IngestFunctionLogGroupCDA64AD0',
  'RegisterFunctionLogGroup433CF507',
];

describe.each([
  { label: 'AWS-managed keys', context: {}, keys: ['AlarmsKey3C2381B3'] },
  { label: 'kmsKey=create', context: { kmsKey: 'create' }, keys: ['AlarmsKey3C2381B3', 'DataKey17AFBB84'] },
])('Stack: logical ids of stateful resources ($label)', ({ context, keys }) => {
  const { resources } = synthesize(context);
  const idsOf = (type: string) =>
    ofType(resources, type)
      .map(([id]) => id)
      .sort();

  it('keeps the ids of the tables', () => {
    expect(idsOf('AWS::DynamoDB::Table')).toEqual(TABLES);
  });

  it('keeps the ids of the queues and dead-letter queues', () => {
    expect(idsOf('AWS::SQS::Queue')).toEqual(QUEUES);
  });

  it('keeps the ids of the KMS keys', () => {
    expect(idsOf('AWS::KMS::Key')).toEqual(keys);
  });

  it('keeps the ids of the log groups, which are retained', () => {
    expect(idsOf('AWS::Logs::LogGroup')).toEqual(LOG_GROUPS);
  });
});
