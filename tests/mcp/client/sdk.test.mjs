// kilnd's MCP server driven by the official MCP TypeScript SDK client, over
// Streamable HTTP and over stdio (kilnd mcp), as Claude Desktop/Code and
// Cursor would. Run by tests/mcp/test_sdk.py, which starts kilnd and sets
// KILN_URL, KILN_KEY, KILN_KEY_FILE and KILND.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import Ajv2020 from 'ajv/dist/2020.js';

const { KILN_URL, KILN_KEY, KILN_KEY_FILE, KILND } = process.env;

const EXPECTED = {
  run_code: ['code'],
  run_command: ['cmd'],
  write_file: ['path', 'content'],
  read_file: ['path'],
  list_files: [],
  create_sandbox: [],
  close_sandbox: ['sandbox_id'],
  upload_from_drive: ['drive_path'],
  download_to_drive: ['sandbox_path', 'drive_path'],
  list_skills: [],
  read_skill: ['name'],
};

const textOf = (r) => r.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

function httpTransport(key = KILN_KEY) {
  return new StreamableHTTPClientTransport(new URL(`${KILN_URL}/mcp`), {
    requestInit: { headers: key ? { Authorization: `Bearer ${key}` } : {} },
  });
}

function stdioTransport() {
  return new StdioClientTransport({
    command: KILND,
    args: ['mcp', '--url', KILN_URL, '--key-file', KILN_KEY_FILE],
    stderr: 'pipe',
  });
}

async function connect(transport) {
  const client = new Client({ name: 'kiln-sdk-test', version: '0.0.0' });
  await client.connect(transport);
  return client;
}

