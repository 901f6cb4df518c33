import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import { NextValue } from '../src/next-value.js';

test('every next() waiting gets the value published after it, and leaves no listener on its signal', async () => {
  const values = new NextValue<number>();
  const signal = new AbortController().signal;
  const waiting = [values.next(signal), values.next(signal)];
  values.publish(1);
  assert.deepEqual(await Promise.all(waiting), [1, 1]);
  assert.equal(getEventListeners(signal, 'abort').length, 0);
});

test('a value published before next() is not seen: it waits for the one after', async () => {
  const values = new NextValue<number>();
  values.publish(1);
  const waiting = values.next(new AbortController().signal);
  values.publish(2);
  assert.equal(await waiting, 2);
});

test('a signal aborted already: rejects with its reason at once', async () => {
  const stop = new AbortController();
  stop.abort(new Error('stopped'));
  await assert.rejects(new NextValue<number>().next(stop.signal), /stopped/);
});

test('a signal aborted while waiting: rejects with its reason; the other waiters still get the value', async () => {
  const values = new NextValue<number>();
  const stop = new AbortController();
  const gaveUp = values.next(stop.signal);
  const stays = values.next(new AbortController().signal);
  stop.abort(new Error('stopped'));
  await assert.rejects(gaveUp, /stopped/);
  values.publish(3);
  assert.equal(await stays, 3);
});
