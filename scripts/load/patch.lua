-- PATCHes one project over and over, alternating its English name, with the token in TOKEN.
local n = 0
local token = os.getenv("TOKEN")
local id = os.getenv("PROJECT") or "xudabao-nuclear-power-plant"
request = function()
  n = n + 1
  local body = string.format('{"properties": {"name_en": "Xudabao Nuclear Power Plant (edit %d)"}}', n)
  return wrk.format("PATCH", "/collections/projects/items/" .. id, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/merge-patch+json",
  }, body)
end
