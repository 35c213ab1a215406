-- wrk script for benchmarks/http_load.sh: GET recommendations for user ids
-- drawn at random from a snapshot's users.txt (the first script argument),
-- so requests spread over the whole user table instead of one cached row.
local ids = {}
local k = 10

local function encode(s)
  return (s:gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end

function init(args)
  local path = args[1]
  k = tonumber(args[2] or "10")
  local f = assert(io.open(path, "r"), "cannot read " .. tostring(path))
  for line in f:lines() do
    if line ~= "" then
      ids[#ids + 1] = encode(line)
    end
  end
  f:close()
  -- a different sequence per thread
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16))
end

function request()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/v1/users/" .. id .. "/recommendations?k=" .. k)
end

function done(summary, latency, requests)
  io.write(string.format("requests/s: %.0f\n",
                         summary.requests / (summary.duration / 1e6)))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("latency p%s: %.3f ms\n", p,
                           latency:percentile(p) / 1000))
  end
  io.write(string.format("errors: connect %d, read %d, write %d, " ..
                         "status %d, timeout %d\n",
                         summary.errors.connect, summary.errors.read,
                         summary.errors.write, summary.errors.status,
                         summary.errors.timeout))
end
