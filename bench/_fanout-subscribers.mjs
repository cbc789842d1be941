// Helper process for bench/bus-fanout: N subscribers (one ZeroMQ SUB socket each) on ENDPOINT,
// subscribed to PREFIX (and CONFIRM, whose last-value replay proves the subscription is active, when
// given). Prints READY once every socket is subscribed, then counts messages and payload bytes per
// socket until each has TARGET (messages, or bytes with --bytes) or 3 s pass without a message.
// Last line: JSON {first, last, perSocket: [{messages, bytes}]} with times in epoch ms.
import { unpack } from 'msgpackr';
import * as zmq from 'zeromq';

const [n, endpoint, prefix, confirm, target, unit] = process.argv.slice(2);
const N = Number(n);
const TARGET = Number(target);
const now = () => performance.timeOrigin + performance.now();
let first = Infinity;
let last = 0;
const socks = Array.from({ length: N }, () => {
  const s = new zmq.Subscriber({ receiveHighWaterMark: 100_000, linger: 0 });
  s.connect(endpoint);
  s.subscribe(prefix);
  if (confirm !== '-') s.subscribe(confirm);
  return s;
});
if (confirm !== '-') {
  await Promise.all(socks.map(async (s) => {
    for (;;) {
      const [topic] = await s.receive();
      if (topic.toString().startsWith(confirm)) return;
    }
  }));
}
process.stdout.write('READY\n');
const per = await Promise.all(
  socks.map(async (s) => {
    let messages = 0;
    let bytes = 0;
    s.receiveTimeout = 3000;
    while ((unit === 'bytes' ? bytes : messages) < TARGET) {
      let frames;
      try {
        frames = await s.receive();
      } catch {
        break; // quiet for 3 s: what was dropped is not coming
      }
      if (!frames[0].toString().startsWith(prefix)) continue;
      const t = now();
      if (t < first) first = t;
      const msg = unpack(frames[1]);
      messages++;
      bytes += msg.data ? msg.data.length : frames[1].length;
      if (t > last) last = t;
    }
    s.close();
    return { messages, bytes };
  }),
);
console.log(JSON.stringify({ first, last, perSocket: per }));
