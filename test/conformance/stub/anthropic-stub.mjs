#!/usr/bin/env node
// A local stand-in for the Anthropic Messages API, so claude-code can be recorded asking for
// permission offline (test/conformance/README.md, "Real permission prompts"). A tool, like
// record.mjs, not a test: it holds no model and checks no key.
//
//   [STUB_DELAY_MS=2000] node test/conformance/stub/anthropic-stub.mjs [PORT]   (or STUB_PORT; default 18769)
//   ANTHROPIC_BASE_URL=http://127.0.0.1:PORT ANTHROPIC_API_KEY=anything claude ...
//
// POST /v1/messages: when the request offers the Bash tool and its last user message has a
// one-line text saying "run it" (the prompt as typed, not a tool's result nor claude's title
// request quoting it), the answer is a Bash tool_use (STUB_COMMAND, default `touch stub-ran`),
// so claude asks for permission to run it; anything else gets the text "Done: the stub answered."
// Streamed (SSE) when the request asks for a stream, one JSON message otherwise, after
// STUB_DELAY_MS (default 0): a model's time to answer, so the CLI's busy screen lasts. Any other
// request gets `{}`. Each request is logged to stdout; SIGTERM or SIGINT ends it (exit 0).
import { asksToRun, serveStub, sse, STUB_COMMAND, STUB_TEXT } from './serve.mjs';

/** Whether the last user message is the prompt that asks to run (claude may put a `system` message after it). */
function promptAsksToRun(messages = []) {
  const message = messages.findLast((m) => m.role === 'user');
  if (!message) return false;
  if (typeof message.content === 'string') return asksToRun(message.content);
  return !message.content.some((b) => b.type === 'tool_result') && message.content.some((b) => b.type === 'text' && asksToRun(b.text));
}

/** The events the Messages API streams for `message`, whose one content block is `content[0]`. */
function events(message) {
  const [block] = message.content;
  const delta = block.type === 'tool_use'
    ? { type: 'input_json_delta', partial_json: JSON.stringify(block.input) }
    : { type: 'text_delta', text: block.text };
  return [
    ['message_start', { message: { ...message, content: [], stop_reason: null } }],
    ['content_block_start', { index: 0, content_block: block.type === 'tool_use' ? { ...block, input: {} } : { type: 'text', text: '' } }],
    ['content_block_delta', { index: 0, delta }],
    ['content_block_stop', { index: 0 }],
    ['message_delta', { delta: { stop_reason: message.stop_reason, stop_sequence: null }, usage: { output_tokens: 5 } }],
    ['message_stop', {}],
  ];
}

serveStub('anthropic', 18769, (url) => /^\/v1\/messages(\?|$)/.test(url), (body, id) => {
  const offersBash = (body.tools ?? []).some((t) => t.name === 'Bash');
  const block = offersBash && promptAsksToRun(body.messages)
    ? { type: 'tool_use', id: `toolu_stub_${id}`, name: 'Bash', input: { command: STUB_COMMAND, description: 'Run the command the stub was asked to run' } }
    : { type: 'text', text: STUB_TEXT };
  const message = {
    id: `msg_stub_${id}`, type: 'message', role: 'assistant', model: body.model, content: [block],
    stop_reason: block.type === 'tool_use' ? 'tool_use' : 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 5 },
  };
  return {
    summary: `model ${body.model}, ${body.tools?.length ?? 0} tools: ${block.type === 'tool_use' ? `Bash ${STUB_COMMAND}` : 'text'}`,
    headers: { 'content-type': body.stream ? 'text/event-stream' : 'application/json', 'request-id': `req_stub_${id}` },
    body: body.stream ? sse(events(message)) : JSON.stringify(message),
  };
});
