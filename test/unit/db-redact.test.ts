/** A metadata target shown in a message: the password never, the rest as given. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactMessage, redactedTarget } from '../../src/db/redact.js';

test('a URL\'s password (and a password parameter) become ***; paths stay as they are', () => {
  assert.equal(redactedTarget('postgres://vidpipe:s3cr%40t@db.example:5432/vidpipe?sslmode=require'), 'postgres://vidpipe:***@db.example:5432/vidpipe?sslmode=require');
  assert.equal(redactedTarget('postgresql://db.example/vidpipe?user=u&password=hunter2'), 'postgresql://db.example/vidpipe?user=u&password=***');
  assert.equal(redactedTarget('postgres://u@db.example/vidpipe'), 'postgres://u@db.example/vidpipe');
  assert.equal(redactedTarget('/var/lib/vidpipe:1.db'), '/var/lib/vidpipe:1.db');
  assert.equal(redactedTarget('sqlite:rel/v.db'), 'sqlite:rel/v.db');
});

test('a message loses the password in every spelling, and the whole URL is shown redacted', () => {
  const url = 'postgres://vidpipe:s3cr%40t@db.example/vidpipe';
  const message = redactMessage(`failed for ${url}: password "s3cr@t" rejected (s3cr%40t)`, url);
  assert.equal(message, 'failed for postgres://vidpipe:***@db.example/vidpipe: password "***" rejected (***)');
});
