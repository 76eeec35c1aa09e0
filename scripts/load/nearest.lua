-- wrk script: nearest-project queries at deterministic pseudo-random points over Liaoning.
local seed = 12345
local function rnd()
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
end
request = function()
  local lon = 118.9 + 6.8 * rnd()
  local lat = 38.8 + 4.6 * rnd()
  return wrk.format("GET", string.format("/collections/projects/nearest?lon=%.5f&lat=%.5f&k=10", lon, lat))
end
