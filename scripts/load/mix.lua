-- wrk script: the mix a public map service sees, over a fixed set of requests (so a warm-up pass over the same
-- set fills the tile cache and later growth would be a leak, not a cache):
--   30% items (paged, bbox, filters), 25% nearest, 20% locate, 25% vector tiles (z5 to z10 over Liaoning).
-- wrk counts answers that are not 2xx/3xx; the server's /metrics breaks them down by route and status.
local N = 4000
local regions = { "shenyang-circle", "coastal-belt", "liaoxi-zone", "liaodong-zone" }
local categories = { "airport", "railway", "energy", "port", "science", "heritage", "industrial_park" }
local collections = { "cities", "counties", "projects", "regions" }

-- Park-Miller's generator: its products stay below 2^53, so Lua's doubles hold them exactly. (The usual
-- 1103515245 multiplier overflows them, and its sequences fall into short cycles that repeat requests.)
local function lcg(seed)
  return function()
    seed = (seed * 16807) % 2147483647
    return seed / 2147483647
  end
end

local function tile(z, lon, lat)
  local n = 2 ^ z
  local x = math.floor((lon + 180) / 360 * n)
  local r = math.rad(lat)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
  return x, y
end

local function build(seed)
  local rnd = lcg(seed)
  local list = {}
  for i = 1, N do
    local lon = 118.9 + 6.8 * rnd()
    local lat = 38.8 + 4.6 * rnd()
    local p = rnd()
    local path
    if p < 0.30 then
      local q = rnd()
      if q < 0.25 then
        path = string.format("/collections/projects/items?limit=20&bbox=%.3f,%.3f,%.3f,%.3f", lon - 0.5, lat - 0.4, lon + 0.5, lat + 0.4)
      elseif q < 0.5 then
        path = string.format("/collections/%s/items?limit=10&offset=%d", collections[1 + math.floor(rnd() * #collections)], math.floor(rnd() * 10))
      elseif q < 0.75 then
        path = "/collections/projects/items?region_ids=" .. regions[1 + math.floor(rnd() * #regions)] .. "&limit=50"
      else
        path = "/collections/projects/items?filter=category%3D%27" .. categories[1 + math.floor(rnd() * #categories)] .. "%27&limit=50"
      end
    elseif p < 0.55 then
      path = string.format("/collections/projects/nearest?lon=%.5f&lat=%.5f&k=10", lon, lat)
    elseif p < 0.75 then
      path = string.format("/locate?lon=%.5f&lat=%.5f", lon, lat)
    else
      local z = 5 + math.floor(rnd() * 6)
      local x, y = tile(z, lon, lat)
      local layer = rnd()
      if layer < 0.5 then
        path = string.format("/tiles/%d/%d/%d.mvt", z, x, y)
      else
        path = string.format("/collections/%s/tiles/WebMercatorQuad/%d/%d/%d", collections[1 + math.floor(rnd() * #collections)], z, y, x)
      end
    end
    list[i] = wrk.format("GET", path, { ["Accept-Encoding"] = "gzip" })
  end
  return list
end

local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  list = build(12345 + id)
  i = 0
end

function request()
  i = i % N + 1
  return list[i]
end
