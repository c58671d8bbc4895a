/**
 * Standard Webhooks signing, the `whsec_` secret, and how one delivery attempt
 * reads a real receiver's answer (down, 500, 404, 200, too slow).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { isVidpipeError } from '../../src/errors.js';
import { jobEvent, messageBody } from '../../src/events/job-events.js';
import { parseWebhookSecret, signWebhook, webhookHeaders, webhookKey } from '../../src/events/standard-webhooks.js';
import { sendAttempt } from '../../src/events/webhook-delivery.js';
import { freePort } from '../helpers/redis-server.js';
import { startWebhookReceiver, verifyStandardWebhook } from '../helpers/webhook-receiver.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('Standard Webhooks signatures', () => {
  it('match the specification\'s example', () => {
    // The example of the Standard Webhooks specification and its reference libraries.
    const signature = signWebhook(parseWebhookSecret(SECRET), 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    assert.equal(signature, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('headers verify with an independent verifier, and not for another body or secret', () => {
    const body = messageBody(jobEvent('job.started', { videoId: 'v1', jobId: 'j1', input: 'a.mp4', name: 'a', out: 'out', durationSeconds: 2 }));
    const headers = webhookHeaders(parseWebhookSecret(SECRET), 'msg_1', body);
    const given = { id: headers['webhook-id']!, timestamp: headers['webhook-timestamp']!, signature: headers['webhook-signature']! };
    assert.equal(verifyStandardWebhook(SECRET, given, body), true);
    assert.equal(verifyStandardWebhook(SECRET, given, `${body} `), false);
    assert.equal(verifyStandardWebhook('whsec_' + Buffer.alloc(24, 7).toString('base64'), given, body), false);
    assert.deepEqual(Object.keys(JSON.parse(body)), ['type', 'timestamp', 'data']);
  });

  it('a secret that is not whsec_<base64> is refused without echoing it', () => {
    for (const bad of ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_', 'whsec_not base64!', 'whsec_c2hvcnQ=']) {
      assert.throws(() => parseWebhookSecret(bad), (error: unknown) => {
        assert.ok(isVidpipeError(error) && error.code === 'USAGE');
        assert.ok(!error.message.includes(bad.slice(6) || '\u0000'), error.message);
        return true;
      });
    }
  });
});

describe('the signing key', () => {
  it('a process that must sign without a secret is told how to give one', () => {
    assert.throws(() => webhookKey(undefined, 'vidpipe events retry signs what it sends'), (error: unknown) => isVidpipeError(error) && error.code === 'USAGE' && /VIDPIPE_WEBHOOK_SECRET/.test(error.message));
    assert.equal(webhookKey(SECRET).length, 24);
  });
});

describe('one delivery attempt', () => {
  const key = parseWebhookSecret(SECRET);
  const delivery = (url: string) => ({ messageId: 'msg_attempt', url, body: '{"type":"job.started"}', attempts: 0 });

  it('reads refused, 500, 404 and 200 from a real receiver; the request is signed', async () => {
    const receiver = await startWebhookReceiver(SECRET);
    const refused = await sendAttempt(delivery(receiver.url), key, 2000);
    assert.equal(refused.result, 'retry');
    assert.match((refused as { error: string }).error, /ECONNREFUSED/);
    await receiver.up(500);
    assert.deepEqual(await sendAttempt(delivery(receiver.url), key, 2000), { result: 'retry', status: 500, error: 'HTTP 500' });
    await receiver.up(404);
    assert.deepEqual(await sendAttempt(delivery(receiver.url), key, 2000), { result: 'failed', status: 404, error: 'HTTP 404' });
    await receiver.up(204);
    assert.deepEqual(await sendAttempt(delivery(receiver.url), key, 2000), { result: 'delivered', status: 204 });
    await receiver.down();
    assert.equal(receiver.received.length, 3);
    assert.ok(receiver.received.every((request) => request.valid && request.id === 'msg_attempt'));
  });

  it('gives up waiting on a receiver that does not answer, and says so', async () => {
    const port = await freePort();
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const outcome = await sendAttempt(delivery(`http://127.0.0.1:${port}/`), key, 300);
      assert.deepEqual(outcome, { result: 'retry', error: 'no answer within 0.3 s' });
      assert.ok(Date.now() - started < 3000);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
