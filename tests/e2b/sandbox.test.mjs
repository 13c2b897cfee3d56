// The official `e2b` SDK against a real kilnd: lifecycle, commands, files.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Sandbox, CommandExitError, AuthenticationError, SandboxError, NotFoundError } from 'e2b'
import { startKilnd } from './kilnd.mjs'

let kilnd
before(async () => { kilnd = await startKilnd() })
after(async () => { await kilnd?.stop() })

test('create, getInfo, list with metadata and paging, setTimeout, kill', async () => {
  const a = await Sandbox.create({ metadata: { suite: 'e2b', who: 'a b' }, timeoutMs: 120_000 })
  const b = await Sandbox.create('base', { metadata: { suite: 'e2b', who: 'k=1&x' } })
  try {
    assert.match(a.sandboxId, /^sbx_/)
    const info = await a.getInfo()
    assert.equal(info.sandboxId, a.sandboxId)
    assert.equal(info.templateId, 'base')
    assert.equal(info.state, 'running')
    assert.deepEqual(info.metadata, { suite: 'e2b', who: 'a b' })
    const lifeMs = info.endAt.getTime() - info.startedAt.getTime()
    assert.ok(Math.abs(lifeMs - 120_000) < 2000, `lifetime ${lifeMs}`)

    const byMeta = await Sandbox.list({ query: { metadata: { who: 'k=1&x' } } }).nextItems()
    assert.deepEqual(byMeta.map((s) => s.sandboxId), [b.sandboxId])

    // Newest first, one per page.
    const pages = Sandbox.list({ query: { metadata: { suite: 'e2b' } }, limit: 1 })
    const seen = []
    while (pages.hasNext) seen.push(...(await pages.nextItems()).map((s) => s.sandboxId))
    assert.deepEqual(seen, [b.sandboxId, a.sandboxId])

    await a.setTimeout(30_000)
    const after = await a.getInfo()
    assert.ok(Math.abs(after.endAt.getTime() - Date.now() - 30_000) < 2000)
    assert.equal(await a.isRunning(), true)

    // Connecting by id gives a working handle.
    const again = await Sandbox.connect(a.sandboxId)
    assert.equal((await again.commands.run('echo connected')).stdout, 'connected\n')
  } finally {
    assert.equal(await a.kill(), true)
    await b.kill()
  }
  assert.equal(await Sandbox.kill(a.sandboxId), false)
  assert.equal(await a.isRunning(), false)
  await assert.rejects(a.getInfo(), (e) => e.name === 'SandboxNotFoundError' || e instanceof NotFoundError)
})

test('commands: stdout, exit code, env, cwd, background + kill, list', async () => {
  const sbx = await Sandbox.create({ envs: { FROM_CREATE: 'c1' } })
  try {
    const r = await sbx.commands.run('echo hello; echo oops >&2; echo $FROM_CREATE $FROM_RUN; pwd',
      { envs: { FROM_RUN: 'r1' }, cwd: '/tmp' })
    assert.equal(r.exitCode, 0)
    assert.equal(r.stdout, 'hello\nc1 r1\n/tmp\n')
    assert.equal(r.stderr, 'oops\n')

    await assert.rejects(sbx.commands.run('echo partial; exit 3'), (e) => {
      assert.ok(e instanceof CommandExitError)
      assert.equal(e.exitCode, 3)
      assert.equal(e.stdout, 'partial\n')
      return true
    })

    const chunks = []
    await sbx.commands.run('for i in 1 2 3; do echo $i; sleep 0.1; done', { onStdout: (d) => chunks.push(d) })
    assert.equal(chunks.join(''), '1\n2\n3\n')

    const bg = await sbx.commands.run('echo started; sleep 60', { background: true, timeoutMs: 0 })
    assert.ok(bg.pid > 0)
    // Its output streams while it runs (bash -l may take a moment to start).
    for (let i = 0; i < 200 && !bg.stdout.includes('started'); i++) await new Promise((r) => setTimeout(r, 50))
    assert.equal(bg.stdout, 'started\n')
    const listed = await sbx.commands.list()
    assert.ok(listed.some((p) => p.pid === bg.pid && p.args.includes('echo started; sleep 60')), JSON.stringify(listed))
    assert.equal(await sbx.commands.kill(bg.pid), true)
    await assert.rejects(bg.wait(), (e) => e instanceof CommandExitError && /signal: killed/.test(e.error))
    assert.equal(bg.stdout, 'started\n')
  } finally {
    await sbx.kill()
  }
})