for (const [name, makeTransport] of [['http', httpTransport], ['stdio', stdioTransport]]) {
  describe(`MCP over ${name}`, () => {
    let client;
    let transport;
    before(async () => {
      transport = makeTransport();
      client = await connect(transport);
    });
    after(async () => {
      if (transport.terminateSession) await transport.terminateSession();
      await client.close();
    });

    test('initialize negotiates the latest version', () => {
      assert.equal(client.getServerVersion().name, 'kiln');
      assert.deepEqual(client.getServerCapabilities().tools, { listChanged: false });
      if (name === 'http') {
        assert.equal(transport.protocolVersion, '2025-11-25');
        assert.match(transport.sessionId, /^[0-9a-f]{32}$/);
      }
    });

    test('tools/list: the eleven tools, valid JSON Schemas, required args as specified', async () => {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), Object.keys(EXPECTED).sort());
      const ajv = new Ajv2020({ strict: true });
      for (const t of tools) {
        assert.ok(t.description.length > 20, t.name);
        assert.equal(t.inputSchema.type, 'object');
        assert.deepEqual((t.inputSchema.required ?? []).slice().sort(), EXPECTED[t.name].slice().sort());
        ajv.compile(t.inputSchema); // throws on an invalid schema
      }
    });

    test('run_code: state, chart as a PNG image item, errors as isError', async () => {
      let r = await client.callTool({ name: 'run_code', arguments: { code: 'n = 20\nn + 22' } });
      assert.equal(r.isError, false);
      assert.match(textOf(r), /42/);
      r = await client.callTool({ name: 'run_code', arguments: { code: 'n * 2' } });
      assert.match(textOf(r), /40/);
      r = await client.callTool({
        name: 'run_code',
        arguments: { code: 'import matplotlib.pyplot as plt\nplt.bar(["a","b"], [3, 5])\nplt.show()' },
      });
      const img = r.content.find((c) => c.type === 'image');
      assert.equal(img.mimeType, 'image/png');
      const png = Buffer.from(img.data, 'base64');
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.equal(png.subarray(12, 16).toString(), 'IHDR');
      assert.ok(png.readUInt32BE(16) > 100 && png.readUInt32BE(20) > 100);
      r = await client.callTool({ name: 'run_code', arguments: { code: 'raise ValueError("bad value")' } });
      assert.equal(r.isError, true);
      assert.match(textOf(r), /ValueError: bad value/);
      r = await client.callTool({ name: 'run_code', arguments: { code: 'n' } });
      assert.match(textOf(r), /20/);
    });

    test('write_file, read_file, list_files round trip', async () => {
      await client.callTool({ name: 'write_file', arguments: { path: 'sdk/hello.txt', content: 'from the sdk' } });
      let r = await client.callTool({ name: 'read_file', arguments: { path: 'sdk/hello.txt' } });
      assert.equal(textOf(r), 'from the sdk');
      r = await client.callTool({ name: 'list_files', arguments: { path: 'sdk' } });
      assert.deepEqual(r.structuredContent.entries.map((e) => e.name), ['hello.txt']);
      r = await client.callTool({ name: 'run_command', arguments: { cmd: 'wc -c < sdk/hello.txt' } });
      assert.equal(r.structuredContent.stdout.trim(), '12');
    });

    test('create_sandbox and close_sandbox', async () => {
      let r = await client.callTool({ name: 'create_sandbox', arguments: {} });
      const id = r.structuredContent.sandbox_id;
      assert.match(id, /^sbx_/);
      assert.match(textOf(r), new RegExp(id));
      r = await client.callTool({ name: 'run_code', arguments: { code: 'print("other")', sandbox_id: id } });
      assert.match(textOf(r), /other/);
      r = await client.callTool({ name: 'close_sandbox', arguments: { sandbox_id: id } });
      assert.equal(r.isError, false);
      r = await client.callTool({ name: 'run_code', arguments: { code: '1', sandbox_id: id } });
      assert.equal(r.isError, true);
      assert.match(textOf(r), /not_found/);
    });

    test('bad calls: tool errors and JSON-RPC errors, never a dead session', async () => {
      let r = await client.callTool({ name: 'run_code', arguments: {} });
      assert.equal(r.isError, true);
      assert.match(textOf(r), /'code'/);
      r = await client.callTool({ name: 'read_file', arguments: { path: 7 } });
      assert.equal(r.isError, true);
      await assert.rejects(client.callTool({ name: 'nope', arguments: {} }),
        (e) => e instanceof McpError && e.code === ErrorCode.InvalidParams);
      await client.ping();
    });

    test('progress notifications', async () => {
      const seen = [];
      const r = await client.callTool(
        { name: 'run_code', arguments: { code: 'import time\nfor i in range(8):\n    print(i, flush=True)\n    time.sleep(0.25)\n"ok"' } },
        undefined,
        { onprogress: (p) => seen.push(p.progress), timeout: 60_000 },
      );
      assert.match(textOf(r), /ok/);
      assert.ok(seen.length >= 2, `progress: ${seen}`);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1]);
    });

    test('cancellation interrupts the run and the session stays usable', async () => {
      await client.callTool({ name: 'run_code', arguments: { code: 'before = "kept"' } });
      const ac = new AbortController();
      const started = Date.now();
      const p = client.callTool({ name: 'run_code', arguments: { code: 'import time\ntime.sleep(60)' } },
        undefined, { signal: ac.signal });
      setTimeout(() => ac.abort('user cancelled'), 1500);
      await assert.rejects(p, (e) => e instanceof McpError && e.code === ErrorCode.RequestTimeout);
      // The sandbox was interrupted: the next call runs at once, state intact.
      const r = await client.callTool({ name: 'run_code', arguments: { code: 'before' } });
      assert.match(textOf(r), /kept/);
      assert.ok(Date.now() - started < 20_000);
    });
  });
}

describe('auth and sessions', () => {
  test('HTTP without a key is 401', async () => {
    const client = new Client({ name: 'no-key', version: '0' });
    await assert.rejects(client.connect(httpTransport(null)),
      (e) => e.code === 401 && /Unauthorized/.test(e.message));
  });

  test('no state across sessions', async () => {
    const t1 = httpTransport();
    const a = await connect(t1);
    await a.callTool({ name: 'run_code', arguments: { code: 'secret = 1' } });
    const t2 = httpTransport();
    const b = await connect(t2);
    const r = await b.callTool({ name: 'run_code', arguments: { code: 'secret' } });
    assert.equal(r.isError, true);
    assert.match(textOf(r), /NameError/);
    for (const t of [t1, t2]) await t.terminateSession();
    await a.close();
    await b.close();
  });
});
