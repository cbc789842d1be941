#!/usr/bin/env node
// A local stand-in for the OpenAI Responses API, so codex can be recorded asking for approval
// offline (test/conformance/README.md, "Real permission prompts"). A tool, like record.mjs, not
// a test: it holds no model and checks no key.
//
//   [STUB_DELAY_MS=2000] node test/conformance/stub/openai-stub.mjs [PORT]   (or STUB_PORT; default 18770)
//   ~/.codex/config.toml: model_provider = "stub", and [model_providers.stub] with
//   base_url = "http://127.0.0.1:PORT/v1", env_key = "STUB_API_KEY", wire_api = "responses"
//
// POST /v1/responses (always streamed): when the request offers codex's `exec` tool (code mode:
// codex 0.171.0 lists its tools in an `additional_tools` input item) and its last input is a
// user message whose one-line text says "run it" (the prompt as typed, not codex's title request
// quoting it), the answer is an `exec` call running STUB_COMMAND (default `touch stub-ran`) with
// `sandbox_permissions: "require_escalated"`, which codex asks approval for under
// `approval_policy = "on-request"`; anything else gets the text "Done: the stub answered.", after
// STUB_DELAY_MS (default 0). Any other request gets `{}`. Each request is logged to stdout;
// SIGTERM or SIGINT ends it (exit 0).
import { asksToRun, serveStub, sse, STUB_COMMAND, STUB_TEXT } from './serve.mjs';

const offersExec = (input) => input.some((item) => item.type === 'additional_tools' && JSON.stringify(item.tools).includes('"name":"exec"'));

/** Whether the last input item is the user's prompt asking to run (not a tool's output). */
function promptAsksToRun(input) {
  const last = input.at(-1);
  return last?.type === 'message' && last.role === 'user' && last.content.some((c) => c.type === 'input_text' && asksToRun(c.text));
}

serveStub('openai', 18770, (url) => /^\/v1\/responses(\?|$)/.test(url), (body, id) => {
  const input = body.input ?? [];
  const call = offersExec(input) && promptAsksToRun(input);
  const script = `await tools.exec_command(${JSON.stringify({ cmd: STUB_COMMAND, sandbox_permissions: 'require_escalated', justification: 'The stub asks to run it' })});\n`;
  const item = call
    ? { type: 'custom_tool_call', id: `ctc_stub_${id}`, call_id: `call_stub_${id}`, name: 'exec', input: script, status: 'completed' }
    : { type: 'message', id: `msg_stub_${id}`, role: 'assistant', content: [{ type: 'output_text', text: STUB_TEXT }] };
  const usage = { input_tokens: 1, input_tokens_details: null, output_tokens: 5, output_tokens_details: null, total_tokens: 6 };
  return {
    summary: `model ${body.model}: ${call ? `exec ${STUB_COMMAND}` : 'text'}`,
    headers: { 'content-type': 'text/event-stream', 'x-request-id': `req_stub_${id}` },
    body: sse([
      ['response.created', { response: { id: `resp_stub_${id}` } }],
      ['response.output_item.added', { output_index: 0, item }],
      ['response.output_item.done', { output_index: 0, item }],
      ['response.completed', { response: { id: `resp_stub_${id}`, usage } }],
    ]),
  };
});
