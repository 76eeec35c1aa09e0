// What the browser tests share: Debian's Chromium through puppeteer-core, and a page watcher that records every
// request leaving the planatlas server (nothing may come from a CDN) and every page error or failed request.
import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';

export const launch = () => puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--use-angle=swiftshader',
    '--enable-unsafe-swiftshader',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});

export function watch(page, base) {
  const foreign = [];
  const errors = [];
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  return { foreign, errors };
}

// Runs `body(page)` on a fresh page of the given size, then checks that nothing came from elsewhere and nothing
// failed; closes the browser and exits 1 on any failure.
export async function inBrowser(name, base, viewport, body) {
  const browser = await launch();
  let failure = null;
  try {
    const page = await browser.newPage();
    await page.setViewport(viewport);
    const { foreign, errors } = watch(page, base);
    await body(page);
    assert.deepEqual(foreign, [], 'every request goes to planatlas (no CDN)');
    assert.deepEqual(errors, [], 'no page errors, no failed requests');
  } catch (e) {
    failure = e;
  } finally {
    await browser.close();
  }
  if (failure) {
    console.error(failure);
    process.exit(1);
  }
  console.log(`${name} browser test passed`);
}
