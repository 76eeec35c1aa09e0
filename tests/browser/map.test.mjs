// Loads the built-in map in Debian's Chromium (puppeteer-core), waits for MapLibre's `idle`, checks that each
// layer rendered features, toggles a region, clicks a project and reads its popup, clicks elsewhere for
// "what is here", and writes a screenshot. Every request must go to the planatlas server: nothing from a CDN.
//
//   PLANATLAS_URL=http://127.0.0.1:8080 node map.test.mjs [screenshot.png]

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { inBrowser } from './chromium.mjs';

const base = process.env.PLANATLAS_URL;
assert.ok(base, 'PLANATLAS_URL must point at a running planatlas');
const shot = process.argv[2] ?? new URL('./screenshots/map.png', import.meta.url).pathname;

await inBrowser('map', base, { width: 1400, height: 900 }, async (page) => {

  await page.goto(`${base}/map`, { waitUntil: 'load' });
  await page.waitForFunction(() => window.planatlasMap && window.planatlasIdle === true, { timeout: 90_000 });

  const rendered = await page.evaluate(() => {
    const m = window.planatlasMap;
    const out = {};
    for (const id of ['regions-fill', 'regions-outline', 'cities-border', 'counties-border', 'projects-points', 'projects-lines']) {
      out[id] = m.queryRenderedFeatures({ layers: [id] }).length;
    }
    out.regionIds = [...new Set(m.queryRenderedFeatures({ layers: ['regions-fill'] }).map((f) => f.properties.id))].sort();
    out.categories = [...new Set(m.queryRenderedFeatures({ layers: ['projects-points'] }).map((f) => f.properties.category))].length;
    out.cityLabels = m.queryRenderedFeatures({ layers: ['cities-label'] }).map((f) => f.properties.name_zh);
    return out;
  });
  console.log('rendered', JSON.stringify(rendered));
  for (const [layer, n] of Object.entries(rendered)) {
    if (typeof n === 'number') assert.ok(n > 0, `layer ${layer} rendered features`);
  }
  assert.deepEqual(rendered.regionIds, ['coastal-belt', 'liaodong-zone', 'liaoxi-zone', 'shenyang-circle'], 'all four regions drawn');
  // Each city is named once on the whole-province view (not once per tile piece or island).
  assert.ok(rendered.cityLabels.length >= 10, `city labels placed: ${rendered.cityLabels}`);
  assert.equal(new Set(rendered.cityLabels).size, rendered.cityLabels.length, `a city labelled twice: ${rendered.cityLabels}`);
  assert.ok(rendered.categories >= 5, 'projects in several categories');

  // City-wide items are one badge per city at its seat, not stacked markers; a badge lists its city's items.
  await page.waitForFunction(() => window.planatlasCityBadges > 0, { timeout: 20_000 });
  const cityWide = (await (await fetch(`${base}/collections/projects/items?location_precision=city&limit=1000`)).json()).features;
  const badges = await page.$$eval('.city-badge', (els) => els.map((e) => ({ city: e.dataset.city, n: Number(e.textContent.split(' ').pop()) })));
  console.log('city badges', JSON.stringify(badges));
  assert.equal(badges.reduce((a, b) => a + b.n, 0), cityWide.length, 'the badges count every city-wide item once');
  assert.equal(new Set(badges.map((b) => b.city)).size, badges.length, 'one badge per city');
  const stacked = await page.evaluate(() => window.planatlasMap.queryRenderedFeatures({ layers: ['projects-points'] })
    .filter((f) => f.properties.location_precision === 'city').length);
  assert.equal(stacked, 0, 'no city-wide item is drawn as a marker');
  const shenyang = badges.find((b) => b.city === '沈阳市');
  assert.ok(shenyang, 'Shenyang has a badge');
  await page.click('.city-badge[data-city="沈阳市"]');
  await page.waitForSelector('.city-list li', { timeout: 20_000 });
  const listed = await page.$$eval('.city-list li', (els) => els.length);
  assert.equal(listed, shenyang.n, 'the badge opens its city\'s list');
  await page.evaluate(() => document.querySelectorAll('.maplibregl-popup').forEach((p) => p.remove()));

  // Toggle a region off and on.
  await page.click('input[data-region="liaoxi-zone"]');
  await page.waitForFunction(() => !window.planatlasMap.queryRenderedFeatures({ layers: ['regions-fill'] })
    .some((f) => f.properties.id === 'liaoxi-zone'), { timeout: 20_000 });
  await page.click('input[data-region="liaoxi-zone"]');
  await page.waitForFunction(() => window.planatlasMap.queryRenderedFeatures({ layers: ['regions-fill'] })
    .some((f) => f.properties.id === 'liaoxi-zone'), { timeout: 20_000 });

  // Click a project: its popup shows its name, sections and precision.
  const target = await page.evaluate(() => {
    const m = window.planatlasMap;
    const canvas = m.getCanvas().getBoundingClientRect();
    const pts = m.queryRenderedFeatures({ layers: ['projects-points'] })
      .map((f) => ({ f, p: m.project(f.geometry.coordinates) }))
      .filter(({ p }) => p.x > 40 && p.y > 40 && p.x < canvas.width - 40 && p.y < canvas.height - 40);
    // A point with no other project within 12 px, so the click is unambiguous.
    const lonely = pts.find(({ p }) => pts.filter((o) => Math.hypot(o.p.x - p.x, o.p.y - p.y) < 12).length === 1) ?? pts[0];
    return { x: lonely.p.x + canvas.left, y: lonely.p.y + canvas.top, name: lonely.f.properties.name_zh, category: lonely.f.properties.category };
  });
  await page.mouse.click(target.x, target.y);
  await page.waitForSelector('.project-popup', { timeout: 20_000 });
  const popup = await page.$eval('.project-popup', (el) => el.innerText);
  console.log('popup', JSON.stringify(popup.slice(0, 200)));
  assert.ok(popup.includes(target.name), `popup names ${target.name}`);
  assert.ok(/章节 sections/.test(popup) && /精度 precision/.test(popup), 'popup lists sections and precision');
  // Its category in Chinese, as the legend names it, with the id beside.
  const legendName = await page.$eval(`input[data-category="${target.category}"]`, (el) => el.parentElement.innerText.trim());
  assert.ok(/[\u4e00-\u9fff]/.test(legendName), `legend names ${target.category} in Chinese: ${legendName}`);
  assert.ok(popup.includes(legendName), `popup shows the category as the legend does (${legendName}): ${popup}`);

  // Click away from projects, inside Shenyang: which county, city and regions, and the nearest projects.
  await page.evaluate(() => document.querySelectorAll('.maplibregl-popup').forEach((p) => p.remove()));
  const empty = await page.evaluate(() => {
    const m = window.planatlasMap;
    const canvas = m.getCanvas().getBoundingClientRect();
    for (const [lon, lat] of [[123.15, 41.95], [123.05, 41.70], [122.95, 42.05], [123.25, 41.60]]) {
      const p = m.project([lon, lat]);
      const near = m.queryRenderedFeatures([[p.x - 12, p.y - 12], [p.x + 12, p.y + 12]], { layers: ['projects-points', 'projects-lines'] });
      if (near.length === 0) return { x: p.x + canvas.left, y: p.y + canvas.top };
    }
    return null;
  });
  assert.ok(empty, 'a spot in Shenyang with no project under the cursor');
  await page.mouse.click(empty.x, empty.y);
  await page.waitForSelector('.locate-popup', { timeout: 20_000 });
  const where = await page.$eval('.locate-popup', (el) => el.innerText);
  console.log('click', JSON.stringify(where.slice(0, 200)));
  assert.ok(where.includes('沈阳市'), 'the click lands in Shenyang');
  assert.ok(where.includes('沈阳现代化都市圈'), 'and in the Shenyang circle');
  assert.ok(/km/.test(where), 'with the nearest projects and their distances');

  // Search by name.
  await page.type('#search', '机场');
  await page.waitForFunction(() => document.querySelectorAll('#results li').length > 0, { timeout: 20_000 });
  const hits = await page.$$eval('#results li', (els) => els.map((e) => e.textContent));
  assert.ok(hits.every((h) => h.includes('机场')), `search results: ${hits}`);

  await page.evaluate(() => document.querySelectorAll('.maplibregl-popup').forEach((p) => p.remove()));
  await page.click('#search', { count: 3 });
  await page.keyboard.press('Backspace');
  await new Promise((r) => setTimeout(r, 300));
  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot });
  console.log('screenshot', shot);
});
