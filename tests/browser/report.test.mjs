// Loads the quarterly dispatch report page in Debian's Chromium (puppeteer-core), waits for its two ECharts
// charts, checks each canvas has drawn pixels (not blank), that the table has its Chinese headings and a totals
// row, and writes a screenshot. Then on the map, switches to "colour by stage" and moves the period slider.
// Every request must go to the planatlas server: nothing from a CDN.
//
//   PLANATLAS_URL=http://127.0.0.1:8080 node report.test.mjs [screenshot.png]

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { inBrowser } from './chromium.mjs';

const base = process.env.PLANATLAS_URL;
assert.ok(base, 'PLANATLAS_URL must point at a running planatlas');
const shot = process.argv[2] ?? new URL('./screenshots/report.png', import.meta.url).pathname;

await inBrowser('report', base, { width: 1280, height: 1000 }, async (page) => {

  await page.goto(`${base}/reports/dispatch?period=2024Q2&by=region&f=html`, { waitUntil: 'load' });
  await page.waitForFunction(() => document.body.dataset.chartsReady === 'yes', { timeout: 60_000 });
  // Each chart's canvas: count pixels that are neither transparent nor white.
  const drawn = await page.evaluate(() => [...document.querySelectorAll('.chart canvas')].map((c) => {
    const ctx = c.getContext('2d');
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let ink = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) ink++;
    }
    return { width: c.width, height: c.height, ink };
  }));
  console.log('charts', JSON.stringify(drawn));
  assert.equal(drawn.length, 2, 'two chart canvases');
  for (const d of drawn) assert.ok(d.ink > 2000, `a chart canvas has drawn pixels: ${JSON.stringify(d)}`);
  const head = await page.$$eval('#dispatch tr:first-child th', (els) => els.map((e) => e.textContent));
  assert.deepEqual(head.slice(0, 5), ['区域', '项目数', '已报告(含往期)', '本期报告', '前期']);
  const last = await page.$eval('#dispatch tr:last-child td', (e) => e.textContent);
  assert.equal(last, '合计');
  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  console.log('screenshot', shot);

  // The map colours projects by stage and replays the reports for the quarter on the slider.
  await page.goto(`${base}/map`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.planatlasMap && window.planatlasIdle === true && window.planatlasPeriod, { timeout: 90_000 });
  await page.click('input[name="colour-by"][value="stage"]');
  const first = await page.evaluate(() => {
    const s = document.getElementById('period');
    s.value = '0';
    s.dispatchEvent(new Event('input'));
    return s.max;
  });
  assert.ok(Number(first) >= 11, 'the slider spans 2022Q1 to now');
  await page.waitForFunction(() => window.planatlasPeriod === '2022Q1', { timeout: 20_000 });
  const colour = await page.evaluate(() => JSON.stringify(window.planatlasMap.getPaintProperty('projects-points', 'circle-color')));
  assert.ok(colour.includes('feature-state') && colour.includes('在建'), `points coloured by stage: ${colour}`);
});
