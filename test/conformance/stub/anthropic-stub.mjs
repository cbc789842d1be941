#!/usr/bin/env node
// A local stand-in for the Anthropic Messages API, so claude-code can be recorded doing a turn
// offline (test/conformance/README.md, "Real permission prompts"). Not a test: a tool, like
// record.mjs. It holds no model and checks no key.
//
//   node test/conformance/stub/anthropic-stub.mjs [PORT]      (or STUB_PORT=PORT; default 18768)
//   ANTHROPIC_BASE_URL=http://127.0.0.1:PORT ANTHROPIC_API_KEY=anything claude ...
//
// POST /v1/messages: when the request offers the Bash tool and its last user message is text
// containing "run it" (not a tool's result), the answer is a Bash tool_use (STUB_COMMAND, default
// `touch stub-ran`), so claude asks for permission to run it; anything else (the tool's result,
// claude's side requests for a title or a summary) gets the text "Done: the stub answered."
// Streamed (SSE) when the request asks for a stream, one JSON message otherwise, after
// STUB_DELAY_MS (default 0): a model's time to answer, so the CLI's busy screen is drawn long
// enough to be seen. Any other request gets `{}`.
// Each request is logged to stdout. SIGTERM or SIGINT ends it (exit 0).
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? process.env.STUB_PORT ?? 18768);
const command = process.env.STUB_COMMAND ?? 'touch stub-ran';
const delayMs = Number(process.env.STUB_DELAY_MS ?? 0);
const TEXT = 'Done: the stub answered.';

/**
 * The text of the request's last user message; '' when it carries a tool's result. claude may put
 * a `system` message after it (2.1.197 lists its agent types there).
 */
function lastUserText(messages = []) {
  const message = messages.findLast((m) => m.role === 'user');
  if (!message) return '';
  if (typeof message.content === 'string') return message.content;
  if (message.content.some((b) => b.type === 'tool_result')) return '';
  return message.content.filter((b) => b.type === 'text').map((b) => b.text).join('\n');
}

/** The assistant message answering a request (its one content block is `content[0]`). */
function answer(body, id) {
  const offersBash = (body.tools ?? []).some((t) => t.name === 'Bash');
  const block = offersBash && /run it/i.test(lastUserText(body.messages))
    ? { type: 'tool_use', id: `toolu_stub_${id}`, name: 'Bash', input: { command, description: 'Run the command the stub was asked to run' } }
    : { type: 'text', text: TEXT };
  return {
    id: `msg_stub_${id}`, type: 'message', role: 'assistant', model: body.model, content: [block],
    stop_reason: block.type === 'tool_use' ? 'tool_use' : 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 5 },
  };
}

/** Writes `message` as the server-sent events the Messages API streams for it. */
function stream(res, message) {
  const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const [block] = message.content;
  event('message_start', { message: { ...message, content: [], stop_reason: null } });
  if (block.type === 'tool_use') {
    event('content_block_start', { index: 0, content_block: { ...block, input: {} } });
    event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
  } else {
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: block.text } });
  }
  event('content_block_stop', { index: 0 });
  event('message_delta', { delta: { stop_reason: message.stop_reason, stop_sequence: null }, usage: { output_tokens: 5 } });
  event('message_stop', {});
  res.end();
}

let served = 0;

const server = createServer((req, res) => {
  let raw = '';
  req.on('data', (d) => { raw += d; });
  req.on('end', () => {
    if (req.method !== 'POST' || !/^\/v1\/messages(\?|$)/.test(req.url)) {
      console.log(`${req.method} ${req.url}: {}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
      return;
    }
    const body = JSON.parse(raw);
    const id = ++served;
    const message = answer(body, id);
    const [block] = message.content;
    console.log(`${req.method} ${req.url} model ${body.model}, ${body.tools?.length ?? 0} tools: ${block.type === 'tool_use' ? `Bash ${command}` : 'text'}`);
    setTimeout(() => {
      res.writeHead(200, { 'content-type': body.stream ? 'text/event-stream' : 'application/json', 'request-id': `req_stub_${id}` });
      if (body.stream) stream(res, message);
      else res.end(JSON.stringify(message));
    }, delayMs);
  });
});

server.listen(port, '127.0.0.1', () => console.log(`anthropic stub on http://127.0.0.1:${port}`));
// An exit of 0 rather than the signal's: being stopped is how the stub is meant to end.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