test('files: write, read, list, stat, makeDir, rename, remove', async () => {
  const sbx = await Sandbox.create()
  try {
    const w = await sbx.files.write('notes/hello.txt', 'hello kiln\n')
    assert.equal(w.path, '/home/user/notes/hello.txt')
    assert.equal(await sbx.files.read('notes/hello.txt'), 'hello kiln\n')
    const bytes = new Uint8Array([0, 1, 2, 255, 254])
    await sbx.files.write('/home/user/bin.dat', bytes.buffer)
    assert.deepEqual(await sbx.files.read('/home/user/bin.dat', { format: 'bytes' }), bytes)
    const many = await sbx.files.write([{ path: 'm/a.txt', data: 'A' }, { path: 'm/b.txt', data: 'B' }])
    assert.equal(many.length, 2)

    const entries = await sbx.files.list('/home/user/m')
    assert.deepEqual(entries.map((e) => [e.name, e.type]), [['a.txt', 'file'], ['b.txt', 'file']])
    const deep = await sbx.files.list('/home/user', { depth: 2 })
    assert.ok(deep.some((e) => e.path === '/home/user/notes/hello.txt'))

    const info = await sbx.files.getInfo('notes/hello.txt')
    assert.equal(info.size, 11)
    assert.equal(info.type, 'file')
    assert.equal(await sbx.files.exists('nope.txt'), false)
    assert.equal(await sbx.files.makeDir('newdir/sub'), true)
    assert.equal(await sbx.files.makeDir('newdir/sub'), false)
    const moved = await sbx.files.rename('notes/hello.txt', 'newdir/moved.txt')
    assert.equal(moved.path, '/home/user/newdir/moved.txt')
    await sbx.files.remove('newdir')
    assert.equal(await sbx.files.exists('newdir'), false)
    await assert.rejects(sbx.files.read('missing.txt'), (e) => e.name === 'FileNotFoundError')
  } finally {
    await sbx.kill()
  }
})

// E2B's network options become the sandbox's Kiln egress policy (docs/E2B.md
// "Network"); the egress suite proves what a policy lets through.
test('network options map onto Kiln egress policies, at create and by updateNetwork', async () => {
  const policy = async (sbx) => {
    const r = await fetch(`${kilnd.url}/v1/sandboxes/${sbx.sandboxId}/network`,
      { headers: { Authorization: `Bearer ${kilnd.key}` } })
    assert.equal(r.status, 200)
    return (await r.json()).network
  }
  const plain = await Sandbox.create()
  const closed = await Sandbox.create({ allowInternetAccess: false })
  const open = await Sandbox.create({ allowInternetAccess: true })
  const only = await Sandbox.create({
    network: { allowOut: ['pypi.org', '*.pythonhosted.org', '203.0.113.7'], denyOut: ({ allTraffic }) => [allTraffic] },
  })
  try {
    assert.equal(await policy(plain), 'none') // Kiln's default, not E2B's open one
    assert.equal(await policy(closed), 'none')
    assert.equal(await policy(open), 'internet')
    assert.deepEqual(await policy(only), { allow: ['pypi.org', '*.pythonhosted.org', '203.0.113.7'], deny: [] })
    const info = await only.getInfo()
    assert.equal(info.allowInternetAccess, false)
    assert.deepEqual(info.network.allowOut, ['pypi.org', '*.pythonhosted.org', '203.0.113.7'])
    assert.deepEqual(info.network.denyOut, ['0.0.0.0/0'])
    assert.equal((await open.getInfo()).allowInternetAccess, true)

    // A live change: open with one CIDR denied, then closed again.
    await only.updateNetwork({ denyOut: ['198.51.100.0/24'] })
    assert.deepEqual(await policy(only), { allow: ['0.0.0.0/0', '::/0'], deny: ['198.51.100.0/24'] })
    await only.updateNetwork({ allowInternetAccess: false })
    assert.equal(await policy(only), 'none')

    // What Kiln's proxy cannot do is refused, not dropped.
    await assert.rejects(Sandbox.create({ network: { allowOut: ['x.example'], rules: { 'x.example': [{ transform: { headers: { A: 'b' } } }] } } }),
      (e) => e instanceof SandboxError && /not available in Kiln/.test(e.message))
    await assert.rejects(Sandbox.create({ network: { allowOut: ['not a host!'], denyOut: ['0.0.0.0/0'] } }),
      (e) => /bad rule/.test(e.message))
  } finally {
    for (const s of [plain, closed, open, only]) await s.kill()
  }
})

