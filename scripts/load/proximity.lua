-- wrk script: nearest (k=10) or within-distance queries at deterministic pseudo-random points over Liaoning,
-- the same points scripts/bench-postgis asks PostGIS. Settings from the environment:
--   PROXIMITY_COLLECTION (projects), PROXIMITY_QUERY (nearest | within), PROXIMITY_DISTANCE (metres, within)
local collection = os.getenv("PROXIMITY_COLLECTION") or "projects"
local query = os.getenv("PROXIMITY_QUERY") or "nearest"
local distance = os.getenv("PROXIMITY_DISTANCE") or "10000"
-- Each wrk thread draws its own points (a seed per thread): with one seed, every point would be asked once
-- per thread, and the second asking would be an answer-cache hit.
local seed = 12345
local counter = 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
-- LOAD_SEED (default 12345) starts another sequence: a second run with the same seed asks what the first asked.
function init(args)
  seed = (tonumber(os.getenv("LOAD_SEED")) or 12345) + 7919 * (id or 0)
end
local function rnd()
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
end
request = function()
  local lon = 118.85 + 6.93 * rnd()
  local lat = 38.72 + 4.77 * rnd()
  if query == "within" then
    return wrk.format("GET", string.format(
      "/collections/%s/within-distance?lon=%.5f&lat=%.5f&distance=%s&limit=10&properties=name_zh", collection, lon, lat, distance))
  end
  return wrk.format("GET", string.format(
    "/collections/%s/nearest?lon=%.5f&lat=%.5f&k=10&properties=name_zh", collection, lon, lat))
end
