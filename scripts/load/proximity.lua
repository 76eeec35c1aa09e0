-- wrk script: nearest (k=10) or within-distance queries at deterministic pseudo-random points over Liaoning,
-- the same points scripts/bench-postgis asks PostGIS. Settings from the environment:
--   PROXIMITY_COLLECTION (projects), PROXIMITY_QUERY (nearest | within), PROXIMITY_DISTANCE (metres, within)
local collection = os.getenv("PROXIMITY_COLLECTION") or "projects"
local query = os.getenv("PROXIMITY_QUERY") or "nearest"
local distance = os.getenv("PROXIMITY_DISTANCE") or "10000"
local seed = 12345
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
