import { describe, expect, it } from 'vitest';

describe('Runtime', () => {
  it('runs the tests on Node 24, the Lambda runtime the stack deploys', () => {
    expect(process.versions.node.split('.')[0]).toBe('24');
  });
});
