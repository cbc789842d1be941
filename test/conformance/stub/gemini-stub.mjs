#!/usr/bin/env node
// A local stand-in for the Gemini API (generativelanguage v1beta), so gemini-cli can be recorded
// asking for permission offline (test/conformance/README.md, "Real permission prompts"). A tool,
// like record.mjs, not a test: it holds no model and checks no key.
//
//   [STUB_DELAY_MS=2000] node test/conformance/stub/gemini-stub.mjs [PORT]   (or STUB_PORT; default 18771)
//   GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT GEMINI_API_KEY=anything gemini ...
//   (and a fixed model in ~/.gemini/settings.json: with `Auto`, gemini first asks a routing model
//   for a JSON complexity score, which the stub does not give)
//
// POST /v1beta/models/MODEL:generateContent or :streamGenerateContent (SSE): when the request
// offers run_shell_command and its last content has a one-line text part saying "run it" (the
// prompt as typed) and no function response, the answer is a run_shell_command call running
// STUB_COMMAND (default `touch stub-ran`), which gemini asks permission for in its default
// approval mode; anything else gets the text "Done: the stub answered.", after STUB_DELAY_MS
// (default 0). Any other request gets `{}`. Each request is logged to stdout; SIGTERM or SIGINT
// ends it (exit 0).
import { asksToRun, serveStub, STUB_COMMAND, STUB_TEXT } from './serve.mjs';

const offersShell = (tools = []) => tools.some((t) => (t.functionDeclarations ?? []).some((d) => d.name === 'run_shell_command'));

/** Whether the last content is the user's prompt asking to run (not a tool's response). */
function promptAsksToRun(contents = []) {
  const parts = contents.at(-1)?.parts ?? [];
  return !parts.some((p) => p.functionResponse) && parts.some((p) => typeof p.text === 'string' && asksToRun(p.text));
}

serveStub('gemini', 18771, (url) => /^\/v1beta\/models\/[^/:]+:(stream)?generateContent(\?|$)/i.test(url), (body, id, url) => {
  const call = offersShell(body.tools) && promptAsksToRun(body.contents);
  const part = call
    ? { functionCall: { name: 'run_shell_command', args: { command: STUB_COMMAND, description: 'Run the command the stub was asked to run' } } }
    : { text: STUB_TEXT };
  const response = JSON.stringify({
    candidates: [{ content: { role: 'model', parts: [part] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 5, totalTokenCount: 6 },
    responseId: `resp_stub_${id}`,
  });
  const streamed = /:streamGenerateContent/i.test(url);
  return {
    summary: call ? `run_shell_command ${STUB_COMMAND}` : 'text',
    headers: { 'content-type': streamed ? 'text/event-stream' : 'application/json' },
    body: streamed ? `data: ${response}\n\n` : response,
  };
});
