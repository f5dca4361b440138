/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core)
 * against a real `ringfaas dev` (2 routers, 3 workers, Docker): the page loads with no console
 * error, shows the 3 workers and a function deployed through the API, deploys and invokes a
 * function from the page, draws the ring as GET /workers has it, and shows a worker killed with
 * SIGKILL leaving the ring within the membership TTL. Writes screenshots of every view at a
 * laptop and a phone width to docs/screenshots/.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type HTTPRequest, type Page } from 'puppeteer-core';
import { dockerAvailable, skipUnless } from '../../testing/services.ts';
import { azuriteSkip } from '../../testing/stores.ts';
import { startAzurite, type AzuriteHandle } from '../../storage/azurite.ts';
import { freePortRun } from '../../testing/ports.ts';

/** The page's document, as the functions run in the browser see it (the project compiles without the DOM lib). */
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
};

const projectRoot = resolve(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.RINGFAAS_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(projectRoot, 'docs', 'screenshots');
const PREFIX = `h16ui-${process.pid}-`;
const TTL_MS = 5000;
const SIZES = [
  { name: 'laptop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

interface Launcher {
  child: ChildProcess;
  url: string;
  output: () => string;
}

async function startDev(env: NodeJS.ProcessEnv): Promise<Launcher> {
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'ringfaas.js'), 'dev'], { cwd: projectRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const deadline = Date.now() + 300_000; // generous: a loaded machine starts 5 processes slowly
  for (;;) {
    const ready = /ringfaas ready at (http:\/\/\S+)/.exec(text);
    if (ready !== null) return { child, url: ready[1] as string, output: () => text };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`ringfaas dev did not get ready:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The pid of the launcher's child running the worker `workerId` (from /proc). */
function workerPid(launcherPid: number, workerId: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== launcherPid) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (environ.includes(`RINGFAAS_WORKER_ID=${workerId}`)) return Number(entry);
    } catch {
      // the process ended while we looked: not ours
    }
  }
  throw new Error(`no process of worker ${workerId} under ${launcherPid}`);
}

async function shoot(page: Page, view: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  for (const size of SIZES) {
    await page.setViewport({ width: size.width, height: size.height });
    await page.evaluate('window.scrollTo(0, 0)');
    await new Promise((r) => setTimeout(r, 300)); // one layout pass after the resize
    await page.screenshot({ path: join(SHOTS, `${view}-${size.name}.png`) as `${string}.png`, fullPage: size.name === 'phone' ? false : true });
  }
  await page.setViewport({ width: 1280, height: 800 });
}

const skip =
  skipUnless(dockerAvailable(), 'Docker', 'the dashboard test runs ringfaas dev with containers') ||
  skipUnless(existsSync(CHROMIUM), 'Chromium', `the dashboard test drives ${CHROMIUM} (apt-get install chromium)`) ||
  azuriteSkip();

describe('dashboard in headless Chromium against ringfaas dev', { skip }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ringfaas-ui-test-'));
  let launcher: Launcher | undefined;
  let browser: Browser | undefined;
  let azurite: AzuriteHandle | undefined;
  after(async () => {
    await browser?.close().catch(() => undefined);
    if (launcher !== undefined && launcher.child.exitCode === null) {
      const exited = once(launcher.child, 'exit');
      process.kill(-(launcher.child.pid as number), 'SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 60_000))]);
    }
    await azurite?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('ring, workers, functions (deploy and invoke from the page), traffic, and a killed worker leaving the ring', { timeout: 600_000 }, async () => {
    // Azurite started here, with a start timeout a loaded machine can meet (the launcher's is 15 s).
    azurite = await startAzurite({ dataDir: join(dataDir, 'azurite'), startTimeoutMs: 90_000 });
    const port = await freePortRun('127.0.0.1', 2); // the launcher's two routers (port and port + 1)
    const env: NodeJS.ProcessEnv = { ...process.env, RINGFAAS_STORAGE_CONNECTION_STRING: azurite.connectionString, RINGFAAS_DATA_DIR: dataDir, RINGFAAS_PORT: String(port), RINGFAAS_LOG_LEVEL: 'warn', RINGFAAS_DEV_WORKER_PREFIX: PREFIX, RINGFAAS_MEMBERSHIP_TTL_MS: String(TTL_MS), RINGFAAS_READY_TIMEOUT_MS: "300000" };
    delete env.RINGFAAS_API_KEYS;
    launcher = await startDev(env);
    const url = launcher.url;
    const ids = [1, 2, 3].map((i) => `${PREFIX}${i}`);

    const created = await fetch(`${url}/functions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'from-api', memorySize: 128, code: 'module.exports = async (input) => ({ echo: input })' }),
    });
    assert.equal(created.status, 201);
    const apiFn = ((await created.json()) as { id: string }).id;
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/functions/${apiFn}/invoke`, { method: 'POST', body: `{"n":${i}}` })).status, 200);

    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'] });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${String(err)}`));
    page.on('requestfailed', (req) => {
      if (!req.url().endsWith('/ui/events')) problems.push(`request failed: ${req.url()}`);
    });
    await page.setViewport({ width: 1280, height: 800 });

    // The ring: 3 arcs, the same workers and shares as GET /workers.
    const loadStarted = Date.now();
    await page.goto(`${url}/ui#/ring`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => document.querySelectorAll('#ring [data-worker-id]').length === 3, { timeout: 30_000 });
    const firstRingMs = Date.now() - loadStarted;
    const workers = (await (await fetch(`${url}/workers`)).json()) as { workers: Array<{ id: string; share: number; inRing: boolean }> };
    const drawn = await page.$$eval('#ring [data-worker-id]', (els) => els.map((el) => ({ id: el.getAttribute('data-worker-id'), share: Number(el.getAttribute('data-share')) })));
    assert.deepEqual(drawn.map((d) => d.id).sort(), workers.workers.filter((w) => w.inRing).map((w) => w.id).sort());
    assert.deepEqual(drawn.map((d) => d.id).sort(), ids);
    for (const d of drawn) {
      const listed = workers.workers.find((w) => w.id === d.id)!;
      assert.ok(Math.abs(listed.share - d.share) < 1e-4, `${d.id}: drawn share ${d.share}, GET /workers ${listed.share}`);
    }
    await page.waitForFunction((id) => document.querySelector(`#ring [data-function-id="${id}"]`) !== null, { timeout: 15_000 }, apiFn);
    // Keyboard: an arc takes focus (SVG elements focus through the DOM, not puppeteer's focus()) and shows the figures.
    await page.$eval(`#ring [data-worker-id="${ids[0]}"]`, (el) => (el as unknown as { focus(): void }).focus());
    await page.waitForFunction((id) => document.querySelector('#selected h3')?.textContent === id, { timeout: 5000 }, ids[0]);
    await shoot(page, 'ring');

    // Workers: 3 cards, the API function's container warm on one of them.
    await page.goto(`${url}/ui#/workers`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => document.querySelectorAll('[data-worker-card]').length === 3, { timeout: 20_000 });
    await page.waitForFunction((id) => document.querySelector('#workers')?.textContent?.includes(id) === true, { timeout: 20_000 }, apiFn);
    await shoot(page, 'workers');

    // Functions: the API function listed; deploy and invoke one from the page.
    await page.goto(`${url}/ui#/functions`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction((id) => document.querySelector(`[data-function="${id}"]`) !== null, { timeout: 20_000 }, apiFn);
    await page.$eval('#deploy-form [name=name]', (el) => ((el as unknown as { value: string }).value = ''));
    await page.type('#deploy-form [name=name]', 'from-page');
    await page.$eval('#deploy-form [name=code]', (el) => ((el as unknown as { value: string }).value = "module.exports = async (input, context) => { console.log('hi from the page'); return { greeting: 'hello ' + input.name }; };"));
    // The list's refresh is held back 1.5 s, as on a loaded machine, so that a result shown
    // before the invoke form targets the new function is caught below.
    await page.setRequestInterception(true);
    const slowList = (req: HTTPRequest): void => {
      if (req.isInterceptResolutionHandled()) return;
      if (req.method() === 'GET' && new URL(req.url()).pathname === '/functions') setTimeout(() => void req.continue(), 1500);
      else void req.continue();
    };
    page.on('request', slowList);
    await page.click('#deploy-submit');
    await page.waitForFunction(() => /from-page is at version 1/.test(document.querySelector('#deploy-result')?.textContent ?? ''), { timeout: 30_000 });
    // Once the result is shown, the invoke form already targets the function just deployed.
    const pageFn = await page.$eval('#deploy-result', (el) => /\(([^,()]+),/.exec(el.textContent ?? '')?.[1] ?? '');
    assert.notEqual(pageFn, '');
    assert.equal(await page.$eval('#invoke-fn', (el) => (el as unknown as { value: string }).value), pageFn);
    page.off('request', slowList);
    await page.setRequestInterception(false);
    await page.$eval('#invoke-form textarea', (el) => ((el as unknown as { value: string }).value = '{"name":"dashboard"}'));
    await page.click('#invoke-form button[type=submit]');
    await page.waitForSelector('[data-out=output]', { timeout: 60_000 });
    const output = JSON.parse((await page.$eval('[data-out=output]', (el) => el.textContent)) ?? 'null') as unknown;
    assert.deepEqual(output, { greeting: 'hello dashboard' });
    assert.match((await page.$eval('[data-out=logs]', (el) => el.textContent)) ?? '', /hi from the page/);
    assert.ok(ids.includes((await page.$eval('[data-out=worker]', (el) => el.textContent)) ?? ''), 'the serving worker is shown');
    assert.match((await page.$eval('[data-out=start]', (el) => el.textContent)) ?? '', /^(warm|cold-pool|cold-create)$/);
    await shoot(page, 'functions');

    // Traffic: the invocations show up in the charts.
    for (let i = 0; i < 10; i++) await fetch(`${url}/functions/${apiFn}/invoke`, { method: 'POST', body: '{}' });
    await page.goto(`${url}/ui#/traffic`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => document.querySelectorAll('[data-chart] polyline').length >= 6 && document.querySelectorAll('#routers-table tbody tr').length >= 1, { timeout: 20_000 });
    await shoot(page, 'traffic');

    // A killed worker leaves the ring (TTL + the ring poll + one SSE tick + margin).
    await page.goto(`${url}/ui#/ring`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => document.querySelectorAll('#ring [data-worker-id]').length === 3, { timeout: 20_000 });
    const victim = ids[2] as string;
    process.kill(workerPid(launcher.child.pid as number, victim), 'SIGKILL');
    const killedAt = Date.now();
    await page.waitForFunction(
      (id) => document.querySelectorAll('#ring [data-worker-id]').length === 2 && document.querySelector(`#ring [data-worker-id="${id}"]`) === null,
      { timeout: TTL_MS + 15_000 },
      victim,
    );
    const leftAfterMs = Date.now() - killedAt;
    assert.ok(leftAfterMs < TTL_MS + 15_000);
    // Shown as gone (or suspect), in words, in the legend.
    await page.waitForFunction((id) => /gone|suspect/.test(document.querySelector(`#legend [data-worker="${id}"]`)?.textContent ?? ''), { timeout: 10_000 }, victim);
    await shoot(page, 'ring-worker-gone');
    assert.deepEqual(problems, [], 'no console error, page error or failed request');
    process.stdout.write(`# dashboard: first ring drawn ${firstRingMs} ms after navigation; killed worker off the ring after ${leftAfterMs} ms (TTL ${TTL_MS} ms)\n`);
  });
});
