-- wrk script: nearest (k=10) or within-distance queries at deterministic pseudo-random points, the same kind of
-- points scripts/bench-postgis asks PostGIS. Settings from the environment:
--   PROXIMITY_COLLECTION  collection (projects)
--   PROXIMITY_QUERY       nearest | within (nearest)
--   PROXIMITY_DISTANCE    metres, for within (10000)
--   PROXIMITY_AREA        where the query points are drawn:
--                           box       Liaoning's bounding box (default)
--                           inland    121-124.5E, 40.5-42.5N, among the data
--                           offshore  121.5-124E, 36.5-38.3N: the Yellow Sea and Bohai, 50-300 km from the coast
--                           outside   105-112E, 28-34N: central China, 1 000-2 000 km away
--                           fixed     one point (122.2, 41.1), asked again and again: once it is in the answer
--                                     cache, the server's rate for fixed bytes of a nearest answer's size
--   PROXIMITY_PROPERTIES  the properties parameter ("name_zh"; "all" asks for every property)
--   LOAD_SEED             another sequence of points (12345)
local collection = os.getenv("PROXIMITY_COLLECTION") or "projects"
local query = os.getenv("PROXIMITY_QUERY") or "nearest"
local distance = os.getenv("PROXIMITY_DISTANCE") or "10000"
local area = os.getenv("PROXIMITY_AREA") or "box"
local properties = os.getenv("PROXIMITY_PROPERTIES") or "name_zh"
local boxes = {
  box = { 118.85, 125.78, 38.72, 43.49 },
  inland = { 121.0, 124.5, 40.5, 42.5 },
  offshore = { 121.5, 124.0, 36.5, 38.3 },
  outside = { 105.0, 112.0, 28.0, 34.0 },
  fixed = { 122.2, 122.2, 41.1, 41.1 },
}
local b = boxes[area] or error("PROXIMITY_AREA: unknown area " .. area)
local props = ""
if properties ~= "all" then
  props = "&properties=" .. properties
end
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
-- Park-Miller's generator: its products stay below 2^53, so Lua's doubles hold them exactly. (The usual
-- 1103515245 multiplier overflows them, and its sequences fall into short cycles that repeat points.)
local function rnd()
  seed = (seed * 16807) % 2147483647
  return seed / 2147483647
end
request = function()
  local lon = b[1] + (b[2] - b[1]) * rnd()
  local lat = b[3] + (b[4] - b[3]) * rnd()
  if query == "within" then
    return wrk.format("GET", string.format(
      "/collections/%s/within-distance?lon=%.5f&lat=%.5f&distance=%s&limit=10%s", collection, lon, lat, distance, props))
  end
  return wrk.format("GET", string.format(
    "/collections/%s/nearest?lon=%.5f&lat=%.5f&k=10%s", collection, lon, lat, props))
end
