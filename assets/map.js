// The built-in map: planatlas's own tiles and style, region/border/category toggles, project popups, search,
// and "what is here" on click (county, city, regions, nearest projects).
import * as maplibregl from './maplibre-gl/maplibre-gl.mjs';

const cfg = window.PLANATLAS;
// The service's root, from this page's own address (the page is {root}/map), so every request stays on
// the host and path the page came from.
const base = new URL('.', document.baseURI).href.replace(/\/$/, '');
const crsQuery = cfg.crs ? `crs=${encodeURIComponent(cfg.crs)}` : '';
const coordCrs = cfg.crs ? `&coord-crs=${encodeURIComponent(cfg.crs)}` : '';

const map = new maplibregl.Map({
  container: 'map',
  style: `${base}/styles/default.json${crsQuery ? '?' + crsQuery : ''}`,
  center: [122.6, 41.2],
  zoom: 6,
  attributionControl: { compact: false },
});
map.addControl(new maplibregl.NavigationControl(), 'top-left');
// Top left, under the zoom buttons: the full-width attribution (with the licence caveat) covers the bottom.
map.addControl(new maplibregl.ScaleControl(), 'top-left');
window.planatlasMap = map;
map.on('idle', () => { window.planatlasIdle = true; });

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const row = (k, v) => (v ? `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>` : '');

// Regions: one toggle each, filtering the fill and outline layers.
const shownRegions = new Set(cfg.regions.map((r) => r.id));
const regionBox = document.getElementById('regions');
for (const r of cfg.regions) {
  const label = document.createElement('label');
  label.innerHTML = `<input type="checkbox" checked data-region="${esc(r.id)}"><span class="swatch" style="background:${r.colour}"></span>${esc(r.name)}`;
  regionBox.appendChild(label);
}
const applyRegions = () => {
  const filter = ['in', ['get', 'id'], ['literal', [...shownRegions]]];
  map.setFilter('regions-fill', filter);
  map.setFilter('regions-outline', filter);
};
regionBox.addEventListener('change', (e) => {
  const id = e.target.dataset.region;
  if (e.target.checked) shownRegions.add(id); else shownRegions.delete(id);
  applyRegions();
});

// Borders.
document.querySelectorAll('input[data-layer]').forEach((box) => box.addEventListener('change', () => {
  map.setLayoutProperty(box.dataset.layer, 'visibility', box.checked ? 'visible' : 'none');
}));

// Project categories, named in Chinese with the id beside.
const categoryName = (id) => {
  const c = cfg.categories.find((x) => x.id === id);
  return c ? `${c.name} ${c.id}` : (id ?? '');
};
const shownCategories = new Set(cfg.categories.map((c) => c.id));
const catBox = document.getElementById('categories');
for (const c of cfg.categories) {
  const label = document.createElement('label');
  label.innerHTML = `<input type="checkbox" checked data-category="${esc(c.id)}"><span class="swatch" style="background:${c.colour}"></span>${esc(c.name)} ${esc(c.id)}`;
  catBox.appendChild(label);
}
// City-wide items (known only to be in a city) are not drawn as markers stacked on the city seat: each city
// gets one badge at its seat that opens the list.
const notCityWide = ['!=', ['get', 'location_precision'], 'city'];
const applyCategories = () => {
  const inCats = ['in', ['get', 'category'], ['literal', [...shownCategories]]];
  map.setFilter('projects-points', ['all', ['==', ['geometry-type'], 'Point'], inCats, notCityWide]);
  map.setFilter('projects-lines', ['all', ['==', ['geometry-type'], 'LineString'], inCats]);
  map.setFilter('projects-label', ['all', inCats, notCityWide]);
  for (const b of cityBadges) b.update();
};
const cityBadges = [];
async function addCityBadges() {
  const doc = await fetch(`${base}/collections/projects/items?location_precision=city&limit=1000&properties=name_zh,category,city_names${crsQuery ? '&' + crsQuery : ''}`).then((r) => r.json());
  const byCity = new Map();
  for (const f of doc.features || []) {
    const key = f.geometry.coordinates.join(',');
    if (!byCity.has(key)) byCity.set(key, { at: f.geometry.coordinates, city: (f.properties.city_names || [])[0] ?? '', items: [] });
    byCity.get(key).items.push(f);
  }
  for (const { at, city, items } of byCity.values()) {
    const el = document.createElement('button');
    el.className = 'city-badge';
    el.dataset.city = city;
    const popup = new maplibregl.Popup({ maxWidth: '24rem', offset: 14 });
    const badge = {
      update() {
        const shown = items.filter((f) => shownCategories.has(f.properties.category));
        el.textContent = `${city.replace(/市$/, '')} ${shown.length}`;
        el.title = `${city}：${shown.length} 项全市性项目 city-wide items (county not known)`;
        el.style.display = shown.length ? '' : 'none';
        popup.setHTML(`<div class="city-list"><h3>${esc(city)} · 全市性项目 city-wide items</h3><p>位置只知到市，标在市政府驻地 placed at the city seat; county not known</p><ol>${
          shown.map((f) => `<li><a href="${base}/collections/projects/items/${encodeURIComponent(f.id)}?f=html">${esc(f.properties.name_zh)}</a> · ${esc(categoryName(f.properties.category))}</li>`).join('')}</ol></div>`);
      },
    };
    badge.update();
    el.addEventListener('click', (e) => {
      e.stopPropagation();
      lastPopup?.remove();
      popup.setLngLat(at).addTo(map);
      lastPopup = popup;
    });
    new maplibregl.Marker({ element: el }).setLngLat(at).addTo(map);
    cityBadges.push(badge);
  }
  window.planatlasCityBadges = cityBadges.length;
}
catBox.addEventListener('change', (e) => {
  const id = e.target.dataset.category;
  if (e.target.checked) shownCategories.add(id); else shownCategories.delete(id);
  applyCategories();
});