test('signed file URLs work with no header, for their path and sandbox only, until they expire', async () => {
  const sbx = await Sandbox.create()
  const other = await Sandbox.create()
  try {
    await sbx.files.write('/home/user/report.txt', 'quarterly\n')
    await other.files.write('/home/user/report.txt', 'not yours\n')
    // What a browser does with the link: a plain GET, no E2B header or token.
    const down = await sbx.downloadUrl('/home/user/report.txt')
    assert.ok(!down.includes(sbx.sandboxId), down)
    let r = await fetch(down)
    assert.equal(r.status, 200)
    assert.equal(await r.text(), 'quarterly\n')
    r = await fetch(await sbx.downloadUrl('/home/user/report.txt', { useSignatureExpiration: 60 }))
    assert.equal(await r.text(), 'quarterly\n')

    // Upload through a signed URL, as an HTML form would post it.
    const up = await sbx.uploadUrl('/home/user/in.csv')
    const form = new FormData()
    form.append('file', new Blob(['a,b\n1,2\n']), 'in.csv')
    r = await fetch(up, { method: 'POST', body: form })
    assert.equal(r.status, 200, await r.clone().text())
    assert.equal(await sbx.files.read('/home/user/in.csv'), 'a,b\n1,2\n')

    // Refused: another path under the same signature, a download link used
    // to upload, a tampered signature, an expired link.
    const url = new URL(down)
    url.searchParams.set('path', '/home/user/in.csv')
    assert.equal((await fetch(url)).status, 401)
    assert.equal((await fetch(down, { method: 'POST', body: form })).status, 401)
    const tampered = new URL(down)
    tampered.searchParams.set('signature', tampered.searchParams.get('signature').slice(0, -2) + 'AA')
    assert.equal((await fetch(tampered)).status, 401)
    const expired = await sbx.downloadUrl('/home/user/report.txt', { useSignatureExpiration: -5 })
    r = await fetch(expired)
    assert.equal(r.status, 401)
    assert.match(await r.text(), /expired/)
    // The other sandbox's file is untouched and only its own link reads it.
    assert.equal(await (await fetch(await other.downloadUrl('/home/user/report.txt'))).text(), 'not yours\n')
    await sbx.kill()
    assert.equal((await fetch(down)).status, 401) // the sandbox has ended
  } finally {
    await sbx.kill()
    await other.kill()
  }
})

test('what Kiln cannot do answers a clear error; a wrong key is refused', async () => {
  const sbx = await Sandbox.create()
  try {
    // In-memory pause works (interpreter.test.mjs); without memory needs gVisor.
    await assert.rejects(sbx.pause({ keepMemory: false }),
      (e) => e instanceof SandboxError && /gVisor/.test(e.message))
    await assert.rejects(sbx.commands.run('id', { user: 'root' }), (e) => /one user/.test(e.message))
  } finally {
    await sbx.kill()
  }
  await assert.rejects(Sandbox.create({ apiKey: 'e2b_' + '0'.repeat(40) }), (e) => e instanceof AuthenticationError)
  await assert.rejects(Sandbox.create('no-such-template'), (e) => e instanceof SandboxError)
})
