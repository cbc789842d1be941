// What the API stubs share (anthropic-stub.mjs, openai-stub.mjs, gemini-stub.mjs): the port,
// the answer delay, the request log, how to stop, and which prompt asks for a tool. See their headers.
import { createServer } from 'node:http';

/** The prompt the stubs answer with a tool call: a one-line text (the prompt as typed) saying "run it". */
export const asksToRun = (text) => !text.includes('\n') && /run it/i.test(text);

export const STUB_TEXT = 'Done: the stub answered.';
export const STUB_COMMAND = process.env.STUB_COMMAND ?? 'touch stub-ran';

/**
 * Serves `answer(body, id, url)` → `{ summary, headers, body }` (body a string, summary for the
 * log) for every POST to a path `matches`, after STUB_DELAY_MS; anything else gets `{}` at once.
 * The port is the first argument, or STUB_PORT, or `defaultPort`. SIGTERM or SIGINT ends the
 * process with exit 0: being stopped is how a stub is meant to end.
 */
export function serveStub(name, defaultPort, matches, answer) {
  const port = Number(process.argv[2] ?? process.env.STUB_PORT ?? defaultPort);
  const delayMs = Number(process.env.STUB_DELAY_MS ?? 0);
  let served = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      if (req.method !== 'POST' || !matches(req.url)) {
        console.log(`${req.method} ${req.url}: {}`);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      const reply = answer(JSON.parse(raw), ++served, req.url);
      console.log(`${req.method} ${req.url}: ${reply.summary}`);
      setTimeout(() => {
        res.writeHead(200, reply.headers);
        res.end(reply.body);
      }, delayMs);
    });
  });
  server.listen(port, '127.0.0.1', () => console.log(`${name} stub on http://127.0.0.1:${port}`));
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
}

/** Server-sent events as one string: `event: TYPE` and `data: {type: TYPE, ...data}` per event. */
export const sse = (events) => events.map(([type, data]) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`).join('');
