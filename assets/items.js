// The map on an items or item page: the page's own features (its GeoJSON, asked for at this same address with
// f=json) over the plan's city and county borders, coloured by category as on /map. Everything loads from the
// host and path the page came from.
import * as maplibregl from './maplibre-gl/maplibre-gl.mjs';

const cfg = window.PLANATLAS_ITEMS;
const here = new URL(document.location.href);
// The assets sit at {root}/assets/items.js: the service's root is one level up from this script.
const root = new URL('..', import.meta.url).href.replace(/\/$/, '');
const data = new URL(here);
data.searchParams.set('f', 'json');
// The map draws longitude/latitude: the page's own `crs` (metres, or latitude first) is for its table.
data.searchParams.delete('crs');
// The filter form sends its empty fields ("any"); the GeoJSON request leaves them out.
for (const [k, v] of [...data.searchParams]) if (v === '') data.searchParams.delete(k);

const colour = ['match', ['coalesce', ['get', 'category'], '']];
for (const c of cfg.categories) colour.push(c.id, c.colour);
colour.push('#24476b');

const map = new maplibregl.Map({
  container: 'items-map',
  style: {
    version: 8,
    sources: {
      planatlas: { type: 'vector', url: `${root}/tiles.json` },
      items: { type: 'geojson', data: { type: 'FeatureCollection', features: [] } },
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#f3f1ec' } },
      { id: 'counties-border', type: 'line', source: 'planatlas', 'source-layer': 'counties', paint: { 'line-color': '#8c8c8c', 'line-width': 0.5 } },
      { id: 'cities-border', type: 'line', source: 'planatlas', 'source-layer': 'cities', paint: { 'line-color': '#3d3d3d', 'line-width': 1.2 } },
      { id: 'items-fill', type: 'fill', source: 'items', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': colour, 'fill-opacity': 0.3 } },
      { id: 'items-outline', type: 'line', source: 'items', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'line-color': colour, 'line-width': 1.5 } },
      { id: 'items-lines', type: 'line', source: 'items', filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': colour, 'line-width': 3 } },
      { id: 'items-points', type: 'circle', source: 'items', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': colour, 'circle-radius': 5, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } },
    ],
  },
  center: [122.6, 41.2],
  zoom: 5.2,
  // The page's footer carries the boundaries' attribution.
  attributionControl: false,
});
map.addControl(new maplibregl.NavigationControl(), 'top-left');
window.planatlasItemsMap = map;

// The features' bounds, over every coordinate of every geometry.
function bounds(features) {
  let b = null;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      b = b ? [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])] : [c[0], c[1], c[0], c[1]];
    } else c.forEach(visit);
  };
  for (const f of features) if (f.geometry) visit(f.geometry.coordinates);
  return b;
}

// A posted search's page (…/search) cannot be asked for again by GET: its GeoJSON is its alternate link, a
// POST of the same body to the same address, or (when short enough) the items address with those parameters.
// Either is asked for at the host and path this page came from, not the server's idea of its own address.
function fetchFeatures() {
  const alt = cfg.data;
  const headers = { Accept: 'application/geo+json' };
  if (alt && here.pathname.endsWith('/search')) {
    if (alt.method === 'POST') {
      const url = new URL(here);
      url.searchParams.set('f', 'json');
      const body = { ...alt.body };
      delete body.crs;
      delete body.f;
      return fetch(url, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    }
    const url = new URL(here);
    url.pathname = url.pathname.replace(/\/search$/, '/items');
    url.search = new URL(alt.href).search;
    url.searchParams.delete('crs');
    return fetch(url, { headers });
  }
  return fetch(data, { headers });
}

map.on('load', async () => {
  const doc = await fetchFeatures().then((r) => r.json());
  // MapLibre keeps only numeric feature ids: each feature carries its id as a property too.
  const features = (doc.type === 'Feature' ? [doc] : doc.features ?? [])
    .map((f) => ({ ...f, properties: { ...f.properties, planatlas_id: String(f.id) } }));
  map.getSource('items').setData({ type: 'FeatureCollection', features });
  const b = bounds(features);
  if (b) map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 40, maxZoom: 11, duration: 0 });
  map.once('idle', () => { window.planatlasItemsIdle = true; });
});
