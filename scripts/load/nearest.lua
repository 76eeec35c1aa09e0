-- wrk script: nearest-project queries at deterministic pseudo-random points over Liaoning.
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
  local lon = 118.9 + 6.8 * rnd()
  local lat = 38.8 + 4.6 * rnd()
  return wrk.format("GET", string.format("/collections/projects/nearest?lon=%.5f&lat=%.5f&k=10", lon, lat))
end