function projectPopup(p, lngLat) {
  const html = `<div class="project-popup"><h3>${esc(p.name_zh)}</h3><div>${esc(p.name_en)}</div><table>
    ${row('类别 category', categoryName(p.category))}${row('章节 sections', p.sections)}${row('牵头 lead unit', p.lead_unit)}
    ${row('配合 co-units', p.co_units)}${row('精度 precision', p.location_precision)}${row('位置依据 source', p.location_source)}
    ${row('进度 stage', p.stage ? `${p.stage} ${p.stage_en || ''} ${p.progress_period || ''}` : '')}${row('目标 targets', p.targets)}${row('区县 counties', p.county_names)}</table></div>`;
  return new maplibregl.Popup({ maxWidth: '24rem' }).setLngLat(lngLat).setHTML(html).addTo(map);
}

let lastPopup = null;
map.on('click', async (e) => {
  const projects = map.queryRenderedFeatures(e.point, { layers: ['projects-points', 'projects-lines'] });
  lastPopup?.remove();
  if (projects.length) {
    lastPopup = projectPopup(projects[0].properties, e.lngLat);
    return;
  }
  const { lng, lat } = e.lngLat;
  const [where, near] = await Promise.all([
    fetch(`${base}/locate?lon=${lng}&lat=${lat}${coordCrs}`).then((r) => r.json()),
    fetch(`${base}/collections/projects/nearest?lon=${lng}&lat=${lat}&k=5${coordCrs}&properties=name_zh,category`).then((r) => r.json()),
  ]);
  const regions = (where.regions || []).map((r) => `${r.name_zh} (${r.basis})`).join('、');
  const nearest = (near.features || [])
    .map((f) => `<li>${esc(f.properties.name_zh)} · ${(f.properties.distance_m / 1000).toFixed(1)} km</li>`).join('');
  const html = `<div class="locate-popup"><h3>${where.inLiaoning ? esc(where.county.name_zh) + ' · ' + esc(where.city.name_zh) : '辽宁省外 outside Liaoning'}</h3>
    <table>${row('区域 regions', regions)}</table><div>最近的项目 nearest projects</div><ol>${nearest}</ol></div>`;
  lastPopup = new maplibregl.Popup({ maxWidth: '24rem' }).setLngLat(e.lngLat).setHTML(html).addTo(map);
});
for (const layer of ['projects-points', 'projects-lines']) {
  map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
}

