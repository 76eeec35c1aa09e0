// Opens the HTML items page of `projects` in Debian's Chromium (puppeteer-core): its map draws the page's
// features (the same ids as the table's rows), then choosing a category in the filter form and submitting it
// changes the rows and the map together, and the item page draws its one feature. Every request must go to the
// planatlas server.
//
//   PLANATLAS_URL=http://127.0.0.1:8080 node items.test.mjs [screenshot.png]

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { inBrowser } from './chromium.mjs';

const base = process.env.PLANATLAS_URL;
assert.ok(base, 'PLANATLAS_URL must point at a running planatlas');
const shot = process.argv[2] ?? new URL('./screenshots/items.png', import.meta.url).pathname;

// What the map drew: the distinct feature ids on its item layers.
const drawn = () => {
  const m = window.planatlasItemsMap;
  const fs = m.queryRenderedFeatures({ layers: ['items-points', 'items-lines', 'items-fill', 'items-outline'] });
  return [...new Set(fs.map((f) => f.properties.planatlas_id))].sort();
};
const rows = () => [...document.querySelectorAll('table tr td:first-child a')].map((a) => a.textContent.trim()).sort();
const ready = () => window.planatlasItemsIdle === true;

await inBrowser('items', base, { width: 1300, height: 1000 }, async (page) => {

  await page.goto(`${base}/collections/projects/items?f=html&limit=300`, { waitUntil: 'load' });
  await page.waitForFunction(ready, { timeout: 90_000 });
  const before = { rows: await page.evaluate(rows), drawn: await page.evaluate(drawn) };
  const total = (await (await fetch(`${base}/collections/projects/items?limit=1`)).json()).numberMatched;
  console.log('all', before.rows.length, 'rows,', before.drawn.length, 'drawn of', total);
  assert.equal(before.rows.length, total, 'every project is a row at limit=300');
  assert.deepEqual(before.drawn, before.rows, 'the map draws exactly the rows');
  const headings = await page.$$eval('table tr th', (ths) => ths.map((t) => t.textContent));
  for (const h of ['名称', '类别 category', '城市 city', '位置精度 precision']) {
    assert.ok(headings.includes(h), `column ${h}: ${headings}`);
  }

  // Filter by category: railways.
  await page.select('select[name="category"]', 'railway');
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form.filters button[type="submit"]')]);
  await page.waitForFunction(ready, { timeout: 90_000 });
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('category'), 'railway', `the form put the category in the address: ${url}`);
  const after = { rows: await page.evaluate(rows), drawn: await page.evaluate(drawn) };
  const expected = (await (await fetch(`${base}/collections/projects/items?category=railway&limit=300`)).json())
    .features.map((f) => String(f.id)).sort();
  console.log('railway', after.rows.length, 'rows,', after.drawn.length, 'drawn');
  assert.ok(after.rows.length > 0 && after.rows.length < before.rows.length, 'the filter narrows the rows');
  assert.deepEqual(after.rows, expected, 'the rows are the API\'s railways');
  assert.deepEqual(after.drawn, after.rows, 'and the map draws exactly them');
  const categories = await page.$$eval('table tr td:nth-child(4)', (tds) => [...new Set(tds.map((t) => t.textContent))]);
  assert.deepEqual(categories, ['铁路 railway'], `the category column: ${categories}`);
  assert.equal(await page.$eval('select[name="category"]', (s) => s.value), 'railway', 'the form keeps its choice');
  // The other fields were sent empty and mean "any".
  assert.equal(url.searchParams.get('city'), '', 'empty fields are sent');
  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: false });
  console.log('screenshot', shot);

  // With crs= in the address (the table in metres), the map still asks for longitude/latitude and draws the
  // same rows.
  const mercator = encodeURIComponent('http://www.opengis.net/def/crs/EPSG/0/3857');
  await page.goto(`${base}/collections/projects/items?f=html&category=railway&limit=300&crs=${mercator}`, { waitUntil: 'load' });
  await page.waitForFunction(ready, { timeout: 90_000 });
  assert.deepEqual(await page.evaluate(drawn), after.rows, 'a crs= page draws its features in place');

  // One item: its page draws it and links to its sections.
  const first = after.rows[0];
  await page.goto(`${base}/collections/projects/items/${encodeURIComponent(first)}?f=html`, { waitUntil: 'load' });
  await page.waitForFunction(ready, { timeout: 90_000 });
  assert.deepEqual(await page.evaluate(drawn), [first], 'the item page draws its feature');
  const links = await page.$$eval('a', (as) => as.map((a) => a.getAttribute('href')));
  assert.ok(links.some((h) => h.includes('/collections/sections/items/')), 'it links to its plan sections');
  assert.ok(links.some((h) => h.includes('/collections/targets/items?f=html&subject_id=')), 'and to its targets');

  // A posted search's page (POST …/search?f=html): its map draws the search's features too (it asked for the
  // page's own address with f=json, a GET of the search, and drew nothing).
  const search = `${base}/collections/projects/search?f=html`;
  const body = JSON.stringify({ filter: "category='airport'", limit: 300 });
  // Only the page's own request is paused and sent as the POST (CDP Fetch with a pattern): puppeteer's request
  // interception would hold every request, and those MapLibre's worker makes for tiles never came back.
  const cdp = await page.createCDPSession();
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*/collections/projects/search?f=html', requestStage: 'Request' }] });
  cdp.on('Fetch.requestPaused', (e) => {
    const headers = Object.entries({ ...e.request.headers, 'Content-Type': 'application/json' })
      .map(([name, value]) => ({ name, value }));
    cdp.send('Fetch.continueRequest', {
      requestId: e.requestId, method: 'POST', postData: Buffer.from(body).toString('base64'), headers,
    });
  });
  await page.goto(search, { waitUntil: 'load' });
  await page.waitForFunction(ready, { timeout: 90_000 });
  const airports = (await (await fetch(`${base}/collections/projects/items?category=airport&limit=300`)).json())
    .features.map((f) => String(f.id)).sort();
  assert.ok(airports.length > 0, 'the plan has airports');
  assert.deepEqual(await page.evaluate(rows), airports, 'the posted search lists the airports');
  assert.deepEqual(await page.evaluate(drawn), airports, 'and its map draws them');
  await cdp.send('Fetch.disable');
  await cdp.detach();
});
