// A real kilnd for the E2B suite: a free loopback port, its own data
// folder, an E2B key (kilnd keys create --e2b), its own uid range
// (3 600 000 + (pid % 200) * 2000 + n * 200, apart from every other suite)
// and its own parent cgroup; stopped with SIGTERM.
import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const KILND = process.env.KILN_KILND || path.join(ROOT, 'build', 'kilnd')
let counter = 0

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function removeParentCgroups(parent) {
  for (const ctl of ['memory', 'pids', 'cpu', 'cpuacct', 'unified']) {
    const p = path.join('/sys/fs/cgroup', ctl, parent)
    if (!fs.existsSync(p)) continue
    for (const d of fs.readdirSync(p)) {
      try { fs.rmdirSync(path.join(p, d)) } catch {}
    }
    try { fs.rmdirSync(p) } catch {}
  }
}

export async function startKilnd() {
  const n = counter++
  const port = await freePort()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-e2b-data-'))
  const uidBase = 3_600_000 + (process.pid % 200) * 2000 + n * 200
  const cgroupParent = `kiln-e2b-test-${process.pid}-${n}`
  const key = execFileSync(KILND, ['keys', 'create', '--e2b', '--workspace', 'e2b', '--data-dir', dataDir],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  const log = fs.openSync(path.join(dataDir, 'kilnd.log'), 'a')
  const proc = spawn(KILND, ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--pool-size', '1',
    '--uid-base', String(uidBase), '--cgroup-parent', cgroupParent, '--max-sandboxes', '16'],
  { stdio: ['ignore', log, log] })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20000
  while (true) {
    if (proc.exitCode !== null) throw new Error(`kilnd exited: ${fs.readFileSync(path.join(dataDir, 'kilnd.log'), 'utf8')}`)
    try {
      const r = await fetch(url + '/healthz')
      if (r.ok) break
    } catch {}
    if (Date.now() > deadline) throw new Error('kilnd did not become healthy')
    await new Promise((r) => setTimeout(r, 50))
  }
  // What a user sets to point E2B's SDKs at Kiln.
  process.env.E2B_API_URL = url
  process.env.E2B_SANDBOX_URL = url
  process.env.E2B_API_KEY = key
  return {
    url, key, dataDir,
    log: () => fs.readFileSync(path.join(dataDir, 'kilnd.log'), 'utf8'),
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM')
        await new Promise((resolve) => {
          const t = setTimeout(() => { proc.kill('SIGKILL'); resolve() }, 30000)
          proc.once('exit', () => { clearTimeout(t); resolve() })
        })
      }
      fs.closeSync(log)
      removeParentCgroups(cgroupParent)
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