// Search by name.
const search = document.getElementById('search');
const results = document.getElementById('results');
let timer = null;
search.addEventListener('input', () => {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    const q = search.value.trim();
    results.innerHTML = '';
    if (!q) return;
    const doc = await fetch(`${base}/collections/projects/items?q=${encodeURIComponent(q)}&limit=20${crsQuery ? '&' + crsQuery : ''}`).then((r) => r.json());
    for (const f of doc.features || []) {
      const li = document.createElement('li');
      li.textContent = `${f.properties.name_zh} · ${categoryName(f.properties.category)}`;
      li.addEventListener('click', () => {
        const c = f.geometry.type === 'Point' ? f.geometry.coordinates : f.geometry.coordinates[Math.floor(f.geometry.coordinates.length / 2)];
        map.flyTo({ center: c, zoom: Math.max(map.getZoom(), 9) });
        lastPopup?.remove();
        lastPopup = projectPopup({ ...f.properties, sections: (f.properties.sections || []).join('; '), co_units: (f.properties.co_units || []).join('、'),
          county_names: (f.properties.county_names || []).join('、'),
          targets: (f.properties.targets || []).map((t) => `${t.indicator_zh} ${t.comparator} ${t.value} ${t.unit}`).join('; ') }, c);
      });
      results.appendChild(li);
    }
  }, 200);
});

// Progress: colour projects by stage at a quarter chosen with the slider. The tiles carry today's stage; the
// slider replays every report (GET /collections/progress/items) and sets each project's stage for the quarter
// chosen as feature state (the style promotes project ids to feature ids).
const stageColour = ['match', ['coalesce', ['feature-state', 'stage'], ['get', 'stage']]];
for (const s of cfg.stages) stageColour.push(s.id, s.colour);
stageColour.push('#bdbdbd');
const stageBox = document.getElementById('stages');
for (const s of cfg.stages) {
  const span = document.createElement('div');
  span.innerHTML = `<span class="swatch" style="background:${s.colour}"></span>${esc(s.id)} ${esc(s.en)}`;
  stageBox.appendChild(span);
}
const slider = document.getElementById('period');
const periodLabel = document.getElementById('period-label');
slider.max = String(cfg.quarters.length - 1);
slider.value = slider.max;
periodLabel.textContent = cfg.quarters[cfg.quarters.length - 1] || '';
let reports = null;
const loadReports = async () => {
  if (reports) return reports;
  reports = [];
  let url = `${base}/collections/progress/items?limit=10000`;
  while (url) {
    const doc = await fetch(url).then((r) => r.json());
    reports.push(...(doc.features || []).map((f) => f.properties));
    url = (doc.links || []).find((l) => l.rel === 'next')?.href;
  }
  return reports;
};
const projectIds = new Set();
const applyPeriod = async () => {
  const quarter = cfg.quarters[Number(slider.value)];
  periodLabel.textContent = quarter;
  const all = await loadReports();
  // Periods compare as text within a year ("2024Q2" < "2024Q3") and across years.
  const latest = new Map();
  for (const r of all) {
    if (r.period > quarter) continue;
    const seen = latest.get(r.project);
    if (!seen || seen.period < r.period) latest.set(r.project, r);
  }
  for (const r of all) projectIds.add(r.project);
  for (const id of projectIds) {
    // 新开工 is the quarter work starts: a 新开工 of an earlier quarter is 在建 now, as the dispatch and the
    // projects' own stage count it.
    const r = latest.get(id);
    const stage = !r ? '未报告' : r.stage === '新开工' && r.period < quarter ? '在建' : r.stage;
    map.setFeatureState({ source: 'planatlas', sourceLayer: 'projects', id }, { stage });
  }
  window.planatlasPeriod = quarter;
};
const colourBy = () => document.querySelector('input[name="colour-by"]:checked').value;
const applyColours = () => {
  if (colourBy() === 'stage') {
    map.setPaintProperty('projects-points', 'circle-color', stageColour);
    map.setPaintProperty('projects-lines', 'line-color', stageColour);
  } else {
    const cat = ['match', ['get', 'category']];
    for (const c of cfg.categories) cat.push(c.id, c.colour);
    cat.push('#333333');
    map.setPaintProperty('projects-points', 'circle-color', cat);
    map.setPaintProperty('projects-lines', 'line-color', cat);
  }
};
document.querySelectorAll('input[name="colour-by"]').forEach((r) => r.addEventListener('change', applyColours));
slider.addEventListener('input', applyPeriod);
map.on('load', () => { applyPeriod(); applyCategories(); addCityBadges(); });
