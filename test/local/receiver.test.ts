import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/constructs/fanout-function.js';
import { waitFor } from '../../local/wait.js';
import { startWebhookReceiver } from '../../local/webhook-receiver.js';

/** `npm run receiver` as a user starts it, on a free port, its printed lines collected. */
function startReceiverCommand(env: Record<string, string>) {
  const lines: string[] = [];
  const child: ChildProcess = spawn(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['local/receiver.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, RECEIVER_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (pending + chunk.toString('utf8')).split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts);
  });
  const url = waitFor(() => lines.join('\n').match(/listening on (http:\/\/\S+)/)?.[1], {
    what: 'the receiver to listen',
    timeoutMs: 20_000,
  });
  return { lines, url, stop: () => child.kill('SIGTERM') };
}

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const payload = JSON.stringify({ type: 'order.created', timestamp: new Date().toISOString(), data: {} });

function signed(id: string, signingSecret: string) {
  const now = new Date();
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(signingSecret).sign(id, now, payload),
  };
}

describe('npm run receiver', () => {
  let withSecret: ReturnType<typeof startReceiverCommand>;
  let withoutSecret: ReturnType<typeof startReceiverCommand>;
  beforeAll(async () => {
    withSecret = startReceiverCommand({ WEBHOOK_SECRET: secret });
    withoutSecret = startReceiverCommand({});
    await Promise.all([withSecret.url, withoutSecret.url]);
  });
  afterAll(() => {
    withSecret.stop();
    withoutSecret.stop();
  });

  const post = async (url: string, headers: Record<string, string>) => {
    const response = await fetch(url, { method: 'POST', headers, body: payload });
    return { status: response.status, body: await response.text() };
  };
  const printed = (lines: string[], id: string) =>
    waitFor(() => lines.find((line) => line.includes(id)), { what: `the line for ${id}` });

  it('answers 401 with the reason when the signature does not verify, and prints why', async () => {
    const url = await withSecret.url;
    const other = `whsec_${randomBytes(24).toString('base64')}`;
    const answer = await post(url, signed('msg_bad', other));
    expect(answer.status).toBe(401);
    expect(answer.body).toMatch(/^signature not verified: No matching signature found/);
    expect(await printed(withSecret.lines, 'msg_bad')).toMatch(
      /order\.created {2}signature NOT verified \(No matching signature found\) {2}→ 401$/,
    );

    const unsigned = await post(url, { 'content-type': 'application/json' });
    expect(unsigned.status).toBe(401);
    expect(unsigned.body).toMatch(/^signature not verified: Missing required headers/);
  });

  it('answers a good signature with the configured status (204)', async () => {
    const url = await withSecret.url;
    const answer = await post(url, signed('msg_good', secret));
    expect(answer).toEqual({ status: 204, body: '' });
    expect(await printed(withSecret.lines, 'msg_good')).toMatch(/signature verified {2}→ 204$/);
  });

  it('without WEBHOOK_SECRET says it cannot verify, and accepts', async () => {
    const url = await withoutSecret.url;
    expect(withoutSecret.lines.join('\n')).toContain(
      'WEBHOOK_SECRET is not set, so signatures cannot be checked',
    );
    const answer = await post(url, signed('msg_unchecked', secret));
    expect(answer.status).toBe(204);
    expect(await printed(withoutSecret.lines, 'msg_unchecked')).toMatch(
      /signature not checked \(WEBHOOK_SECRET is not set\) {2}→ 204$/,
    );
  });
});

describe('Function: startWebhookReceiver', () => {
  it('answers a verified delivery with a configured 401 as such, not as a failed verification', async () => {
    const receiver = await startWebhookReceiver({ secret, status: 401 });
    try {
      const response = await fetch(receiver.url, {
        method: 'POST',
        headers: signed('msg_ok_401', secret),
        body: payload,
      });
      expect({ status: response.status, body: await response.text() }).toEqual({ status: 401, body: '' });
    } finally {
      await receiver.close();
    }
  });
});
