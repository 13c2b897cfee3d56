// The official `@e2b/code-interpreter` SDK against a real kilnd.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Sandbox } from '@e2b/code-interpreter'
import { startKilnd } from './kilnd.mjs'

let kilnd
let sbx
before(async () => {
  kilnd = await startKilnd()
  sbx = await Sandbox.create()
})
after(async () => {
  await sbx?.kill()
  await kilnd?.stop()
})

test('runCode keeps state and returns text results and logs', async () => {
  await sbx.runCode('x = 41')
  const e = await sbx.runCode('print("hi")\nx += 1\nx')
  assert.equal(e.text, '42')
  assert.deepEqual(e.logs.stdout, ['hi\n'])
  assert.equal(e.error, undefined)
  assert.ok(e.executionCount >= 2)
})

test('pause keeps memory: paused, not running, then Sandbox.connect resumes it', async () => {
  const p = await Sandbox.create({ timeoutMs: 120_000 })
  try {
    await p.runCode('kept = "in memory"')
    await p.files.write('/home/user/kept.txt', 'on disk')
    assert.equal(await p.pause(), true)
    assert.equal(await p.betaPause(), false) // already paused: E2B's 409, false
    assert.equal(await p.isRunning(), false) // envd answers 502 while paused
    assert.equal((await p.getInfo()).state, 'paused')
    const paused = await Sandbox.list({ query: { state: ['paused'] } }).nextItems()
    assert.deepEqual(paused.map((s) => s.sandboxId), [p.sandboxId])
    const running = await Sandbox.list({ query: { state: ['running'] } }).nextItems()
    assert.ok(!running.some((s) => s.sandboxId === p.sandboxId))

    const again = await Sandbox.connect(p.sandboxId)
    assert.equal((await again.getInfo()).state, 'running')
    assert.equal(await again.isRunning(), true)
    assert.equal((await again.runCode('kept')).text, 'in memory')
    assert.equal(await again.files.read('/home/user/kept.txt'), 'on disk')
  } finally {
    await p.kill()
  }
})

test('errors come back as execution.error, streamed output to callbacks', async () => {
  const lines = []
  const e = await sbx.runCode('import sys\nprint("a")\nprint("b", file=sys.stderr)\n1/0', {
    onStdout: (m) => lines.push(['out', m.line]),
    onStderr: (m) => lines.push(['err', m.line]),
  })
  assert.equal(e.error.name, 'ZeroDivisionError')
  assert.match(e.error.traceback, /ZeroDivisionError/)
  assert.deepEqual(lines, [['out', 'a\n'], ['err', 'b\n']])
})

test('a matplotlib chart is a PNG result', async () => {
  const e = await sbx.runCode('import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title("t")\nplt.show()')
  const png = e.results.find((r) => r.png)
  assert.ok(png, JSON.stringify(e.results.map((r) => r.formats())))
  assert.equal(Buffer.from(png.png, 'base64').subarray(1, 4).toString(), 'PNG')
})

test('contexts: javascript, cwd, list, env vars', async () => {
  const js = await sbx.runCode('const a = [1, 2, 3]; a.map((v) => v * 2).join(",")', { language: 'javascript' })
  assert.equal(js.text, '2,4,6')
  const ctx = await sbx.createCodeContext({ cwd: '/tmp' })
  const cwd = await sbx.runCode('import os\nos.getcwd()', { context: ctx })
  assert.equal(cwd.text, '/tmp')
  const list = await sbx.listCodeContexts()
  assert.ok(list.some((c) => c.id === ctx.id))
  assert.ok(list.some((c) => c.language === 'javascript'))
  const env = await sbx.runCode('import os\nos.environ["ONLY_HERE"]', { envs: { ONLY_HERE: 'yes' } })
  assert.equal(env.text, 'yes')
  await sbx.removeCodeContext(ctx)
  assert.ok(!(await sbx.listCodeContexts()).some((c) => c.id === ctx.id))
})
